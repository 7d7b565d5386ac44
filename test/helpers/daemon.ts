// A private `tsrunc daemon` for a test: its socket in a 0700 temp dir of its own, stopped and
// removed at teardown, and ways to see whether a command was served by one of its workers. By
// default its workers serve one command each (--max-commands 1), so that a served command shows
// as a worker gone (on the direct path every worker stays); `maxCommands` above 1 makes workers
// that serve again (test/integration/daemon-reuse.test.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TSRUNC, tempDir, type Teardownable } from './tsrunc';

export interface TestDaemon {
  socket: string;
  dir: string;
  child: ChildProcess;
  pid: number;
  /** What the server (and its workers) wrote to stderr so far. */
  log(): string;
  /** The server's worker processes now. */
  workers(): number[];
  /** Waits until the server has `n` workers. */
  waitWorkers(n: number): Promise<number[]>;
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out.sort((a, b) => a - b);
}

export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `cond` every 20 ms (a condition to reach, never a time to assert: the test's own timeout bounds it). */
export async function until<T>(cond: () => T | undefined | false): Promise<T> {
  for (;;) {
    const v = cond();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startDaemon(t: Teardownable, spares = 2, maxCommands = 1): Promise<TestDaemon> {
  const dir = tempDir(t, 'tsrunc-daemon');
  fs.chmodSync(dir, 0o700);
  const socket = path.join(dir, 'tsrunc.sock');
  const logFile = path.join(dir, 'log');
  const log = fs.openSync(logFile, 'w');
  const args = ['daemon', '--socket', socket, '--spares', String(spares), '--max-commands', String(maxCommands)];
  const child = spawn(TSRUNC, args, {
    stdio: ['ignore', 'ignore', log],
    env: { PATH: process.env['PATH'] },
  });
  fs.closeSync(log);
  const pid = child.pid as number;
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      for (const w of childrenOf(pid)) process.kill(w, 'SIGCONT');
      process.kill(pid, 'SIGCONT');
      child.kill('SIGTERM');
      await exited;
    }
  });
  const d: TestDaemon = {
    socket,
    dir,
    child,
    pid,
    log: () => fs.readFileSync(logFile, 'utf8'),
    workers: () => childrenOf(pid),
    waitWorkers: (n) => until(() => (childrenOf(pid).length === n ? childrenOf(pid) : undefined)),
  };
  await until(() => fs.existsSync(socket) || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`tsrunc daemon exited ${child.exitCode}: ${d.log()}`);
  await d.waitWorkers(spares);
  return d;
}

/** A ps(1) for PATH (tsrunc ps runs ps from PATH) that writes its open fds, "N target" lines, to $FDS_OUT. */
export function fdRecordingPs(dir: string): void {
  fs.writeFileSync(
    path.join(dir, 'ps'),
    '#!/bin/sh\nfor f in /proc/$$/fd/*; do echo "${f##*/} $(readlink $f)"; done > "$FDS_OUT"\necho "UID PID PPID C STIME TTY TIME CMD"\n',
    { mode: 0o755 },
  );
}

/** The sockets and pipes the server and its workers hold now ("socket:[N]"), to find in what a command's child got. */
export function serverSockets(d: TestDaemon): Set<string> {
  const out = new Set<string>();
  for (const p of [d.pid, ...d.workers()])
    for (const fd of fs.readdirSync(`/proc/${p}/fd`)) {
      try {
        const to = fs.readlinkSync(`/proc/${p}/fd/${fd}`);
        if (/^(socket|pipe):/.test(to)) out.add(to);
      } catch {
        // closed meanwhile
      }
    }
  return out;
}
