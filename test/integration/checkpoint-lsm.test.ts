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
import {
  busyboxRootfs,
  CGROUP_PARENT,
  removeCgroupParent,
  rootSkipReason,
  runWithFiles,
  sleeperSpec,
} from '../helpers/container';
import { count, countsOnFrom, CRIU, criuSkipReason, LOOP, logErrors, runPiped } from '../helpers/criu';
import { RUNC } from '../helpers/runc';
import type { Spec } from '../../src/spec/types';
import { privateRoot, runCommand, tempDir, TSRUNC, waitFor, type RunResult } from '../helpers/tsrunc';

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

// --- SELinux ----------------------------------------------------------------------------

const SE_FS = '/sys/fs/selinux';
/** Mount labels and a process label of scripts/v2-guest/selinux-policy.conf (A's range has a comma: quoted). */
const MOUNT_A = 'system_u:object_r:tsrunc_a_t:s0:c1,c2';
const MOUNT_B = 'system_u:object_r:tsrunc_b_t:s0:c3';
const PROCESS_B = 'system_u:system_r:tsrunc_pb_t:s0';

/** Whether the loaded policy takes `label` as a context (selinuxfs's context file checks it). */
function validContext(label: string): boolean {
  try {
    fs.writeFileSync(path.join(SE_FS, 'context'), label);
    return true;
  } catch {
    return false;
  }
}

function selinuxSkipReason(): string | false {
  const root = rootSkipReason();
  if (root) return root;
  if (!fs.existsSync(path.join(SE_FS, 'enforce')))
    return `SELinux is not this kernel's LSM (no ${SE_FS}); .ci/run runs this file in scripts/v2-guest.sh --lsm selinux`;
  if (!validContext(MOUNT_A) || !validContext(MOUNT_B))
    return `the loaded SELinux policy has no ${MOUNT_A} or ${MOUNT_B} (scripts/v2-guest/selinux-policy.conf has them)`;
  return false;
}
const seSkip = selinuxSkipReason();
const seCriuSkip = seSkip || skip;

/** Each mount point of a process's mount namespace with its context= (null: none), and mqueue's root label. */
function mountContexts(pid: number): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mountPoint = left.split(' ')[4] as string;
    const superOptions = right.split(' ')[2] ?? '';
    const m = /(?:^|,)context=("([^"]*)"|[^,]*)/.exec(superOptions);
    out[mountPoint] = m === null ? null : (m[2] ?? m[1] ?? null);
  }
  const mqueue = `/proc/${pid}/root/dev/mqueue`;
  const xattr = runCommand('python3', [
    '-c',
    "import os,sys; print(os.getxattr(sys.argv[1], 'security.selinux').decode().rstrip('\\0'))",
    mqueue,
  ]);
  out['(mqueue root label)'] = xattr.status === 0 ? xattr.stdout.trim() : `(${xattr.stderr.trim()})`;
  return out;
}

/** The mount points of a process's mount namespace that bind a /dev/null (the masked files). */
function devNullBinds(pid: number): Set<string> {
  const out = new Set<string>();
  for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields[3] === '/null' && fields[4] !== undefined) out.add(fields[4]);
  }
  return out;
}

/** A counting container with linux.mountLabel A, run -d, counting. */
async function labelled(t: Test, tool: Tool): Promise<Box> {
  const c = box(t, tool, (spec) => {
    spec.linux!.mountLabel = MOUNT_A;
  });
  const run = await c.piped(['run', '-d', c.id]);
  ok(t, run, `${tool} run -d`);
  await waitFor(() => count(c.counter) >= 2, `${tool}'s container to count`, 60_000, 50);
  return c;
}

t.test(
  "linux.mountLabel: tmpfs, devpts and masked directories mounted with context=, mqueue's root labelled, as runc does",
  { skip: seSkip },
  async (t) => {
    const seen: Record<string, string | null>[] = [];
    for (const tool of TOOLS) {
      await t.test(tool, async (t) => {
        const c = await labelled(t, tool);
        const contexts = mountContexts(c.pid());
        for (const m of ['/dev', '/dev/pts', '/dev/shm']) t.equal(contexts[m], MOUNT_A, `${m} has context= A`);
        t.equal(contexts['(mqueue root label)'], MOUNT_A, "/dev/mqueue's root is labelled A");
        if ('/proc/acpi' in contexts) t.equal(contexts['/proc/acpi'], MOUNT_A, "a masked directory's tmpfs has it too");
        for (const m of ['/', '/proc', '/sys']) t.equal(contexts[m], null, `${m} has none`);
        seen.push(contexts);
      });
    }
    if (seen.length === 2) t.same(seen[0], seen[1], "tsrunc's mounts are labelled as runc's, one for one");
  },
);

t.test(
  "restore --lsm-mount-context: the restored container's mounts carry the new context; without it, their own",
  { skip: seCriuSkip },
  async (t) => {
    const outcomes: Record<string, unknown>[] = [];
    for (const tool of TOOLS) {
      await t.test(tool, async (t) => {
        const c = await labelled(t, tool);
        const before = mountContexts(c.pid());
        const nullBinds = devNullBinds(c.pid());
        const plain = await cycle(t, c, [], (pid) => JSON.stringify(mountContexts(pid)));
        const kept = JSON.parse(plain.label as string) as Record<string, string | null>;
        t.equal(kept['/dev'], MOUNT_A, 'restored without the flag: /dev keeps context A');
        const other = await cycle(t, c, ['--lsm-mount-context', MOUNT_B], (pid) => JSON.stringify(mountContexts(pid)));
        const moved = JSON.parse(other.label as string) as Record<string, string | null>;
        for (const m of ['/dev', '/dev/pts', '/dev/shm'])
          t.equal(moved[m], MOUNT_B, `restored with --lsm-mount-context B: ${m} has context= B`);
        // Every mount that had context A has B now, but the /dev/null binds over masked files:
        // external mounts, which criu binds from the host's /dev/null again (no context=).
        const expected = Object.fromEntries(
          Object.entries(before)
            .filter(([m]) => m !== '(mqueue root label)')
            .map(([m, v]) => [m, v === MOUNT_A ? (nullBinds.has(m) ? null : MOUNT_B) : v]),
        );
        const { ['(mqueue root label)']: mqueueLabel, ...mounts } = moved;
        t.same(mounts, expected, 'each context= A became B, nothing else changed');
        t.equal(c.run(['delete', '--force', c.id]).status, 0, 'the restored container deletes');
        outcomes.push({ plain: { ...plain, label: kept }, other: { ...other, label: moved }, mqueueLabel });
      });
    }
    if (outcomes.length === 2) t.same(outcomes[0], outcomes[1], 'tsrunc and runc: the same outcomes');
  },
);

/** Whether this criu was built with libselinux (Debian's 3.17 is not: it knows no SELinux label). */
const CRIU_SELINUX = CRIU !== undefined && fs.readFileSync(CRIU).includes('libselinux.so');

t.test(
  `restore --lsm-profile selinux:LABEL: ${CRIU_SELINUX ? 'the restored process has LABEL' : "refused by a criu built without SELinux, with criu's words, leaving nothing"}`,
  { skip: seCriuSkip },
  async (t) => {
    const outcomes: Record<string, unknown>[] = [];
    for (const tool of TOOLS) {
      await t.test(tool, async (t) => {
        const c = await labelled(t, tool);
        const images = tempDir(t, 'lsm-images');
        ok(t, c.run(['checkpoint', '--image-path', images, c.id]), `${tool} checkpoint`, path.join(images, 'dump.log'));
        const restore = await c.piped([
          'restore',
          '-d',
          '--image-path',
          images,
          '--lsm-profile',
          `selinux:${PROCESS_B}`,
          c.id,
        ]);
        const log = fs.existsSync(path.join(images, 'restore.log'))
          ? fs.readFileSync(path.join(images, 'restore.log'), 'utf8')
          : '';
        if (CRIU_SELINUX) {
          ok(t, restore, `${tool} restore --lsm-profile selinux:B`, path.join(images, 'restore.log'));
          t.equal(labelOf(c.pid()), PROCESS_B, 'the restored init has label B');
          outcomes.push({ restore: restore.code, label: labelOf(c.pid()) });
        } else {
          const refusal = 'selinux LSM specified but selinux not supported by kernel';
          t.not(restore.code, 0, `${tool} restore fails`);
          t.match(`${restore.output}${log}`, refusal, `criu says why: "${refusal}"`);
          t.match(restore.output, /criu failed: type RESTORE/, "in runc's words");
          t.equal(c.pid(), 0, 'no container is left');
          outcomes.push({
            restore: restore.code === 0 ? 0 : 'failed',
            said: `${restore.output}${log}`.includes(refusal),
            pid: c.pid(),
          });
        }
      });
    }
    if (outcomes.length === 2) t.same(outcomes[0], outcomes[1], 'tsrunc and runc: the same outcomes');
  },
);
