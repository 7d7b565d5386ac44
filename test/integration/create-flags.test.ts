// create's flags that change how the init is set up: --no-pivot, the session keyring
// (--no-new-keyring), and LISTEN_FDS (systemd socket activation) passed on as runc does.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, testContainer } from '../helpers/container';
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
});

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
  const c = testContainer(t, (s) => (s.process!.args = ['sh', '-c', 'echo $LISTEN_FDS $LISTEN_PID; ls /proc/self/fd | sort -n | tr "\\n" " "']));
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
