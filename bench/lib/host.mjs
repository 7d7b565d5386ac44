// The bench's hold on the host: one workspace directory, one cgroup tree, processes it started,
// and a cleanup that undoes all of it — run on success, on failure, on Ctrl-C and on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// The same host checks the e2e tests use (`npm run bench` runs with tsx, which loads them).
import { cgroupTree, removeCgroupTree } from '../../test/helpers/cgroup-tree.ts';
import { mountsUnder, processesWith } from '../../test/helpers/clients.ts';

/** Every cgroup the bench makes (its containers' and containerd's) lies under this name. */
export const CGROUP_NAME = `tsrunc-bench-${process.pid}`;

const cleanups = [];
let cleaning = false;
const children = new Set();

/** Registers `fn` to run at cleanup (last registered runs first). */
export function onCleanup(label, fn) {
  cleanups.push({ label, fn });
}

/** Undoes everything registered, once; a failing step is reported and the rest still run. */
export function cleanup() {
  if (cleaning) return;
  cleaning = true;
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  while (cleanups.length > 0) {
    const { label, fn } = cleanups.pop();
    try {
      fn();
    } catch (err) {
      process.stderr.write(`bench: cleanup (${label}) failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

export function installSignalHandlers() {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: cleaning up\n`);
      cleanup();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A fresh workspace under the temp dir, removed at cleanup (after whatever is mounted in it). */
export function makeWorkspace() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-bench-'));
  onCleanup('workspace', () => {
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Runs a command to completion (stdio to files or captured); the bench's children are killed at cleanup. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('error', (err) => {
      children.delete(child);
      resolve({ status: 127, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (status, signal) => {
      children.delete(child);
      resolve({ status: status ?? 128, signal, stdout, stderr });
    });
  });
}

/** Starts a long-lived process (a daemon, the namespace holder); killed at cleanup unless stopped before. */
export function startDaemon(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: opts.stdio ?? 'ignore', env: opts.env ?? process.env, detached: false });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

let stdioDir;
let stdioSeq = 0;

/**
 * Runs a command to completion; its stdout and stderr go to files (a container's init inherits
 * them and may outlive the command: with pipes, waiting for them to close would hang).
 */
export function runSync(cmd, args, opts = {}) {
  if (stdioDir === undefined) {
    stdioDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-bench-stdio-'));
    const dir = stdioDir;
    onCleanup('stdio files', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const base = path.join(stdioDir, String(stdioSeq++));
  const out = fs.openSync(`${base}.out`, 'w+');
  const err = fs.openSync(`${base}.err`, 'w+');
  try {
    const r = spawnSync(cmd, args, {
      stdio: ['ignore', out, err],
      timeout: opts.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const stdout = fs.readFileSync(`${base}.out`, 'utf8');
    const stderr = fs.readFileSync(`${base}.err`, 'utf8');
    return { status: r.status ?? 128, stdout, stderr: `${stderr}${r.error ? r.error.message : ''}` };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
    fs.rmSync(`${base}.out`, { force: true });
    fs.rmSync(`${base}.err`, { force: true });
  }
}

export function have(cmd) {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .some((d) => d !== '' && fs.existsSync(path.join(d, cmd)));
}

export { mountsUnder, processesWith, cgroupTree, removeCgroupTree };
