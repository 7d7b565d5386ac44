// The soak: N lifecycles of create → start → exec → kill → delete through bin/tsrunc, half
// one after another and half 20 at a time, cycling through {tty, no tty} × {user namespace,
// none}. Afterwards it looks for everything a lifecycle could leave: mounts, cgroup
// directories, state entries, processes, pty masters still open, temp files. On the way it
// collects how many fds and how much memory each tsrunc command had at its end (the
// *:done fault points, sampled), and the fds the container's processes got.
// Used by `npm run soak` (test/soak/soak.ts) and by test/reliability/soak-short.test.ts.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FaultPoint, Sample } from '../../src/util/faults';
import { readProcStat } from '../../src/state/proc';
import { cgroupTree, removeCgroupTree } from '../helpers/cgroup-tree';
import { sleeperSpec, userNamespace } from '../helpers/container';
import { hostMountsMentioning, processesMentioning } from '../helpers/host';
import { REPO_ROOT, TSRUNC, pollUntil, rootEntries } from '../helpers/tsrunc';
import { armedHooksDir, hookEnv, takeSamples, tempFilesUnder, within } from '../reliability/harness';

export interface SoakOptions {
  /** Lifecycles in all (half sequential, half concurrent). */
  n: number;
  concurrency?: number;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

export interface Variant {
  tty: boolean;
  userns: boolean;
}

export const VARIANTS: Variant[] = [
  { tty: false, userns: false },
  { tty: true, userns: false },
  { tty: false, userns: true },
  { tty: true, userns: true },
];

export function variantName(v: Variant): string {
  return `${v.tty ? 'tty' : 'no-tty'}/${v.userns ? 'userns' : 'no-userns'}`;
}

/** Figures of one command kind across the run (fds and memory at its end). */
export interface CommandFigures {
  samples: number;
  fdsMin: number;
  fdsMax: number;
  /** kB: the largest VmHWM seen, and the mean of the first and of the last tenth of the run. */
  hwmPeak: number;
  hwmFirstTenth: number;
  hwmLastTenth: number;
}

export interface SoakReport {
  lifecycles: number;
  sequential: number;
  concurrent: number;
  concurrency: number;
  seconds: number;
  byVariant: Record<string, number>;
  /** Lifecycles whose steps failed, with the reason (at most 20 kept). */
  failures: string[];
  failureCount: number;
  leaks: {
    mounts: string[];
    cgroups: string[];
    state: string[];
    processes: string[];
    ptyMasters: number;
    tempFiles: string[];
  };
  /** Per tsrunc command: fds and memory at its end. */
  runtime: Record<string, CommandFigures>;
  /** Open fds of each container init after start (counts → how many inits had them). */
  initFds: Record<string, number>;
  /** Open fds of `ls /proc/self/fd` run by exec (it counts its own directory fd). */
  execFds: Record<string, number>;
  /** Pty masters the console socket received (create and exec with a terminal). */
  ptysReceived: number;
}

const SAMPLED: FaultPoint[] = ['create:done', 'start:done', 'exec:done', 'delete:done'];

// Receives pty masters on a unix socket (Node cannot receive fds), reads them empty until
// the container side closes (EIO), and on EOF of stdin reports how many it got and how many
// are still open. EOF comes once every lifecycle is done, but a loaded machine may not have
// let the receiver take every master yet: it first takes what is already pending (connections
// in the backlog, messages not yet read) without waiting for more.
const CONSOLE_RECEIVER = `
import json, os, select, socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(128)
masters, conns, received = set(), set(), 0
def drain(m):
    try:
        while os.read(m, 65536):
            pass
        gone = True
    except BlockingIOError:
        gone = False
    except OSError:
        gone = True
    if gone:
        os.close(m)
        masters.discard(m)
print("listening", flush=True)
# One connection that never sends must not hold up the others: all wait in select.
ending = False
while True:
    ready, _, _ = select.select([srv] + ([] if ending else [0]) + list(conns) + list(masters), [], [], 0 if ending else 1.0)
    if 0 in ready and os.read(0, 4096) == b"":
        ending = True
        continue
    if ending and not any(x is srv or x in conns for x in ready):
        break
    for x in ready:
        if x is srv:
            conn, _ = srv.accept()
            conn.setblocking(False)
            conns.add(conn)
        elif isinstance(x, socket.socket):
            try:
                _, fds, _, _ = socket.recv_fds(x, 1024, 4)
            except BlockingIOError:
                continue
            except OSError:
                fds = []
            conns.discard(x)
            x.close()
            for fd in fds:
                os.set_blocking(fd, False)
                masters.add(fd)
                received += 1
        elif x != 0:
            drain(x)
for m in list(masters):
    drain(m)
print(json.dumps({"received": received, "open": len(masters)}), flush=True)
`;

interface Call {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  samples: Sample[];
}

class Soak {
  readonly work: string;
  readonly root: string;
  readonly rootfs: string;
  readonly sock: string;
  readonly hooks: string;
  readonly cgroupParent = `/tsrunc-soak-${process.pid}`;
  private receiver: ChildProcess | undefined;
  private receiverOut = '';
  /** Resolves once the receiver has exited and its stdout is closed (all it printed has been read). */
  private receiverClosed: Promise<true> = Promise.resolve(true);
  private counter = 0;
  readonly live = new Set<string>();
  readonly samples: Sample[] = [];
  readonly initFds = new Map<number, number>();
  readonly execFds = new Map<number, number>();
  readonly failures: string[] = [];
  failureCount = 0;

  constructor() {
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-soak-'));
    // The user-namespaced containers' root must reach the rootfs.
    fs.chmodSync(this.work, 0o755);
    this.root = path.join(this.work, 'root');
    fs.mkdirSync(this.root, { mode: 0o700 });
    this.rootfs = path.join(this.work, 'rootfs');
    execFileSync(path.join(REPO_ROOT, 'scripts', 'make-rootfs.sh'), [this.rootfs]);
    fs.mkdirSync(path.join(this.work, 'bundles'));
    fs.mkdirSync(path.join(this.work, 'io'));
    this.sock = path.join(this.work, 'console.sock');
    this.hooks = armedHooksDir(undefined, 'tsrunc-soak-hooks');
  }

  async startReceiver(): Promise<void> {
    const r = spawn('python3', ['-c', CONSOLE_RECEIVER, this.sock], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.receiver = r;
    this.receiverClosed = new Promise((resolve) => r.once('close', () => resolve(true)));
    r.stdout?.setEncoding('utf8');
    r.stdout?.on('data', (d: string) => (this.receiverOut += d));
    const up = await pollUntil(() => this.receiverOut.includes('listening') || r.exitCode !== null, 60_000, 10);
    if (!up || !this.receiverOut.includes('listening')) throw new Error('the console receiver (python3) did not start');
  }

  /** Ends the receiver; how many masters it got and how many are still open. */
  async stopReceiver(): Promise<{ received: number; open: number }> {
    const r = this.receiver;
    if (r === undefined) return { received: 0, open: 0 };
    r.stdin?.end();
    // 'close', not the exit status: the exit may be seen before the report line was read.
    if ((await within(this.receiverClosed, 60_000)) === undefined) r.kill('SIGKILL');
    const line = this.receiverOut.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as { received: number; open: number };
    } catch {
      return { received: 0, open: -1 };
    }
  }

  private bundle(id: string, v: Variant): string {
    const dir = path.join(this.work, 'bundles', id);
    fs.mkdirSync(dir);
    // The tests' container spec, but in the soak's own dirs and cgroup parent: its leak counts look there.
    const spec = sleeperSpec(this.rootfs, `${this.cgroupParent}/${id}`);
    spec.process!.terminal = v.tty;
    // No bundle to open up: the constructor made the work dir 0755, and the rootfs is in it.
    if (v.userns) userNamespace(spec);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    return dir;
  }

  /** One tsrunc command; SIGKILLed (and reported with what its children wait in) after CALL_LIMIT_MS. */
  private call(args: string[], cwd: string): Promise<Call> {
    const errFile = path.join(this.work, 'io', `${++this.counter}.err`);
    const err = fs.openSync(errFile, 'w+');
    const child = spawn(TSRUNC, ['--root', this.root, ...args], {
      cwd,
      stdio: ['ignore', 'ignore', err],
      env: hookEnv({ dir: this.hooks, sampleAt: SAMPLED }),
    });
    fs.closeSync(err);
    return new Promise((resolve) => {
      let finished = false;
      let hung = '';
      const timer = setTimeout(() => {
        hung = `${args[0]} did not return within ${CALL_LIMIT_MS / 1000} s (${describeChildren(child.pid ?? -1)}); killed`;
        child.kill('SIGKILL');
      }, CALL_LIMIT_MS);
      const finish = (status: number | null, signal: NodeJS.Signals | null): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        const stderr = hung + fs.readFileSync(errFile, 'utf8');
        fs.rmSync(errFile, { force: true });
        resolve({ status, signal, stderr, samples: child.pid === undefined ? [] : takeSamples(this.hooks, child.pid) });
      };
      child.once('exit', finish);
      child.once('error', () => finish(null, null));
    });
  }

  private async must(what: string, args: string[], cwd: string, okStatus = 0): Promise<Call> {
    const r = await this.call(args, cwd);
    this.samples.push(...r.samples);
    if (r.status !== okStatus) throw new Error(`${what}: exit ${r.status ?? r.signal}: ${r.stderr.trim()}`);
    return r;
  }

  async lifecycle(v: Variant): Promise<void> {
    const id = `s${process.pid}-${++this.counter}`;
    const bundle = this.bundle(id, v);
    const pidFile = path.join(bundle, 'init.pid');
    const consoleArgs = v.tty ? ['--console-socket', this.sock] : [];
    this.live.add(id);
    try {
      await this.must('create', ['create', ...consoleArgs, '--pid-file', pidFile, id], bundle);
      await this.must('start', ['start', id], bundle);
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      const stat = readProcStat(pid);
      const initFds = fs.readdirSync(`/proc/${pid}/fd`).length;
      this.initFds.set(initFds, (this.initFds.get(initFds) ?? 0) + 1);
      // The exit status tells how many fds `ls` saw: 0-2 and its own directory.
      const exec = await this.call(
        ['exec', ...(v.tty ? ['-t', ...consoleArgs] : []), id, 'sh', '-c', 'exit $(ls /proc/self/fd | wc -l)'],
        bundle,
      );
      this.samples.push(...exec.samples);
      if (exec.status === null || exec.status === 0 || exec.status > 100)
        throw new Error(`exec: exit ${exec.status ?? exec.signal}: ${exec.stderr.trim()}`);
      this.execFds.set(exec.status, (this.execFds.get(exec.status) ?? 0) + 1);
      await this.must('kill', ['kill', id, 'KILL'], bundle);
      const gone = (): boolean => {
        const now = readProcStat(pid);
        return now === undefined || now.state === 'Z' || now.startTime !== stat?.startTime;
      };
      if (!(await pollUntil(gone, 60_000, 5))) throw new Error(`the init ${pid} outlived SIGKILL by 60 s`);
      await this.must('delete', ['delete', id], bundle);
      this.live.delete(id);
    } catch (err) {
      this.failureCount++;
      if (this.failures.length < 20) this.failures.push(`${id} (${variantName(v)}): ${(err as Error).message}`);
      // As a shim would: what is left is then what tsrunc could not clean.
      const del = await this.call(['delete', '--force', id], bundle);
      if (del.status === 0 || /container does not exist/.test(del.stderr)) this.live.delete(id);
    } finally {
      fs.rmSync(bundle, { recursive: true, force: true });
    }
  }

  /** Removes what failed lifecycles left (after the leaks were counted). */
  async cleanup(): Promise<void> {
    for (const id of this.live) await this.call(['delete', '--force', id], this.work);
    this.live.clear();
    removeCgroupTree(this.cgroupParent);
    if (this.receiver !== undefined && this.receiver.exitCode === null) this.receiver.kill('SIGKILL');
    fs.rmSync(this.hooks, { recursive: true, force: true });
    fs.rmSync(this.work, { recursive: true, force: true });
  }

  leakedCgroups(): string[] {
    return cgroupTree(this.cgroupParent).filter((dir) => !dir.endsWith(this.cgroupParent));
  }

  leakedProcesses(): string[] {
    const receiver = this.receiver?.pid;
    return processesMentioning([this.work, `${this.cgroupParent}/`])
      .filter((pid) => pid !== receiver)
      .map((pid) => {
        let cmd = '';
        try {
          cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        } catch {
          // gone
        }
        return `${pid} (${readProcStat(pid)?.state ?? 'gone'}) ${cmd}`;
      });
  }
}

const CALL_LIMIT_MS = 60_000;

/** The children of `pid` and the kernel function each sleeps in (for a hung command). */
function describeChildren(pid: number): string {
  const out: string[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      out.push(`child ${name} in ${fs.readFileSync(`/proc/${name}/wchan`, 'utf8') || 'running'}`);
    } catch {
      // gone
    }
  }
  return out.length > 0 ? out.join(', ') : 'no child';
}

function figures(samples: Sample[]): Record<string, CommandFigures> {
  const out: Record<string, CommandFigures> = {};
  for (const point of SAMPLED) {
    const mine = samples.filter((s) => s.point === point);
    if (mine.length === 0) continue;
    const tenth = Math.max(1, Math.floor(mine.length / 10));
    const mean = (xs: Sample[]): number => Math.round(xs.reduce((a, s) => a + s.vmHWM, 0) / xs.length);
    out[point.replace(':done', '')] = {
      samples: mine.length,
      fdsMin: Math.min(...mine.map((s) => s.fds)),
      fdsMax: Math.max(...mine.map((s) => s.fds)),
      hwmPeak: Math.max(...mine.map((s) => s.vmHWM)),
      hwmFirstTenth: mean(mine.slice(0, tenth)),
      hwmLastTenth: mean(mine.slice(-tenth)),
    };
  }
  return out;
}

function counts(m: Map<number, number>): Record<string, number> {
  return Object.fromEntries([...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]));
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const concurrency = opts.concurrency ?? 20;
  const progress = opts.progress ?? (() => {});
  const soak = new Soak();
  const byVariant: Record<string, number> = {};
  let variantIndex = 0;
  const nextVariant = (): Variant => {
    const v = VARIANTS[variantIndex++ % VARIANTS.length] as Variant;
    byVariant[variantName(v)] = (byVariant[variantName(v)] ?? 0) + 1;
    return v;
  };
  const sequential = Math.ceil(opts.n / 2);
  const concurrent = opts.n - sequential;
  const began = Date.now();
  // SIGINT/SIGTERM: no new lifecycles; the ones under way end, then the report and cleanup.
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    progress('stopping: letting the lifecycles under way finish');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let sequentialDone = 0;
  let done = 0;
  try {
    await soak.startReceiver();
    for (let i = 0; i < sequential && !stopping; i++) {
      await soak.lifecycle(nextVariant());
      sequentialDone++;
      if ((i + 1) % 50 === 0)
        progress(
          `sequential ${i + 1}/${sequential} (${Math.round((Date.now() - began) / 1000)} s, ${soak.failureCount} failed)`,
        );
    }
    let started = 0;
    const worker = async (): Promise<void> => {
      while (started < concurrent && !stopping) {
        started++;
        await soak.lifecycle(nextVariant());
        done++;
        if (done % 50 === 0)
          progress(
            `concurrent ${done}/${concurrent} (${Math.round((Date.now() - began) / 1000)} s, ${soak.failureCount} failed)`,
          );
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(concurrent, 1)) }, worker));
    const seconds = (Date.now() - began) / 1000;
    // A pty master sees EIO once the last process holding its slave is gone.
    const ptys = await soak.stopReceiver();
    // Killed inits are reparented to pid 1 (their creator has exited); give it time to reap
    // (generous: this only bounds a real leak).
    await pollUntil(() => soak.leakedProcesses().length === 0, 60_000, 100);
    const report: SoakReport = {
      lifecycles: sequentialDone + done,
      sequential: sequentialDone,
      concurrent: done,
      concurrency,
      seconds: Math.round(seconds * 10) / 10,
      byVariant,
      failures: soak.failures,
      failureCount: soak.failureCount,
      leaks: {
        mounts: hostMountsMentioning(soak.work),
        cgroups: soak.leakedCgroups(),
        state: rootEntries(soak.root),
        processes: soak.leakedProcesses(),
        ptyMasters: ptys.open,
        tempFiles: [...tempFilesUnder(soak.root), ...tempFilesUnder(path.join(soak.work, 'bundles'))],
      },
      runtime: figures(soak.samples),
      initFds: counts(soak.initFds),
      execFds: counts(soak.execFds),
      ptysReceived: ptys.received,
    };
    return report;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await soak.cleanup();
  }
}

/** Leaks of every kind, as one number each (for the summary and the test). */
export function leakCounts(r: SoakReport): Record<string, number> {
  return {
    mounts: r.leaks.mounts.length,
    cgroups: r.leaks.cgroups.length,
    state: r.leaks.state.length,
    processes: r.leaks.processes.length,
    ptyMasters: r.leaks.ptyMasters,
    tempFiles: r.leaks.tempFiles.length,
  };
}

/** The figures as a few lines of text. */
export function formatReport(r: SoakReport): string {
  const lines: string[] = [];
  lines.push(
    `lifecycles: ${r.lifecycles} (${r.sequential} sequential, ${r.concurrent} ${r.concurrency} at a time), failed: ${r.failureCount}`,
  );
  lines.push(
    `variants: ${Object.entries(r.byVariant)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  lines.push(
    `seconds: ${r.seconds} (${(r.seconds / Math.max(r.lifecycles, 1)).toFixed(2)} s per lifecycle, both phases together)`,
  );
  lines.push(
    `leaks: ${Object.entries(leakCounts(r))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  const peak = Math.max(0, ...Object.values(r.runtime).map((f) => f.hwmPeak));
  lines.push(`peak RSS of any tsrunc command: ${peak} kB (${(peak / 1024).toFixed(1)} MiB)`);
  lines.push('tsrunc at the end of each command (fds; peak RSS as VmHWM, kB):');
  for (const [cmd, f] of Object.entries(r.runtime)) {
    lines.push(
      `  ${cmd.padEnd(7)} ${f.samples} runs, fds ${f.fdsMin}..${f.fdsMax}, peak RSS max ${f.hwmPeak} kB, mean first tenth ${f.hwmFirstTenth} kB, last tenth ${f.hwmLastTenth} kB`,
    );
  }
  lines.push(
    `container init fds after start: ${JSON.stringify(r.initFds)}; exec'd ls saw fds: ${JSON.stringify(r.execFds)}; pty masters received: ${r.ptysReceived}`,
  );
  for (const f of r.failures) lines.push(`failed: ${f}`);
  for (const [kind, list] of Object.entries(r.leaks))
    if (Array.isArray(list)) for (const item of list.slice(0, 10)) lines.push(`leak (${kind}): ${item}`);
  return lines.join('\n');
}

/**
 * What says the runtime grew over the run: a command whose fd count varied, or whose peak
 * RSS in the last tenth of the run is more than 10% (and 4 MB) above the first tenth's.
 * Every init and every exec'd process must have had the same fds (0-2; ls adds its own).
 */
export function flatness(r: SoakReport): string[] {
  const out: string[] = [];
  for (const [cmd, f] of Object.entries(r.runtime)) {
    if (f.fdsMin !== f.fdsMax) out.push(`${cmd}: fds at its end ranged ${f.fdsMin}..${f.fdsMax}`);
    if (f.hwmLastTenth > f.hwmFirstTenth * 1.1 && f.hwmLastTenth - f.hwmFirstTenth > 4096)
      out.push(`${cmd}: peak RSS grew from ${f.hwmFirstTenth} kB to ${f.hwmLastTenth} kB`);
  }
  if (Object.keys(r.initFds).join() !== '3')
    out.push(`container inits had fds ${JSON.stringify(r.initFds)} (want 3: stdio only)`);
  if (Object.keys(r.execFds).join() !== '4')
    out.push(`exec'd processes saw fds ${JSON.stringify(r.execFds)} (want 4: stdio and ls's own)`);
  return out;
}
