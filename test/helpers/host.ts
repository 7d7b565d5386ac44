// What the host sees of a container, for integration tests: leftovers after a failure
// (state, cgroups, processes, mounts), /proc files of a pid, directories a container may
// write into, and waiting for a container's status.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CGROUP_PARENT, cgroupDirsOf, type TestContainer } from './container';
import { pollUntil, rootEntries, tempDir, waitFor, type Teardownable } from './tsrunc';

/** What processesMentioning may look in: /proc/PID/cgroup and cmdline (text), root and cwd (links). */
export type ProcView = 'cgroup' | 'cmdline' | 'root' | 'cwd';

/** Pids of every process, other than this one, whose cgroup, root, cwd or command line (or just the `views` given) mentions one of `needles`. */
export function processesMentioning(
  needles: string[],
  views: readonly ProcView[] = ['cgroup', 'cmdline', 'root', 'cwd'],
): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const texts: string[] = [];
    for (const view of views) {
      try {
        if (view === 'cgroup' || view === 'cmdline')
          texts.push(fs.readFileSync(`/proc/${name}/${view}`, 'utf8').replace(/\0/g, ' '));
        else texts.push(fs.readlinkSync(`/proc/${name}/${view}`));
      } catch {
        // gone meanwhile, or a kernel thread (no root or cwd)
      }
    }
    if (texts.some((t) => needles.some((n) => t.includes(n)))) out.push(Number(name));
  }
  return out;
}

/** Host mounts whose mount point or root mentions `needle`. */
export function hostMountsMentioning(needle: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(needle));
}

/** `(comm) S` of a pid from /proc/PID/stat, to tell a leftover process by; `(gone)` if it has exited. */
export function describePid(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('('), stat.lastIndexOf(')') + 3);
  } catch {
    return '(gone)';
  }
}

/**
 * Everything a container left on the host: state under its --root, cgroup directories,
 * processes (in its cgroup, or rooted, working or named in its bundle or `processPaths`),
 * mounts of its bundle or `mountPaths`. An empty list means nothing.
 */
export function leftovers(
  c: { root: string; id: string; bundle: string },
  more: { processPaths?: string[]; mountPaths?: string[] } = {},
): string[] {
  const out: string[] = [];
  for (const e of rootEntries(c.root)) out.push(`state: ${path.join(c.root, e)}`);
  for (const d of cgroupDirsOf(c.id)) out.push(`cgroup: ${d}`);
  for (const pid of processesMentioning([
    `${CGROUP_PARENT}/${c.id}\n`,
    `${CGROUP_PARENT}/${c.id}/`,
    c.bundle,
    ...(more.processPaths ?? []),
  ]))
    out.push(`process: ${pid} ${describePid(pid)}`);
  for (const m of [c.bundle, ...(more.mountPaths ?? [])].flatMap(hostMountsMentioning)) out.push(`mount: ${m}`);
  return out;
}

/** Host pids in container `id`'s cgroup (under this process's test parent); none once it is gone. */
export function cgroupProcs(id: string): number[] {
  const dir = cgroupDirsOf(id)[0];
  if (dir === undefined) return [];
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // removed meanwhile
  }
}

/** One `Key:\tvalue` line of /proc/PID/status (or /proc/self/status text), trimmed. */
export function statusField(statusText: string, key: string): string | undefined {
  const m = new RegExp(`^${key}:[ \\t]*(.*)$`, 'm').exec(statusText);
  return m?.[1]?.trim();
}

/** A host directory any container user may write into, bind-mounted by tests to collect output. */
export function sharedDir(t: Teardownable, prefix = 'tsrunc-share'): string {
  const dir = tempDir(t, prefix);
  fs.chmodSync(dir, 0o777);
  return dir;
}

/** Polls `c.status()` until it is `want`; false after `timeoutMs` (it only bounds a failure). */
export async function waitForStatus(c: TestContainer, want: string, timeoutMs = 60_000): Promise<boolean> {
  return pollUntil(() => c.status() === want, timeoutMs, 20);
}

/** Polls until `file` exists and is non-empty (a container writing its result), then returns its text. */
export async function waitForFile(file: string, timeoutMs = 60_000): Promise<string> {
  let text = '';
  const read = (): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return ''; // not yet
    }
  };
  await waitFor(() => (text = read()) !== '', file, timeoutMs, 20);
  return text;
}

/** Whether process `pid` has a handler for signal number `signo` (its SigCgt bit in /proc/PID/status). */
export function catchesSignal(pid: number, signo: number): boolean {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false; // gone
  }
  const mask = statusField(text, 'SigCgt');
  return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(signo - 1)) & 1n) === 1n;
}

/**
 * Resolves once `pid` catches signal `signo`, e.g. once a container's shell has run its `trap`.
 * A signal sent before that is not the test's: the init of a pid namespace ignores every signal
 * it has no handler for, and any other process takes the default action (mostly: dies).
 */
export async function waitForHandler(pid: number, signo: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => catchesSignal(pid, signo), `pid ${pid} to catch signal ${signo}`, timeoutMs);
}

/** The mountinfo line whose mount point (field 5) is `mountPoint`; the last one if stacked. */
export function mountinfoLine(mountinfo: string, mountPoint: string): string | undefined {
  const lines = mountinfo.split('\n').filter((l) => l.split(' ')[4] === mountPoint);
  return lines[lines.length - 1];
}

/** The parts of a mountinfo line: per-mount options, optional fields, fs type, super options. */
export function parseMountinfoLine(line: string): {
  root: string;
  mountPoint: string;
  options: string[];
  optional: string[];
  fstype: string;
  source: string;
  superOptions: string[];
} {
  const [left = '', right = ''] = line.split(' - ');
  const l = left.split(' ');
  const r = right.split(' ');
  return {
    root: l[3] ?? '',
    mountPoint: l[4] ?? '',
    options: (l[5] ?? '').split(','),
    optional: l.slice(6),
    fstype: r[0] ?? '',
    source: r[1] ?? '',
    superOptions: (r[2] ?? '').split(','),
  };
}
