// restore --lsm-profile and --lsm-mount-context (issue 18): the LSM labels a restored container
// gets, with tsrunc and with runc in the same guest, the outcomes compared. CRIU runs only in
// the QEMU guest (scripts/v2-guest.sh): the AppArmor cases in .ci/run's CRIU lane (Debian's 6.1
// kernel has AppArmor as its LSM), the SELinux cases in its SELinux lane (`--lsm selinux`: the
// same kernel booted with SELinux and a small policy of scripts/v2-guest/selinux-policy.conf,
// permissive). Each skips, saying why, where its LSM is not the kernel's.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { busyboxRootfs, CGROUP_PARENT, removeCgroupParent, runWithFiles, sleeperSpec } from '../helpers/container';
import { count, countsOnFrom, criuSkipReason, LOOP, logErrors, runPiped } from '../helpers/criu';
import { RUNC } from '../helpers/runc';
import type { Spec } from '../../src/spec/types';
import { privateRoot, tempDir, TSRUNC, waitFor, type RunResult } from '../helpers/tsrunc';

t.setTimeout(900_000);
const skip = criuSkipReason();

type Tool = 'tsrunc' | 'runc';
const TOOLS: Tool[] = RUNC === undefined ? ['tsrunc'] : ['tsrunc', 'runc'];
const BINARY: Record<Tool, string> = { tsrunc: TSRUNC, runc: RUNC ?? 'runc' };

// --- AppArmor ---------------------------------------------------------------------------

const AA_FS = '/sys/kernel/security/apparmor';
/** apparmor_parser: installed, or Debian's package unpacked by scripts/setup.sh. */
const AA_PARSER = [
  '/sbin/apparmor_parser',
  '/usr/sbin/apparmor_parser',
  '/var/cache/tsrunc/apparmor/sbin/apparmor_parser',
].find((p) => fs.existsSync(p));

function apparmorSkipReason(): string | false {
  if (skip) return skip;
  if (!fs.existsSync(AA_FS))
    return `AppArmor is not this kernel's LSM (no ${AA_FS}); .ci/run runs this file in scripts/v2-guest.sh --modules tun, whose kernel has it`;
  if (AA_PARSER === undefined)
    return "apparmor_parser is not installed (scripts/setup.sh unpacks Debian's apparmor package into /var/cache/tsrunc/apparmor)";
  return false;
}
const aaSkip = apparmorSkipReason();

/**
 * Loads a profile allowing everything a counting container and criu's parasite do, under a
 * unique name, removed in teardown (a task still confined by it becomes unconfined).
 */
function loadProfile(t: Test, name: string): string {
  const dir = tempDir(t, 'aa-profile');
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    `profile ${name} flags=(attach_disconnected,mediate_deleted) {\n` +
      '  file,\n  capability,\n  network,\n  unix,\n  signal,\n  ptrace,\n  mount,\n  umount,\n  pivot_root,\n}\n',
  );
  execFileSync(AA_PARSER as string, ['--config-file=/dev/null', '-r', file], { stdio: 'pipe' });
  t.teardown(() => {
    try {
      fs.writeFileSync(path.join(AA_FS, '.remove'), name);
    } catch {
      // (already gone)
    }
  });
  return name;
}

/** The LSM label of a process, as /proc/PID/attr/current shows it. */
function labelOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/attr/current`, 'utf8').replace(/\0/g, '').trim();
  } catch (err) {
    return `(${(err as Error).message})`;
  }
}

// --- a counting container, for one tool --------------------------------------------------

interface Box {
  tool: Tool;
  id: string;
  bundle: string;
  counter: string;
  run(args: string[]): RunResult;
  piped(args: string[]): Promise<{ code: number | null; output: string }>;
  pid(): number;
}

let serial = 0;

function box(t: Test, tool: Tool, edit: (spec: Spec) => void): Box {
  const bundle = tempDir(t, `lsm-${tool}`);
  execFileSync('cp', ['-a', busyboxRootfs(t), path.join(bundle, 'rootfs')]);
  const id = `lsm-${tool}-${process.pid}-${++serial}`;
  const spec = sleeperSpec(path.join(bundle, 'rootfs'), `${CGROUP_PARENT}/${id}`);
  spec.root!.readonly = false;
  spec.process!.args = ['sh', '-c', `cd / && ${LOOP}`];
  edit(spec);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  const root = privateRoot(t);
  const b: Box = {
    tool,
    id,
    bundle,
    counter: path.join(bundle, 'rootfs', 'c'),
    run: (args) => runWithFiles(BINARY[tool], ['--root', root, ...args], { cwd: bundle, timeoutMs: 180_000 }),
    piped: (args) => runPiped(BINARY[tool], ['--root', root, ...args], bundle, 180_000),
    pid: () => {
      const s = b.run(['state', id]);
      return s.status === 0 ? (JSON.parse(s.stdout) as { pid: number }).pid : 0;
    },
  };
  t.teardown(() => {
    b.run(['delete', '--force', id]);
    removeCgroupParent();
  });
  return b;
}

function ok(t: Test, r: RunResult | { code: number | null; output: string }, what: string, log?: string): boolean {
  const code = 'status' in r ? r.status : r.code;
  const text = 'status' in r ? `${r.stdout}${r.stderr}` : r.output;
  return t.equal(code, 0, code === 0 ? what : `${what}: ${text}${log ? logErrors(log) : ''}`);
}

/**
 * Checkpoints the running container and restores it with `flags`; returns what the restored
 * init is (its label, by `label`), after checking that it counts on from where it stood.
 */
async function cycle(
  t: Test,
  b: Box,
  flags: string[],
  label: (pid: number) => string,
): Promise<Record<string, unknown>> {
  const images = tempDir(t, 'lsm-images');
  const ckpt = b.run(['checkpoint', '--image-path', images, b.id]);
  ok(t, ckpt, `${b.tool} checkpoint`, path.join(images, 'dump.log'));
  const frozen = count(b.counter);
  const since = Date.now();
  const restore = await b.piped(['restore', '-d', '--image-path', images, ...flags, b.id]);
  ok(t, restore, `${b.tool} restore -d ${flags.join(' ')}`, path.join(images, 'restore.log'));
  const pid = b.pid();
  const restored = pid > 0 ? label(pid) : '(no container)';
  if (restore.code === 0) await countsOnFrom(t, b.counter, frozen, since);
  return { checkpoint: ckpt.status, restore: restore.code, label: restored };
}

t.test(
  'restore --lsm-profile apparmor:NAME: the restored container runs under NAME; without it, under its own profile',
  { skip: aaSkip },
  async (t) => {
    const tag = `${process.pid}-${Date.now() % 100000}`;
    const a = loadProfile(t, `tsrunc-test-a-${tag}`);
    const b = loadProfile(t, `tsrunc-test-b-${tag}`);
    const outcomes: Record<string, unknown>[] = [];
    for (const tool of TOOLS) {
      await t.test(tool, async (t) => {
        const c = box(t, tool, (spec) => {
          spec.process!.apparmorProfile = a;
        });
        const run = await c.piped(['run', '-d', c.id]);
        ok(t, run, `${tool} run -d`);
        await waitFor(() => count(c.counter) >= 2, `${tool}'s container to count`, 60_000, 50);
        const created = labelOf(c.pid());
        t.equal(created, `${a} (enforce)`, `the container runs under ${a}`);
        const plain = await cycle(t, c, [], labelOf);
        t.equal(plain.label, `${a} (enforce)`, 'restored without --lsm-profile: still under its own profile');
        const other = await cycle(t, c, ['--lsm-profile', `apparmor:${b}`], labelOf);
        t.equal(other.label, `${b} (enforce)`, `restored with --lsm-profile apparmor:${b}: under ${b}`);
        t.equal(c.run(['delete', '--force', c.id]).status, 0, 'the restored container deletes');
        // (the profiles' names differ per run: compared by role)
        const role = (l: unknown): unknown => (l === `${a} (enforce)` ? 'A' : l === `${b} (enforce)` ? 'B' : l);
        outcomes.push({
          created: role(created),
          plain: { ...plain, label: role(plain.label) },
          other: { ...other, label: role(other.label) },
        });
      });
    }
    if (outcomes.length === 2) t.same(outcomes[0], outcomes[1], 'tsrunc and runc: the same outcomes');
  },
);
