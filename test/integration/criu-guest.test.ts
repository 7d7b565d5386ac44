// CRIU where it can run (issue 18, step 1): Debian's criu 3.17 fails on this host's kernel
// (6.18: `criu check` stops in kerndat_vdso_fill_symtable) but runs on the 6.1 kernel of
// scripts/v2-guest.sh, whose modules the kernel loads on demand there (nf_tables, the socket
// diag modules, veth) plus tun, loaded with --modules (.ci/run). Here: `criu check` passes, a
// process dumped by criu is gone and, restored, counts on from where it was; a runc container
// checkpointed and restored likewise (the baseline tsrunc's checkpoint/restore is to match).
// In the guest (its control share /run/v2guest is there) every step must work; elsewhere the
// file runs only where `criu check` passes, else it is skipped with criu's reason.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { busyboxRootfs, CGROUP_PARENT, removeCgroupParent, rootSkipReason, sleeperSpec } from '../helpers/container';
import { RUNC, runc } from '../helpers/runc';
import { exited, pollUntil, privateRoot, runCommand, tempDir, waitFor, type RunResult } from '../helpers/tsrunc';

const CRIU = ['/usr/sbin/criu', '/usr/bin/criu', '/usr/local/sbin/criu'].find((p) => fs.existsSync(p));
const IN_GUEST = fs.existsSync('/run/v2guest/config');
// Under TCG each criu call takes seconds; a host does all of this in a few.
t.setTimeout(600_000);

function criu(args: string[]): RunResult {
  return runCommand(CRIU as string, args, { timeoutMs: 120_000 });
}

/** criu's own error lines (or the output's tail), for messages. */
function reason(r: RunResult): string {
  const out = `${r.stdout}${r.stderr}`;
  const errors = out
    .split('\n')
    .filter((l) => /Error|Does not look good/.test(l))
    .map((l) => l.replace(/^.*Error \([^)]*\): /, ''));
  return (errors.length > 0 ? errors : out.split('\n').slice(-5)).join('; ').trim();
}

function skipReason(): string | false {
  const root = rootSkipReason();
  if (root) return root;
  if (CRIU === undefined) return 'criu is not installed (apt-get install criu; scripts/setup.sh installs it)';
  if (IN_GUEST) return false;
  const check = criu(['check']);
  return check.status === 0
    ? false
    : `criu check fails on this kernel (${os.release()}): ${reason(check)}; .ci/run runs this file in scripts/v2-guest.sh --modules tun`;
}
const skip = skipReason();

/** The number a counting loop last wrote to `file` (NaN while there is none). */
function count(file: string): number {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
  } catch {
    return Number.NaN;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What went wrong, from the log criu left: its error lines (else its last lines). */
function logErrors(file: string): string {
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
const STEP_MS = 200;
const LOOP = `i=0; while :; do echo $i >c.new && mv c.new c; i=$((i+1)); sleep ${STEP_MS / 1000}; done`;

/**
 * After a restore that began at `since` (Date.now()): the loop, which stood at `frozen`, writes
 * again, its first new number continuing from there (a loop started afresh would write 0) by
 * no more than the steps it had time for, and it keeps counting.
 */
async function countsOnFrom(t: Test, file: string, frozen: number, since: number): Promise<void> {
  t.ok(await pollUntil(() => count(file) !== frozen, 30_000, 20), 'it counts again after the restore');
  const next = count(file);
  const most = frozen + Math.ceil((Date.now() - since) / STEP_MS) + 1;
  t.ok(next > frozen && next <= most, `it counts on from ${frozen}: next ${next} (at most ${most}), not from 0`);
  t.ok(await pollUntil(() => count(file) > next, 30_000, 50), 'and keeps counting');
}

t.test('criu check passes', { skip }, async (t) => {
  const check = criu(['check']);
  t.equal(check.status, 0, check.status === 0 ? 'criu check' : `criu check: ${reason(check)}`);
  t.match(check.stdout + check.stderr, /Looks good\./);
  // Informational: what --all reports missing (tun without --modules tun; autofs, which is
  // experimental, fails to mount with EINVAL on 6.1).
  const all = criu(['check', '--all']);
  t.comment(`criu check --all: exit ${all.status}: ${reason(all)}`);
});

t.test('a process dumped by criu is gone; restored, it counts on', { skip }, async (t) => {
  const dir = tempDir(t, 'criu-proc');
  const images = path.join(dir, 'images');
  fs.mkdirSync(images);
  const counter = path.join(dir, 'c');
  // A session of its own (detached): criu dumps it without --shell-job.
  const child = spawn('sh', ['-c', LOOP], { cwd: dir, detached: true, stdio: 'ignore' });
  const pid = child.pid as number;
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  await waitFor(() => count(counter) >= 2, 'the loop to count', 60_000, 50);

  const dump = criu(['dump', '-t', String(pid), '-D', images, '-o', 'dump.log', '-v4']);
  t.equal(dump.status, 0, dump.status === 0 ? 'criu dump' : `criu dump: ${logErrors(path.join(images, 'dump.log'))}`);
  t.same(await exited(child), { code: null, signal: 'SIGKILL' }, 'the dumped process was killed');
  t.notOk(alive(pid), 'its pid is free');
  const frozen = count(counter);
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(count(counter), frozen, 'nothing counts while it is dumped');

  const since = Date.now();
  const restore = criu(['restore', '-D', images, '-d', '-o', 'restore.log', '-v4']);
  t.equal(
    restore.status,
    0,
    restore.status === 0 ? 'criu restore' : `criu restore: ${logErrors(path.join(images, 'restore.log'))}`,
  );
  t.ok(alive(pid), `restored with its pid ${pid}`);
  await countsOnFrom(t, counter, frozen, since);
});

/**
 * Runs runc with its stdin, stdout and stderr on pipes, as containerd's shim runs it, and
 * returns its exit status and what it wrote. A detached container keeps the pipes: CRIU dumps a
 * pipe to the outside as external, and runc's restore puts its own stdio in its place. Not a
 * file (runWithFiles; the dump fails: "Can't lookup mount=N for fd=1", the file being outside
 * the container's mounts), nor node's 'pipe' stdio, which is a socketpair ("unix: Unix socket N
 * not found"): bash's process substitutions, stdin empty and the output copied by cat to a file.
 */
async function runcPiped(
  r: { root: string; bundle: string },
  args: string[],
): Promise<{ code: number | null; output: string }> {
  const out = path.join(r.bundle, `runc-${args[0]}-${Date.now()}.out`);
  const res = spawnSync(
    'bash',
    [
      '-c',
      'out=$1; shift; exec "$@" < <(:) > >(exec cat >>"$out") 2>&1',
      'bash',
      out,
      RUNC as string,
      '--root',
      r.root,
      ...args,
    ],
    { cwd: r.bundle, stdio: 'ignore', timeout: 120_000, killSignal: 'SIGKILL' },
  );
  // cat copies what runc wrote just before it exited a moment later.
  await new Promise((done) => setTimeout(done, 300));
  return { code: res.status, output: fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '' };
}

t.test(
  'a runc container checkpointed and restored counts on',
  { skip: skip || (RUNC === undefined ? 'runc is not installed' : false) },
  async (t) => {
    // runc alone (tsrunc is not needed): the test containers' spec, with a writable rootfs of
    // its own where the loop counts in /c.
    const bundle = tempDir(t, 'criu-runc-bundle');
    execFileSync('cp', ['-a', busyboxRootfs(t), path.join(bundle, 'rootfs')]);
    const id = `criu-${process.pid}`;
    const spec = sleeperSpec(path.join(bundle, 'rootfs'), `${CGROUP_PARENT}/${id}`);
    spec.root!.readonly = false;
    spec.process!.args = ['sh', '-c', `cd / && ${LOOP}`];
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    const r = { id, bundle, root: privateRoot(t), run: (args: string[]) => runc(r.root, args, bundle) };
    t.teardown(() => {
      r.run(['delete', '--force', id]);
      removeCgroupParent();
    });
    const counter = path.join(bundle, 'rootfs', 'c');
    const images = tempDir(t, 'criu-runc-images');
    const work = tempDir(t, 'criu-runc-work');
    const state = (): string => {
      const s = r.run(['state', r.id]);
      return s.status === 0 ? (JSON.parse(s.stdout) as { status: string }).status : 'missing';
    };

    const run = await runcPiped(r, ['run', '-d', r.id]);
    t.equal(run.code, 0, `runc run -d${run.output ? `: ${run.output}` : ''}`);
    await waitFor(() => count(counter) >= 2, 'the container to count', 60_000, 50);
    const pid = (JSON.parse(r.run(['state', r.id]).stdout) as { pid: number }).pid;

    const ckpt = r.run(['checkpoint', '--image-path', images, '--work-path', work, r.id]);
    t.equal(
      ckpt.status,
      0,
      ckpt.status === 0
        ? 'runc checkpoint'
        : `runc checkpoint: ${ckpt.stderr}${logErrors(path.join(work, 'dump.log'))}`,
    );
    t.equal(state(), 'missing', 'runc has deleted the checkpointed container');
    t.ok(await pollUntil(() => !alive(pid), 10_000), 'its init is gone');
    const frozen = count(counter);
    await new Promise((res) => setTimeout(res, 1000));
    t.equal(count(counter), frozen, 'nothing counts while it is checkpointed');

    const since = Date.now();
    const restore = await runcPiped(r, ['restore', '-d', '--image-path', images, '--work-path', work, r.id]);
    t.equal(
      restore.code,
      0,
      restore.code === 0
        ? 'runc restore -d'
        : `runc restore -d: ${restore.output}${logErrors(path.join(work, 'restore.log'))}`,
    );
    t.equal(state(), 'running', 'runc records the restored container as running');
    await countsOnFrom(t, counter, frozen, since);
  },
);
