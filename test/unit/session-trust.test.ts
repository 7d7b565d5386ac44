// Once tsrunc-init is inside a container's namespaces, another process of the container could
// take it over and speak for it on the sync socket: the runtime accepts only the messages the
// plan leads it to expect, in order, and a reported pid only when it is the child's own child.
import { spawn } from 'node:child_process';
import t from 'tap';
import { TsruncError } from '../../src/errors';
import { ExpectedMessages, checkedChildPid } from '../../src/lifecycle/session';
import type { Plan } from '../../src/plan/steps';

const plan: Plan = {
  containerId: 'c',
  rootfs: '/r',
  preserveFds: 0,
  fds: ['sync', 'exec-fifo'],
  steps: [
    { op: 'sync', tag: 'cgroup' },
    { op: 'unshare', namespaces: ['user'] },
    { op: 'sync', tag: 'userns' },
    { op: 'fork' },
    { op: 'sync', tag: 'hooks' },
    { op: 'seccomp', program: Buffer.alloc(8), flags: 8, rules: 1, skipped: [], notify: true },
    { op: 'ready' },
  ],
};

function refused(t: { ok(v: unknown, m: string): void }, fn: () => void, what: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof TsruncError && /out of turn|not its child/.test(caught.message), what);
}

t.test('the sync points, the pid and the seccomp listener are taken once each, in the plan order', async (t) => {
  const m = new ExpectedMessages(plan, 'c');
  for (const what of ['cgroup', 'userns', 'pid', 'hooks', 'seccomp']) m.next(what);
  refused(t, () => m.next('hooks'), 'a second "sync hooks" (prestart hooks run twice) is refused');
  const early = new ExpectedMessages(plan, 'c');
  refused(t, () => early.next('hooks'), 'hooks before the cgroup and userns syncs are refused');
  const noFork = new ExpectedMessages({ ...plan, steps: plan.steps.filter((s) => s.op !== 'fork') }, 'c');
  noFork.next('cgroup');
  noFork.next('userns');
  refused(t, () => noFork.next('pid'), 'a pid without a fork in the plan is refused');
});

t.test('a reported pid must be a live child of the process tsrunc started', async (t) => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  t.equal(checkedChildPid(String(child.pid), process.pid, 'c'), child.pid, 'its own child is taken');
  refused(t, () => checkedChildPid('1', process.pid, 'c'), 'pid 1 (a host process, not its child) is refused');
  refused(t, () => checkedChildPid(String(process.pid), process.pid, 'c'), 'the runtime itself is refused');
  refused(t, () => checkedChildPid(String(child.pid), 1, 'c'), 'a child of another process is refused');
  for (const bad of ['', '0', '-5', '12abc', '99999999999', ' 5']) refused(t, () => checkedChildPid(bad, process.pid, 'c'), `${JSON.stringify(bad)} is refused`);
});
