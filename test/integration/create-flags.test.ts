// create's flags that change how the init is set up: --no-pivot, the session keyring
// (--no-new-keyring), and LISTEN_FDS (systemd socket activation) passed on as runc does.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, testContainer, userNamespace } from '../helpers/container';
import { RUNC, runcTwin } from '../helpers/runc';
import { TSRUNC } from '../helpers/tsrunc';

const skip = rootSkipReason();

t.test('--no-pivot enters the rootfs with MS_MOVE and chroot', { skip }, async (t) => {
  const c = testContainer(t, (s) => (s.process!.args = ['sh', '-c', 'ls /bin/busybox && hostname']));
  const plan = c.tsrunc(['create', '--dry-run', '--no-pivot', c.id]).stdout;
  t.match(plan, /entering the rootfs with MS_MOVE and chroot \(--no-pivot\)/);
  t.notMatch(plan, /pivot_root/);
  const runPlan = c.tsrunc(['run', '--dry-run', '--no-pivot', c.id]);
  t.equal(runPlan.stdout, plan, 'run --dry-run prints the same plan');
  t.equal(c.status(), 'missing', 'and creates nothing');
  const r = c.tsrunc(['run', '--no-pivot', c.id]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\/bin\/busybox\ntsrunc\n$/);
  // As runc's msMoveRoot: every proc and sysfs mount of the host outside the rootfs is detached
  // (or covered) before the chroot, for the kernel lets a namespace mount procfs or sysfs where a
  // full one is in it.
  const host = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - (proc|sysfs) /.test(l))
    .map((l) => l.split(' ')[4] ?? '');
  t.ok(host.length > 0);
  for (const mp of host)
    t.match(
      plan,
      new RegExp(
        `detaching the host's (proc|sysfs) mount ${mp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(--no-pivot\\)`,
      ),
      `the plan detaches ${mp}`,
    );
});

t.test(
  '--no-pivot in a user namespace: the container cannot mount a bare /proc, as with runc',
  { skip: skip || (RUNC === undefined ? 'runc is not installed' : false) },
  async (t) => {
    for (const caps of ['default', 'none'] as const) {
      const c = testContainer(
        t,
        (s, bundle) => {
          userNamespace(s, { bundle });
          if (caps === 'none') delete s.process!.capabilities;
          s.root!.readonly = false;
          s.process!.args = ['sh', '-c', 'mount -t proc proc /mnt 2>/dev/null && echo MOUNTED || echo refused'];
        },
        { copyRootfs: true },
      );
      execFileSync('chown', ['-R', '100000:100000', path.join(c.bundle, 'rootfs')]);
      const ours = c.tsrunc(['run', '--no-pivot', c.id]);
      t.equal(ours.stdout, 'refused\n', `${caps} capabilities: ${ours.stderr}`);
      t.equal(
        runcTwin(t, c).run(['run', '--no-pivot', 'ID']).stdout,
        ours.stdout,
        `${caps} capabilities: as with runc`,
      );
    }
  },
);

t.test('a new session keyring named after the container, unless --no-new-keyring', { skip }, async (t) => {
  const keyring = (extra: string[]): string => {
    const c = testContainer(t, (s) => (s.process!.args = ['cat', '/proc/self/stat']));
    const plan = c.tsrunc(['create', '--dry-run', ...extra, c.id]).stdout;
    t.equal(/joining a new session keyring/.test(plan), extra.length === 0, `plan ${extra.join(' ')}`);
    const r = c.tsrunc(['run', ...extra, c.id]);
    t.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  keyring([]);
  keyring(['--no-new-keyring']);
});

t.test('LISTEN_FDS: the fds are preserved and LISTEN_FDS/LISTEN_PID=1 reach the process', { skip }, async (t) => {
  const c = testContainer(
    t,
    (s) => (s.process!.args = ['sh', '-c', 'echo $LISTEN_FDS $LISTEN_PID; ls /proc/self/fd | sort -n | tr "\\n" " "']),
  );
  const out = path.join(c.bundle, 'out');
  const o = fs.openSync(out, 'w');
  const extra = fs.openSync('/dev/null', 'r');
  const r = spawnSync(TSRUNC, ['--root', c.root, 'run', c.id], {
    cwd: c.bundle,
    stdio: ['ignore', o, 'inherit', extra],
    env: { ...process.env, LISTEN_FDS: '1', LISTEN_PID: String(process.pid) },
  });
  fs.closeSync(o);
  fs.closeSync(extra);
  t.equal(r.status, 0);
  const text = fs.readFileSync(out, 'utf8');
  t.match(text, /^1 1\n/, 'LISTEN_FDS=1 LISTEN_PID=1');
  t.match(text, /\b3 /, 'fd 3 reached the container');
});
