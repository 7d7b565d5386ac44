// Shared helpers for tsrunc's tests (unit and integration): run the built CLI, make
// temporary directories that are removed even when a test fails, find the recorded client
// inputs in ../shared/clients, and run TypeScript snippets in child processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Spec } from '../../src/spec/types';

/** The repository root (the directory holding package.json). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The executable clients run: bin/tsrunc, written by `node scripts/build.mjs`. */
export const TSRUNC = path.join(REPO_ROOT, 'bin', 'tsrunc');

/** Where the recorded inputs of real clients live (may be absent on some machines). */
export const CLIENTS_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'clients');

/** What a test needs of tap's Test object: both the root `t` and subtests qualify. */
export interface Teardownable {
  teardown(fn: () => void | Promise<void>): void;
}

export interface RunOptions {
  /** Written to the child's standard input. */
  input?: string;
  /** The whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed with SIGKILL after this long (default 60 s); status is then null. */
  timeoutMs?: number;
}

export interface RunResult {
  /** Exit status, or null when the process was killed by a signal (or timed out). */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/tsrunc synchronously with `args`. */
export function runTsrunc(args: string[], opts: RunOptions = {}): RunResult {
  if (!fs.existsSync(TSRUNC)) {
    throw new Error(`${TSRUNC} is missing: run \`node scripts/build.mjs\` first`);
  }
  return runCommand(TSRUNC, args, opts);
}

/** Runs any program synchronously (no shell). */
export function runCommand(file: string, args: string[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(file, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A new directory under os.tmpdir(), removed (recursively, forcibly) when `t` ends. */
export function tempDir(t: Teardownable, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh, empty state root for `--root`, in a temp dir removed when `t` ends. */
export function privateRoot(t: Teardownable): string {
  const root = path.join(tempDir(t, 'tsrunc-root'), 'root');
  fs.mkdirSync(root, { mode: 0o700 });
  return root;
}

/** Entries left under a state root (none, or a missing root, means nothing was created). */
export function rootEntries(root: string): string[] {
  try {
    return fs.readdirSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The ../shared/clients directory, or undefined when this machine does not have it. */
export function clientsDir(): string | undefined {
  return fs.existsSync(CLIENTS_DIR) && fs.statSync(CLIENTS_DIR).isDirectory() ? CLIENTS_DIR : undefined;
}

/** Why a test that needs ../shared/clients is skipped. */
export const NO_CLIENTS = `${CLIENTS_DIR} is absent (recorded client inputs not available here)`;

/** The text of ../shared/clients/<name>, or undefined when the directory is absent. */
export function clientFile(name: string): string | undefined {
  const dir = clientsDir();
  if (dir === undefined) return undefined;
  return fs.readFileSync(path.join(dir, name), 'utf8');
}

/**
 * A client's config.json from ../shared/clients (`containerd-default.config.json`, or just
 * `containerd-default`), parsed; undefined when the directory is absent (skip with NO_CLIENTS).
 * A missing file in a present directory throws: that is a broken test, not a missing fixture.
 */
export function clientConfig(name: string): Spec | undefined {
  const dir = clientsDir();
  if (dir === undefined) return undefined;
  const file = name.endsWith('.json') ? name : `${name}.config.json`;
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Spec;
}

/** File names of every *.config.json in ../shared/clients, sorted; undefined when absent. */
export function clientConfigNames(): string[] | undefined {
  const dir = clientsDir();
  if (dir === undefined) return undefined;
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.config.json'))
    .sort();
}

/** Writes `<bundle>/config.json` (and an empty `<bundle>/rootfs` unless rootfs is false). */
export function writeBundle(bundle: string, config: unknown, opts: { rootfs?: boolean } = {}): string {
  fs.mkdirSync(bundle, { recursive: true });
  if (opts.rootfs !== false) fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  return bundle;
}

/** The last line of a `--log-format json` log file, parsed. */
export function lastLogEntry(file: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1];
  return last === undefined ? undefined : (JSON.parse(last) as Record<string, unknown>);
}

/** The tsx loader as a file: URL, so that a child node can run TypeScript from any cwd. */
export const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;

/** An environment for child node processes without the test runner's NODE_OPTIONS hooks. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_OPTIONS'];
  return env;
}

/** Node arguments that run `code` (CommonJS; `require` of src/*.ts works) under tsx. */
export function nodeTsArgs(code: string): string[] {
  return ['--import', TSX_LOADER, '-e', code];
}

/** Starts `node -e code` under tsx; the caller owns the child (kill it in a teardown). */
export function spawnTs(code: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, nodeTsArgs(code), {
    env: opts.env ?? childEnv(),
    cwd: opts.cwd ?? REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Absolute path of a module under src/, for `require` in a child's code. */
export function srcModule(rel: string): string {
  return path.join(REPO_ROOT, 'src', rel);
}

/** Kills a child (SIGKILL) if it is still running; safe to call twice. */
export function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Resolves when the child has exited and its stdout and stderr have closed, with its status and
 * signal: everything it wrote has then been read ('exit' alone may come first).
 */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const status = (): { code: number | null; signal: NodeJS.Signals | null } => ({
    code: child.exitCode,
    signal: child.signalCode,
  });
  const ended = child.exitCode !== null || child.signalCode !== null;
  if (ended && [child.stdout, child.stderr].every((s) => s === null || s.closed)) return Promise.resolve(status());
  return new Promise((resolve) => child.once('close', () => resolve(status())));
}

/** Collects a stream's text into `sink.text` as it arrives. */
export function collect(stream: NodeJS.ReadableStream | null): { text: string } {
  const sink = { text: '' };
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    sink.text += chunk;
  });
  return sink;
}

// The deadlines below only bound a failure: they are generous because CI runs two test files
// at a time on 2 cores (and some files also in a TCG guest 10-50x slower).

/**
 * Polls `pred` every `everyMs` until it holds: true, or false once `timeoutMs` have passed
 * (with one last look). The 100 ms default suits a predicate that runs a client's CLI.
 */
export async function pollUntil(pred: () => boolean, timeoutMs = 60_000, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return pred();
}

/** As pollUntil (every 10 ms by default), but rejects, naming `what`, when the time is up. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 60_000, everyMs = 10): Promise<void> {
  if (!(await pollUntil(pred, timeoutMs, everyMs)))
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
