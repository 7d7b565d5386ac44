// Helpers for the reliability tests (faults, races) and the soak: tsrunc started without
// waiting for it, stopped at a named fault point (src/util/faults.ts) and killed there,
// and the checks that follow (state answers, delete --force leaves nothing).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Test } from 'tap';
import type { FaultPoint, Sample } from '../../src/util/faults';
import type { TestContainer } from '../helpers/container';
import { leftovers, processesMentioning } from '../helpers/host';
import { TSRUNC, type RunResult, type Teardownable } from '../helpers/tsrunc';

/** A directory that arms tsrunc's fault points (owned by us, 0700, with an `armed` file). */
export function armedHooksDir(t: Teardownable | undefined, prefix = 'tsrunc-hooks'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  fs.chmodSync(dir, 0o700);
  fs.writeFileSync(path.join(dir, 'armed'), '');
  t?.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface HookEnv {
  dir: string;
  pauseAt?: readonly FaultPoint[] | '*';
  sampleAt?: readonly FaultPoint[] | '*';
}

/** The environment for a tsrunc that stops (or samples) at the given points. */
export function hookEnv(h: HookEnv, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, TSRUNC_TEST_HOOKS_DIR: h.dir };
  const list = (v: readonly string[] | '*' | undefined): string =>
    v === undefined ? '' : v === '*' ? '*' : v.join(',');
  if (h.pauseAt !== undefined) env['TSRUNC_TEST_PAUSE_AT'] = list(h.pauseAt);
  if (h.sampleAt !== undefined) env['TSRUNC_TEST_SAMPLE_AT'] = list(h.sampleAt);
  return env;
}

/** A tsrunc running in the background, stdout and stderr on files (a container may inherit them). */
export interface Background {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process exits, with what it wrote. */
  done: Promise<RunResult>;
  exited(): boolean;
}

export function startTsrunc(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: number | 'ignore' } = {},
): Background {
  const io = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-bg-'));
  const out = fs.openSync(path.join(io, 'out'), 'w+');
  const err = fs.openSync(path.join(io, 'err'), 'w+');
  const child = spawn(TSRUNC, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdin ?? 'ignore', out, err],
  });
  fs.closeSync(out);
  fs.closeSync(err);
  let finished = false;
  const done = new Promise<RunResult>((resolve) => {
    const finish = (status: number | null, signal: NodeJS.Signals | null): void => {
      finished = true;
      const read = (name: string): string => fs.readFileSync(path.join(io, name), 'utf8');
      const result = { status, signal, stdout: read('out'), stderr: read('err') };
      fs.rmSync(io, { recursive: true, force: true });
      resolve(result);
    };
    child.once('exit', finish);
    child.once('error', () => finish(null, null));
  });
  return { child, pid: child.pid ?? -1, done, exited: () => finished };
}

/** Kills a background tsrunc (SIGKILL) and waits for it. */
export async function killBackground(bg: Background): Promise<RunResult> {
  if (!bg.exited()) {
    try {
      process.kill(bg.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return bg.done;
}

export function pausedMarker(dir: string, point: FaultPoint, pid: number): string {
  return path.join(dir, `${point}.${pid}.paused`);
}

/**
 * Waits until `bg` stops at `point` (its marker appears) and returns what it sampled there;
 * throws with its output if it exits first or does not get there within `timeoutMs`.
 */
export async function waitPaused(bg: Background, dir: string, point: FaultPoint, timeoutMs = 60_000): Promise<Sample> {
  const marker = pausedMarker(dir, point, bg.pid);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (fs.existsSync(marker)) return JSON.parse(fs.readFileSync(marker, 'utf8')) as Sample;
    if (bg.exited()) {
      const r = await bg.done;
      throw new Error(`tsrunc exited (status ${r.status}) before reaching ${point}: ${r.stderr}`);
    }
    if (Date.now() > deadline) {
      const r = await killBackground(bg);
      throw new Error(`tsrunc did not reach ${point} within ${timeoutMs} ms: ${r.stderr}`);
    }
    await sleep(5);
  }
}

/** Lets a paused tsrunc go on. */
export function resume(dir: string, point: FaultPoint, pid: number): void {
  fs.writeFileSync(path.join(dir, `${point}.${pid}.resume`), '');
}

/** Samples a tsrunc process wrote at SAMPLE_AT points (and removes the files). */
export function takeSamples(dir: string, pid: number): Sample[] {
  const out: Sample[] = [];
  const suffix = `.${pid}.sample`;
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(suffix)) continue;
    const file = path.join(dir, name);
    out.push(JSON.parse(fs.readFileSync(file, 'utf8')) as Sample);
    fs.rmSync(file, { force: true });
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the result, or with undefined once `ms` have passed. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** What `state` may answer about a container after a fault: a status, or "does not exist". */
export function stateAnswer(r: RunResult): { status: string; pid: number } | 'missing' | { unexpected: string } {
  if (r.status === 0) {
    try {
      const doc = JSON.parse(r.stdout) as { status?: unknown; pid?: unknown };
      if (typeof doc.status === 'string' && typeof doc.pid === 'number') return { status: doc.status, pid: doc.pid };
    } catch {
      // fall through
    }
    return { unexpected: `exit 0 with ${JSON.stringify(r.stdout)}` };
  }
  if (r.status === 1 && /container does not exist/.test(r.stderr)) return 'missing';
  return { unexpected: `status ${r.status} signal ${r.signal}: ${r.stderr}` };
}

/**
 * Asserts `c` left nothing after a fault: no state, cgroup, process or mount (leftovers), no
 * tsrunc process (its command line names the --root) and, with `bundleTemps`, no temp file of
 * a killed writer in the bundle (next to the pid file).
 */
export function assertClean(t: Test, c: TestContainer, what = 'nothing left', bundleTemps = false): void {
  t.same(leftovers(c), [], `${what}: no state, cgroup, process or mount`);
  t.same(processesMentioning([c.root]), [], `${what}: no tsrunc process (its command line names --root)`);
  if (bundleTemps) t.same(tempFilesUnder(c.bundle), [], `${what}: no temp file next to the pid file`);
}

/** Files a killed writer may leave: temp files of writeFileAtomic under `dir` (recursively). */
export function tempFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
      else if (/\.\d+\.tmp$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
