// The state store: one directory per container under the runtime root,
//   <root>/<id>/state.json   the record (written atomically: temp file, fsync, rename, fsync dir)
//   <root>/<id>/lock         flock'd: exclusive by commands that change the container, shared by readers
//   <root>/<id>/exec.fifo    present between create and start (see lifecycle)
// mkdir(<root>/<id>) is the single atomic step that decides which of concurrent creates wins.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, notFound, systemError } from '../errors';
import { faultPoint, type FaultPoint } from '../lifecycle/faults';
import { native } from '../native/addon';
import type { Spec } from '../spec/types';
import { checkContainerId } from './id';

export const DEFAULT_ROOT = '/run/tsrunc';
export const STATE_FILE = 'state.json';
export const LOCK_FILE = 'lock';
export const EXEC_FIFO = 'exec.fifo';

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
  /** Cgroup directories created for the container, per hierarchy mount point. */
  cgroupPaths: Record<string, string>;
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
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir, STATE_FILE), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(this.id);
      throw systemError('reading container state', err, this.id);
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch (err) {
      throw new TsruncError('system', `container state of ${this.id} is corrupt`, { containerId: this.id, cause: err });
    }
  }

  exists(): boolean {
    return fs.existsSync(path.join(this.dir, STATE_FILE));
  }

  /** `point`: the fault point between the temp file and the rename (tests only). */
  write(record: ContainerRecord, point?: FaultPoint): void {
    writeFileAtomic(path.join(this.dir, STATE_FILE), JSON.stringify(record), 0o600, point);
  }

  /** Removes the container's directory; the lock is released with it. */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.release();
  }

  release(): void {
    if (this.lockFd !== undefined) {
      fs.closeSync(this.lockFd);
      this.lockFd = undefined;
    }
  }
}

export class StateStore {
  readonly root: string;

  constructor(root: string = DEFAULT_ROOT) {
    this.root = path.resolve(root);
  }

  containerDir(id: string): string {
    return path.join(this.root, id);
  }

  /**
   * Reserves `id` for a new container: exactly one of any number of concurrent callers
   * succeeds, the others get "container with id exists". Returns the handle locked exclusively.
   */
  reserve(id: string): ContainerHandle {
    checkContainerId(id);
    try {
      fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw systemError(`creating state root ${this.root}`, err, id);
    }
    const dir = this.containerDir(id);
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if (isErrno(err, 'EEXIST')) throw new TsruncError('exists', `container with id exists: ${id}`, { containerId: id });
      throw systemError(`creating state directory ${dir}`, err, id);
    }
    try {
      const fd = openLock(dir, 'exclusive');
      faultPoint('create:state-dir');
      return new ContainerHandle(this, id, fd);
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw systemError('locking container state', err, id);
    }
  }

  /** Opens an existing container, waiting for the lock. Throws "container does not exist". */
  open(id: string, mode: LockMode): ContainerHandle {
    checkContainerId(id);
    const dir = this.containerDir(id);
    let fd: number;
    try {
      fd = openLock(dir, mode);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) throw notFound(id);
      throw systemError('locking container state', err, id);
    }
    const handle = new ContainerHandle(this, id, fd);
    // The directory may have been removed by a delete we waited behind.
    if (!handle.exists()) {
      handle.release();
      throw notFound(id);
    }
    return handle;
  }

  /** Container ids present in the root, sorted. */
  ids(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw systemError(`reading state root ${this.root}`, err);
    }
    return names.filter((n) => fs.existsSync(path.join(this.root, n, STATE_FILE))).sort();
  }
}

function openLock(dir: string, mode: LockMode): number {
  // 'a' creates the file if needed and never truncates; Node opens with O_CLOEXEC.
  const fd = fs.openSync(path.join(dir, LOCK_FILE), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    native().flock(fd, mode === 'exclusive', true);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** Write-then-rename so that a reader sees the old content or the new, never a part. */
export function writeFileAtomic(file: string, content: string, mode = 0o600, point?: FaultPoint): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (point !== undefined) faultPoint(point);
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/** RFC 3339 with fractional seconds, trailing zeros trimmed as Go's RFC3339Nano does. */
export function rfc3339Now(date = new Date()): string {
  return date.toISOString().replace(/\.?0+Z$/, 'Z');
}
