// The state store: one directory per container under the runtime root,
//   <root>/<id>/state.json   the record (written atomically: temp file, fsync, rename, fsync dir)
//   <root>/<id>/lock         flock'd: exclusive by commands that change the container, shared by readers
//   <root>/<id>/exec.fifo    present between create and start (see lifecycle)
//   <root>/<id>/starting     made by `start` before it releases the init (see status.ts)
//   <root>/<id>/incomplete   present while a create writes the first record or a delete removes it
//   <root>/<id>@deleted.PID.MS  a deleted container's directory, renamed there before its removal
// mkdir(<root>/<id>) is the single atomic step that decides which of concurrent creates wins.
// A create holds an exclusive flock on the root directory itself from that mkdir until its
// first record is in place. A directory without state.json, marked incomplete (or without
// even its lock file), whose lock nobody holds, is therefore what a create or delete killed
// half-way left: reserve and delete remove such debris.
// Whatever is read from the store is trusted (state.json holds the hooks `delete` runs), so
// the root, each container directory and each state.json must be the caller's (its euid),
// writable by nobody else, and not a symlink: checked on an fd opened O_NOFOLLOW, before
// anything in them is read or removed (see openOwned).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, notFound, systemError } from '../errors';
import { faultPoint, type FaultPoint } from '../util/faults';
import { native } from '../native/addon';
import { describeJsonError } from '../spec/json-input';
import { sleepMs } from '../util/sleep';
import type { Spec } from '../spec/types';
import { checkContainerId } from './id';
import { defaultRoot } from '../util/rootless';

export const STATE_FILE = 'state.json';
export const LOCK_FILE = 'lock';
export const EXEC_FIFO = 'exec.fifo';
export const STARTING = 'starting';
const INCOMPLETE = 'incomplete';
const TOMBSTONE_MARK = '@deleted.';
const TOMBSTONE_NAME = /^[\w+,.-]+@deleted\.\d+\.\d+$/;
const ROOT_LOCK_WAIT_MS = 30_000;

/** What tsrunc keeps about a container between commands. */
export interface ContainerRecord {
  formatVersion: 1;
  id: string;
  bundle: string;
  rootfs: string;
  /** RFC 3339 creation time. */
  created: string;
  annotations?: Record<string, string>;
  /** Host pid of the container's init, 0 until it exists. */
  initPid: number;
  /** The init's start time (field 22 of /proc/PID/stat), to detect pid reuse. */
  initStartTime: number;
  /** Set once `start` has released the init. */
  started: boolean;
  /**
   * The cgroup driver that made the container's cgroups. Records written before there were
   * drivers have none, and cgroupPaths instead of cgroups: cgroupfs's.
   */
  cgroupDriver?: 'cgroupfs' | 'systemd';
  /**
   * The container's cgroups in a form that is the same for every driver: the cgroup in each
   * hierarchy as /proc/PID/cgroup shows it — the hierarchy ("" for cgroup v2, else its v1
   * controllers: "cpu,cpuacct", "name=systemd") and the path inside it ("/default/web").
   */
  cgroups?: Record<string, string>;
  /** Records written before cgroupDriver: the cgroup directories, keyed by their hierarchy's mount point's basename (read, not written). */
  cgroupPaths?: Record<string, string>;
  /** Namespace paths of the init (/proc/PID/ns/TYPE) as recorded at create. */
  namespacePaths: Record<string, string>;
  /** The validated config, needed by kill, exec, delete (poststop hooks). */
  config: Spec;
}

export type LockMode = 'shared' | 'exclusive';

export class ContainerHandle {
  private lockFd: number | undefined;

  constructor(
    readonly store: StateStore,
    readonly id: string,
    lockFd: number,
  ) {
    this.lockFd = lockFd;
  }

  get dir(): string {
    return this.store.containerDir(this.id);
  }

  get fifoPath(): string {
    return path.join(this.dir, EXEC_FIFO);
  }

  read(): ContainerRecord {
    const file = path.join(this.dir, STATE_FILE);
    let text: string;
    try {
      // Non-blocking: a fifo put there must not hang the command (it is refused: not a file).
      const fd = openOwned(file, 'container state file', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK, this.id);
      try {
        text = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(this.id);
      if (err instanceof TsruncError) throw err;
      throw systemError('reading container state', err, this.id);
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch {
      // Where and what, never the text (JSON.parse's message quotes it).
      throw new TsruncError(
        'system',
        `container state file ${file} is corrupt: ${describeJsonError(text) ?? 'invalid JSON'}`,
        { containerId: this.id },
      );
    }
  }

  exists(): boolean {
    return fs.existsSync(path.join(this.dir, STATE_FILE));
  }

  /** `point`: the fault point between the temp file and the rename (tests only). */
  write(record: ContainerRecord, point?: FaultPoint): void {
    const file = path.join(this.dir, STATE_FILE);
    try {
      writeFileAtomic(file, JSON.stringify(record), 0o600, point);
    } catch (err) {
      throw systemError(`writing container state ${file}`, err, this.id);
    }
  }

  /**
   * Removes the container's directory; the lock is released with it. The record goes first,
   * after the incomplete mark: a remover killed half-way leaves debris, never a container.
   */
  remove(points?: { stateRemoved: FaultPoint; renamed: FaultPoint }): void {
    try {
      try {
        fs.writeFileSync(path.join(this.dir, INCOMPLETE), '');
      } catch {
        // no inode left for the mark: removing is all the more needed
      }
      fs.rmSync(path.join(this.dir, STATE_FILE), { force: true });
      if (points !== undefined) faultPoint(points.stateRemoved);
      // Renamed out of the id's place first: a create may take the id as soon as the directory
      // is gone, and a recursive removal at the id's path could then remove part of the new one.
      const tomb = this.store.tombstonePath(this.id);
      let gone = this.dir;
      try {
        fs.renameSync(this.dir, tomb);
        gone = tomb;
      } catch {
        // (a read-only root, say): removed in place, as before
      }
      if (points !== undefined) faultPoint(points.renamed);
      fs.rmSync(gone, { recursive: true, force: true });
    } catch (err) {
      throw systemError(`removing container state ${this.dir}`, err, this.id);
    } finally {
      this.release();
    }
  }

  /** Holding the exclusive lock, no writer is at work: its temp files are a killed writer's. */
  removeStaleTemps(): void {
    removeTempSiblings(path.join(this.dir, STATE_FILE), () => true);
  }

  release(): void {
    if (this.lockFd !== undefined) {
      fs.closeSync(this.lockFd);
      this.lockFd = undefined;
    }
  }
}

export interface StateStoreOptions {
  /** How long a create waits for another create of the same root to get its record written. */
  rootLockWaitMs?: number;
}

export class StateStore {
  readonly root: string;
  private readonly rootLockWaitMs: number;

  constructor(root: string = defaultRoot(), opts: StateStoreOptions = {}) {
    this.root = path.resolve(root);
    this.rootLockWaitMs = opts.rootLockWaitMs ?? ROOT_LOCK_WAIT_MS;
  }

  containerDir(id: string): string {
    return path.join(this.root, id);
  }

  /** Where a delete moves `id`'s directory before removing it: "@" is in no container id. */
  tombstonePath(id: string): string {
    return path.join(this.root, `${id}${TOMBSTONE_MARK}${process.pid}.${Date.now()}`);
  }

  /** Removes what deletes killed between their rename and their removal left (no holder of their lock). */
  private removeStaleTombstones(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return;
    }
    for (const name of names) {
      if (!TOMBSTONE_NAME.test(name)) continue;
      const dir = path.join(this.root, name);
      // Held: its delete is still at work.
      const lock = lockIfFree(path.join(dir, LOCK_FILE));
      if (lock === 'held') continue;
      const fd = lock === 'absent' ? undefined : lock;
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // left for the next sweep
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    }
  }

  /**
   * Reserves `id` for a new container: exactly one of any number of concurrent callers
   * succeeds, the others get "container with given ID already exists". Returns the handle locked
   * exclusively, with `initial` (when given) already written as its record.
   */
  reserve(id: string, initial?: ContainerRecord): ContainerHandle {
    checkContainerId(id);
    try {
      makeDirs(this.root, 0o700);
    } catch (err) {
      throw systemError(`creating state root ${this.root}`, err, id);
    }
    this.checkRoot(id);
    const rootLock = this.lockRoot(id);
    try {
      this.removeStaleTombstones();
      const dir = this.containerDir(id);
      if (!makeDir(dir, id) && !(this.removeIfDebris(id) && makeDir(dir, id))) {
        throw new TsruncError('exists', 'container with given ID already exists', { containerId: id });
      }
      let handle: ContainerHandle | undefined;
      const mark = path.join(dir, INCOMPLETE);
      try {
        if (initial !== undefined) step(`writing ${mark}`, id, () => fs.writeFileSync(mark, ''));
        handle = new ContainerHandle(
          this,
          id,
          step('locking container state', id, () => openLock(dir, 'exclusive', true)),
        );
        faultPoint('create:state-dir');
        if (initial !== undefined) {
          handle.write(initial, 'create:state-tmp');
          step(`removing ${mark}`, id, () => fs.rmSync(mark));
        }
        return handle;
      } catch (err) {
        try {
          fs.rmSync(dir, { recursive: true, force: true });
        } catch {
          // debris for the next create (see the top of this file); the first error is the one to tell
        }
        handle?.release();
        throw err;
      }
    } finally {
      fs.closeSync(rootLock);
    }
  }

  /**
   * Removes what a create or delete killed half-way left of `id` (a directory without a
   * record that nobody holds). True when there was such debris.
   */
  removeDebris(id: string): boolean {
    checkContainerId(id);
    if (!this.checkRoot(id)) return false;
    // (each tombstone's own lock protects a delete still at work: no root lock needed)
    this.removeStaleTombstones();
    if (!fs.existsSync(this.containerDir(id))) return false;
    let rootLock: number;
    try {
      rootLock = this.lockRoot(id);
    } catch {
      return false;
    }
    try {
      return this.removeIfDebris(id);
    } finally {
      fs.closeSync(rootLock);
    }
  }

  /**
   * Refuses a root that is not the caller's, that others may write, or that is a symlink (see
   * the top of this file). False when there is no root at all (nothing to read in it).
   */
  private checkRoot(id?: string): boolean {
    try {
      fs.closeSync(openOwned(this.root, 'state root', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY, id));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      if (err instanceof TsruncError) throw err;
      throw systemError(`opening state root ${this.root}`, err, id);
    }
  }

  /** The root directory, flocked exclusively: held by a create until its first record exists. */
  private lockRoot(id: string): number {
    let fd: number;
    try {
      fd = fs.openSync(this.root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
    } catch (err) {
      throw systemError(`opening state root ${this.root}`, err, id);
    }
    // Bounded: anyone who can read the root can flock it, and a create must not wait for ever.
    const deadline = Date.now() + this.rootLockWaitMs;
    for (;;) {
      try {
        native().flock(fd, true, false);
        return fd;
      } catch (err) {
        if (isErrno(err, 'EAGAIN') && Date.now() < deadline) {
          sleepMs(5);
          continue;
        }
        fs.closeSync(fd);
        if (isErrno(err, 'EAGAIN'))
          throw new TsruncError(
            'system',
            `state root ${this.root} stayed locked by another process for ${this.rootLockWaitMs / 1000} s`,
            { containerId: id },
          );
        throw systemError(`locking state root ${this.root}`, err, id);
      }
    }
  }

  /** With the root locked: removes `id`'s directory when it is debris (see the top of this file). */
  private removeIfDebris(id: string): boolean {
    const dir = this.containerDir(id);
    if (fs.existsSync(path.join(dir, STATE_FILE))) return false;
    // A reserve() without a record, released, keeps its id: it has a lock file and no mark.
    if (fs.existsSync(path.join(dir, LOCK_FILE)) && !fs.existsSync(path.join(dir, INCOMPLETE))) return false;
    // A holder (a delete finishing, or a reserve without a record) means it is not debris.
    const lock = lockIfFree(path.join(dir, LOCK_FILE));
    if (lock === 'held') return false;
    const fd = lock === 'absent' ? undefined : lock;
    try {
      if (fs.existsSync(path.join(dir, STATE_FILE))) return false;
      step(`removing what a killed command left in ${dir}`, id, () => fs.rmSync(dir, { recursive: true, force: true }));
      return true;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /** Opens an existing container, waiting for the lock. Throws "container does not exist". */
  open(id: string, mode: LockMode): ContainerHandle {
    checkContainerId(id);
    if (!this.checkRoot(id)) throw notFound(id);
    const dir = this.containerDir(id);
    for (let attempt = 0; ; attempt++) {
      let fd: number;
      try {
        fs.closeSync(openOwned(dir, 'container state directory', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY, id));
        fd = openLock(dir, mode, false);
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) throw notFound(id);
        if (err instanceof TsruncError) throw err;
        throw systemError('locking container state', err, id);
      }
      const handle = new ContainerHandle(this, id, fd);
      // A delete we waited behind may have moved the directory away, and a create may have
      // made the id again since: the lock we hold must be the one at the id's path now.
      if (!sameFile(fd, path.join(dir, LOCK_FILE))) {
        handle.release();
        if (attempt < 3) continue;
        throw notFound(id);
      }
      if (!handle.exists()) {
        handle.release();
        throw notFound(id);
      }
      if (mode === 'exclusive') handle.removeStaleTemps();
      return handle;
    }
  }

  /** Container ids present in the root, sorted. */
  ids(): string[] {
    if (!this.checkRoot()) return [];
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw systemError(`reading state root ${this.root}`, err);
    }
    return names.filter((n) => !TOMBSTONE_NAME.test(n) && fs.existsSync(path.join(this.root, n, STATE_FILE))).sort();
  }
}

/**
 * An exclusive flock on a lock file nobody holds: its fd; 'absent' when there is no such file;
 * 'held' when someone holds it (or it cannot be opened or locked). Never waits: opened
 * non-blocking (a fifo put there would block an open), and not through a symlink.
 */
function lockIfFree(file: string): number | 'absent' | 'held' {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
    native().flock(fd, true, false);
    return fd;
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    return isErrno(err, 'ENOENT') ? 'absent' : 'held';
  }
}

/** Whether `fd` is the file at `file` now (not one renamed or removed since it was opened). */
function sameFile(fd: number, file: string): boolean {
  try {
    const held = fs.fstatSync(fd);
    const now = fs.statSync(file);
    return held.ino === now.ino && held.dev === now.dev;
  } catch {
    return false;
  }
}

/** mkdir -p with the errno of the level that failed (Node's recursive mkdir says ENOENT for EROFS). */
function makeDirs(dir: string, mode: number): void {
  try {
    fs.mkdirSync(dir, { mode });
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return;
    if (!isErrno(err, 'ENOENT') || path.dirname(dir) === dir) throw err;
    makeDirs(path.dirname(dir), mode);
    makeDirs(dir, mode);
  }
}

/**
 * Only reserve creates the lock file: a reader that made one in a directory a killed create
 * left empty would make that debris look like a live reservation.
 */
function openLock(dir: string, mode: LockMode, create: boolean): number {
  const file = path.join(dir, LOCK_FILE);
  let fd: number;
  try {
    // Never truncated, nor followed if a symlink; Node opens with O_CLOEXEC.
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW | (create ? fs.constants.O_CREAT : 0), 0o600);
  } catch (err) {
    // flock needs no write access: a root that turned read-only can still be read.
    if (!isErrno(err, 'EROFS') && !isErrno(err, 'EACCES')) throw err;
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  }
  try {
    native().flock(fd, mode === 'exclusive', true);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Opens `file` with `flags` and O_NOFOLLOW and checks the fd (not the path, which could change
 * in between): owned by this process's euid, not writable by group or others, a directory when
 * O_DIRECTORY is asked, else a regular file. `what` names it in the errors (exit 1). Other
 * errors (ENOENT, ENOTDIR) are thrown as they are, for the caller to tell "not there" from
 * "refused".
 */
function openOwned(file: string, what: string, flags: number, containerId?: string): number {
  const c = fs.constants;
  const wantDir = (flags & c.O_DIRECTORY) !== 0;
  const refuse = (why: string): TsruncError => new TsruncError('system', `${what} ${file} ${why}`, { containerId });
  let fd: number;
  try {
    fd = fs.openSync(file, flags | c.O_NOFOLLOW);
  } catch (err) {
    // (O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR: lstat tells which it was)
    if (isErrno(err, 'ELOOP') || (isErrno(err, 'ENOTDIR') && isSymlink(file)))
      throw refuse(`is a symlink; a ${wantDir ? 'directory' : 'file'} is expected there`);
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    if (wantDir ? !st.isDirectory() : !st.isFile()) throw refuse(`is not a ${wantDir ? 'directory' : 'regular file'}`);
    if (st.uid !== euid) throw refuse(`is owned by uid ${st.uid}, not by the caller (uid ${euid})`);
    const writable = [(st.mode & 0o020) !== 0 ? 'group' : '', (st.mode & 0o002) !== 0 ? 'others' : ''].filter(Boolean);
    if (writable.length > 0)
      throw refuse(
        `is writable by ${writable.join(' and ')} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`,
      );
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** `fn()`, its errors described as `what` failing. */
function step<T>(what: string, id: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw systemError(what, err, id);
  }
}

function makeDir(dir: string, id: string): boolean {
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw systemError(`creating state directory ${dir}`, err, id);
  }
}

/**
 * Write-then-rename so that a reader sees the old content or the new, never a part. The temp
 * file (see createTempSibling) is removed on failure; ones left by writers that were killed
 * are removed by the next writer of the same file.
 */
export function writeFileAtomic(file: string, content: string, mode = 0o600, point?: FaultPoint): void {
  const { fd, tmp } = createTempSibling(file, mode);
  try {
    try {
      fs.writeSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (point !== undefined) faultPoint(point);
    // rename(2) replaces whatever is at `file` (a symlink too) and never follows it.
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // left for the next writer of the file (removeTempSiblings); the first error is the one to tell
    }
    throw err;
  }
  removeTempSiblings(file, (pid) => !processExists(pid));
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/** How many unpredictable names createTempSibling tries before it gives up. */
const TEMP_ATTEMPTS = 16;

/** A random decimal part of a temp name: 48 bits nobody else can predict. */
function randomSuffix(): string {
  return String(randomBytes(6).readUIntBE(0, 6));
}

/**
 * A new, empty file next to `file`, named FILE.PID.RANDOM.tmp, created as runc creates its
 * pid file's temp: O_CREAT|O_EXCL|O_NOFOLLOW, so that nothing already at the name (a symlink
 * planted by whoever else can write the directory) is followed, truncated or reused. A name
 * that exists is skipped for another random one, a bounded number of times. `suffix` is for
 * tests.
 */
export function createTempSibling(
  file: string,
  mode: number,
  suffix: () => string = randomSuffix,
): { fd: number; tmp: string } {
  for (let attempt = 1; ; attempt++) {
    const tmp = `${file}.${process.pid}.${suffix()}.tmp`;
    try {
      return { fd: openNewFile(tmp, mode), tmp };
    } catch (err) {
      if (!isErrno(err, 'EEXIST') || attempt >= TEMP_ATTEMPTS) throw err;
    }
  }
}

/** Creates `file`, which must not exist in any form (a symlink at the name is EEXIST, not followed). */
export function openNewFile(file: string, mode: number): number {
  const c = fs.constants;
  return fs.openSync(file, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, mode);
}

/** Removes FILE.PID[.RANDOM].tmp files (not this process's) whose PID `stale` accepts. */
function removeTempSiblings(file: string, stale: (pid: number) => boolean): void {
  const base = path.basename(file);
  const dir = path.dirname(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)(?:\.\d+)?$/.exec(name.slice(base.length + 1, -'.tmp'.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || !stale(pid)) continue;
    try {
      // (unlinks a symlink or file at the name; a directory there stays)
      fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // left for a later writer: the file itself was written
    }
  }
}

function processExists(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

/** RFC 3339 with fractional seconds, trailing zeros trimmed as Go's RFC3339Nano does. */
export function rfc3339Now(date = new Date()): string {
  return date.toISOString().replace(/\.?0+Z$/, 'Z');
}
