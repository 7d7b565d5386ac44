// CRIU in the tests (issue 18): where criu is, whether it can run here, a counting loop whose
// progress a checkpoint must keep, and a runner that gives a runtime pipes for its stdio as
// containerd's shim does. Debian's criu 3.17 cannot run on this host's kernel (6.18) but runs in
// the guest of scripts/v2-guest.sh --modules tun (.ci/run's CRIU lane).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Test } from 'tap';
import { rootSkipReason } from './container';
import { pollUntil, runCommand, type RunResult } from './tsrunc';

export const CRIU = ['/usr/sbin/criu', '/usr/bin/criu', '/usr/local/sbin/criu'].find((p) => fs.existsSync(p));
/** Inside scripts/v2-guest.sh (its control share is there): every CRIU test must run. */
export const IN_GUEST = fs.existsSync('/run/v2guest/config');

export function criu(args: string[]): RunResult {
  return runCommand(CRIU as string, args, { timeoutMs: 120_000 });
}

/** criu's own error lines (or the output's tail), for messages. */
export function criuReason(r: RunResult): string {
  const out = `${r.stdout}${r.stderr}`;
  const errors = out
    .split('\n')
    .filter((l) => /Error|Does not look good/.test(l))
    .map((l) => l.replace(/^.*Error \([^)]*\): /, ''));
  return (errors.length > 0 ? errors : out.split('\n').slice(-5)).join('; ').trim();
}

/** Why CRIU tests cannot run here, or false: in the guest they always run. */
export function criuSkipReason(): string | false {
  const root = rootSkipReason();
  if (root) return root;
  if (CRIU === undefined) return 'criu is not installed (apt-get install criu; scripts/setup.sh installs it)';
  if (IN_GUEST) return false;
  const check = criu(['check']);
  return check.status === 0
    ? false
    : `criu check fails on this kernel (${os.release()}): ${criuReason(check)}; .ci/run runs this file in scripts/v2-guest.sh --modules tun`;
}

/** The number a counting loop last wrote to `file` (NaN while there is none). */
export function count(file: string): number {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
  } catch {
    return Number.NaN;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What went wrong, from the log criu left: its error lines (else its last lines). */
export function logErrors(file: string): string {
  let lines: string[];
  try {
    lines = fs.readFileSync(file, 'utf8').split('\n');
  } catch {
    return `(no ${file})`;
  }
  const errors = lines.filter((l) => /Error|Warn/.test(l));
  return (errors.length > 0 ? errors : lines.slice(-10)).join('\n');
}

// Every step of the counting loop writes the next number to ./c, STEP_MS apart (renamed into
// place: a reader never sees it half written).
export const STEP_MS = 200;
export const LOOP = `i=0; while :; do echo $i >c.new && mv c.new c; i=$((i+1)); sleep ${STEP_MS / 1000}; done`;

/**
 * After a restore that began at `since` (Date.now()): the loop, which stood at `frozen`, writes
 * again, its first new number continuing from there (a loop started afresh would write 0) by
 * no more than the steps it had time for, and it keeps counting.
 */
export async function countsOnFrom(t: Test, file: string, frozen: number, since: number): Promise<void> {
  t.ok(await pollUntil(() => count(file) !== frozen, 30_000, 20), 'it counts again after the restore');
  const next = count(file);
  const most = frozen + Math.ceil((Date.now() - since) / STEP_MS) + 1;
  t.ok(next > frozen && next <= most, `it counts on from ${frozen}: next ${next} (at most ${most}), not from 0`);
  t.ok(await pollUntil(() => count(file) > next, 30_000, 50), 'and keeps counting');
}

/**
 * Runs a runtime with its stdin, stdout and stderr on pipes, as containerd's shim runs it, and
 * returns its exit status and what it wrote. A detached container keeps the pipes: CRIU dumps a
 * pipe to the outside as external, and a restore puts its own stdio in its place. Not a file
 * (the dump fails: "Can't lookup mount=N for fd=1", the file being outside the container's
 * mounts), nor node's 'pipe' stdio, which is a socketpair (an external unix socket): bash's
 * process substitutions, stdin empty and the output copied by cat to a file.
 */
export async function runPiped(
  binary: string,
  args: string[],
  cwd: string,
  timeoutMs = 120_000,
): Promise<{ code: number | null; output: string }> {
  const out = path.join(
    cwd,
    `out-${path.basename(binary)}-${args.find((a) => !a.startsWith('-') && !a.startsWith('/')) ?? 'x'}-${process.hrtime.bigint()}.txt`,
  );
  const res = spawnSync(
    'bash',
    ['-c', 'out=$1; shift; exec "$@" < <(:) > >(exec cat >>"$out") 2>&1', 'bash', out, binary, ...args],
    { cwd, stdio: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL' },
  );
  // cat copies what the runtime wrote just before it exited a moment later.
  await new Promise((done) => setTimeout(done, 300));
  return { code: res.status, output: fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '' };
}
