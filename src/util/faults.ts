// Test-only fault points: named places in create, start, exec and delete where a test can
// stop tsrunc (and SIGKILL it there), or have it report its own fd count and memory.
//
// Inert unless BOTH hold:
//   - TSRUNC_TEST_HOOKS_DIR names a directory owned by this process's euid, not writable by
//     group or others, holding a regular file `armed` owned by the same euid;
//   - TSRUNC_TEST_PAUSE_AT or TSRUNC_TEST_SAMPLE_AT lists points (comma-separated, or `*`).
// At a PAUSE_AT point tsrunc writes <dir>/<point>.<pid>.paused (a Sample as JSON) and waits
// until <dir>/<point>.<pid>.resume exists; after 120 s it SIGKILLs itself, so a test that
// forgets it leaves no process behind. At a SAMPLE_AT point it writes <point>.<pid>.sample
// and goes on.
//
// Here in util/ rather than lifecycle/: the state store, a layer below lifecycle, has points
// of its own (its temp files and renames).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleepMs } from './sleep';

export const FAULT_POINTS = [
  // create
  'create:state-dir', // the state directory and its lock exist, no record yet
  'create:state-tmp', // the first record is in its temp file, not yet renamed
  'create:recorded', // the first record (no init pid) is in place
  'create:spawned', // the executor child is forked, before its first sync point
  'create:cgroup', // cgroups made, limits written, the child placed in them
  'create:userns', // uid/gid maps written (only with a new user namespace)
  'create:hooks', // the record names the init; prestart/createRuntime hooks not yet run
  'create:ready', // the init waits on exec.fifo
  'create:pid-file-tmp', // the pid file is in its temp file, not yet renamed
  'create:done',
  // start
  'start:locked', // the container is locked, the init not yet released
  'start:released', // the init has exec'd the user process; the record does not say so yet
  'start:state-tmp', // the started record is in its temp file, not yet renamed
  'start:done',
  // exec
  'exec:locked',
  'exec:spawned',
  'exec:cgroup', // the child placed in the container's cgroups
  'exec:forked', // the process in the container's pid namespace reported and was checked; not yet let go
  'exec:ready', // the process runs in the container; not yet waited for
  'exec:done',
  // delete
  'delete:locked',
  'delete:killed', // the init is gone; cgroups still there
  'delete:cgroups-removed', // poststop hooks and the state directory remain
  'delete:state-removed', // the record is gone; the (locked) directory remains
  'delete:renamed', // the directory is moved out of the id's place, not yet removed
  'delete:done',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

/** What tsrunc says about itself at a point. */
export interface Sample {
  point: FaultPoint;
  pid: number;
  /** Open fds of this process (the one reading /proc/self/fd not counted). */
  fds: number;
  /** kB, from /proc/self/status. */
  vmRSS: number;
  vmHWM: number;
}

interface Armed {
  dir: string;
  pause: Set<string>;
  sample: Set<string>;
}

let armed: Armed | null | undefined;

/** Forgets whether a test armed fault points (they are read from the environment, which is the next command's). */
export function disarmFaults(): void {
  armed = undefined;
}

function listed(value: string | undefined): Set<string> {
  return new Set(
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

function arm(): Armed | null {
  const dir = process.env['TSRUNC_TEST_HOOKS_DIR'];
  if (dir === undefined || !path.isAbsolute(dir)) return null;
  const pause = listed(process.env['TSRUNC_TEST_PAUSE_AT']);
  const sample = listed(process.env['TSRUNC_TEST_SAMPLE_AT']);
  if (pause.size === 0 && sample.size === 0) return null;
  const euid = process.geteuid?.() ?? -1;
  try {
    const d = fs.lstatSync(dir);
    const f = fs.lstatSync(path.join(dir, 'armed'));
    if (!d.isDirectory() || d.uid !== euid || (d.mode & 0o022) !== 0) return null;
    if (!f.isFile() || f.uid !== euid) return null;
  } catch {
    return null;
  }
  return { dir, pause, sample };
}

function statusKb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s*(\\d+) kB`, 'm').exec(status);
  return m === null ? 0 : Number(m[1]);
}

function sample(point: FaultPoint): Sample {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return {
    point,
    pid: process.pid,
    fds: fs.readdirSync('/proc/self/fd').length - 1,
    vmRSS: statusKb(status, 'VmRSS'),
    vmHWM: statusKb(status, 'VmHWM'),
  };
}

function writeWhole(file: string, text: string): void {
  fs.writeFileSync(`${file}.part`, text);
  fs.renameSync(`${file}.part`, file);
}

const PAUSE_LIMIT_MS = 120_000;

/** A named point: nothing at all unless a test armed it (see the top of this file). */
export function faultPoint(point: FaultPoint): void {
  if (armed === undefined) armed = arm();
  if (armed === null) return;
  const wants = (set: Set<string>): boolean => set.has(point) || set.has('*');
  const base = path.join(armed.dir, `${point}.${process.pid}`);
  if (wants(armed.sample)) writeWhole(`${base}.sample`, JSON.stringify(sample(point)));
  if (!wants(armed.pause)) return;
  writeWhole(`${base}.paused`, JSON.stringify(sample(point)));
  const deadline = Date.now() + PAUSE_LIMIT_MS;
  while (!fs.existsSync(`${base}.resume`)) {
    if (Date.now() > deadline) process.kill(process.pid, 'SIGKILL');
    sleepMs(5);
  }
}
