// A worker of the resident server that serves again (issue 17): after a command it gives back
// everything of the caller's (stdio, cwd, umask, environment, pid, the front's connection) and
// forgets what the bundle cached for the command, then checks that it is the process it was
// before the first command (forgetCommandState, src/cli/main.ts) — the same fds, nothing pending in node's event loop, the same
// listeners on `process`, process.stdin/stdout/stderr never opened, and the same credentials,
// capabilities, signal dispositions and mask, limits, cgroups, namespaces, root, cwd and prctl
// state. Anything else and it serves no more: it exits, as a worker of one command does (fails
// closed). What it compares is `WorkerBaseline`; `differences` says what changed, for the log.
import * as fs from 'node:fs';
import { native } from '../native/addon';
import { SERVED_COMMANDS } from './protocol';

/**
 * The commands after which a worker may serve again (when the checks pass). `events` runs until
 * its container ends, with timers: its worker always exits after it.
 */
export const REUSABLE_COMMANDS: ReadonlySet<string> = new Set([...SERVED_COMMANDS].filter((c) => c !== 'events'));

/** /proc/self/status lines that a command must leave as they were (not memory, threads or counters). */
const STATUS_FIELDS = [
  'Umask',
  'Uid',
  'Gid',
  'Groups',
  'NSpid',
  'SigBlk',
  'SigIgn',
  'SigCgt',
  'CapInh',
  'CapPrm',
  'CapEff',
  'CapBnd',
  'CapAmb',
  'NoNewPrivs',
  'Seccomp',
  'Seccomp_filters',
  'Cpus_allowed_list',
  'Mems_allowed_list',
];

const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'user', 'uts'];

export interface WorkerBaseline {
  fds: string;
  resources: string;
  listeners: string;
  status: string;
  cgroup: string;
  limits: string;
  namespaces: string;
  root: string;
  cwd: string;
  facts: string;
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    return `(${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

function linkOr(file: string): string {
  try {
    return fs.readlinkSync(file);
  } catch (err) {
    return `(${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/** This process as the checks see it. */
export function observeWorker(): WorkerBaseline {
  const status = readOr('/proc/self/status')
    .split('\n')
    .filter((l) => STATUS_FIELDS.includes(l.slice(0, l.indexOf(':'))))
    .join('\n');
  const listeners = process
    .eventNames()
    .map((e) => `${String(e)}:${process.listenerCount(e)}`)
    .sort()
    .join(' ');
  return {
    // (each with what it is: another file at a number the baseline has is a difference too)
    fds: native()
      .openFds()
      .map((fd) => `${fd}=${linkOr(`/proc/self/fd/${fd}`)}`)
      .join(' '),
    resources: [...process.getActiveResourcesInfo()].sort().join(' '),
    listeners,
    status,
    cgroup: readOr('/proc/self/cgroup'),
    limits: readOr('/proc/self/limits'),
    namespaces: NAMESPACES.map((ns) => linkOr(`/proc/self/ns/${ns}`)).join(' '),
    root: linkOr('/proc/self/root'),
    cwd: process.cwd(),
    facts: native().daemonSelfFacts(),
  };
}

/** What differs between two observations (empty when nothing does); an fd left open is named with what it is. */
export function differences(before: WorkerBaseline, after: WorkerBaseline): string[] {
  const out: string[] = [];
  for (const k of Object.keys(before) as (keyof WorkerBaseline)[]) {
    if (before[k] === after[k]) continue;
    if (k === 'fds') {
      const was = new Set(before.fds.split(' '));
      const now = after.fds.split(' ');
      const opened = now.filter((fd) => !was.has(fd)).map((fd) => `${fd} left open`);
      const closed = [...was].filter((fd) => !now.includes(fd)).map((fd) => `${fd} closed`);
      out.push(`fds: ${[...opened, ...closed].join(', ')}`);
    } else out.push(`${k}: ${JSON.stringify(before[k])} became ${JSON.stringify(after[k])}`);
  }
  return out;
}

/**
 * process.stdin, stdout and stderr are streams node makes on first use, for whatever fds 0..2
 * are then, and keeps: a worker whose command opened one could not give the next caller its own.
 * Returns a function saying which one was opened since (undefined: none).
 */
export function watchStdioStreams(): () => string | undefined {
  let opened: string | undefined;
  for (const name of ['stdin', 'stdout', 'stderr'] as const) {
    const d = Object.getOwnPropertyDescriptor(process, name);
    const get = d?.get;
    if (get === undefined || d?.configurable !== true) {
      opened = `process.${name} cannot be watched`;
      continue;
    }
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable ?? true,
      get() {
        opened ??= `process.${name} was opened`;
        return get.call(process) as unknown;
      },
    });
  }
  return () => opened;
}
