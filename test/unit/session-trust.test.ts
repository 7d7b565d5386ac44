// Once tsrunc-init is inside a container's namespaces, another process of the container could
// take it over and speak for it on the sync socket: the runtime accepts only the messages the
// plan leads it to expect, in order, and a reported pid only when it is the child's own child;
// what C would cut (a message, a seccomp program) is refused whole.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import t from 'tap';
import { native } from '../../src/native/addon';
import { gatherProcessHostFacts } from '../../src/lifecycle/host-facts';
import { processSteps } from '../../src/plan/process-steps';
import type { Process, Spec } from '../../src/spec/types';
import { TsruncError, systemError } from '../../src/errors';
import { ExpectedMessages, checkedChildPid, stepFailure } from '../../src/lifecycle/session';
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
  for (const bad of ['', '0', '-5', '12abc', '99999999999', ' 5'])
    refused(t, () => checkedChildPid(bad, process.pid, 'c'), `${JSON.stringify(bad)} is refused`);
});

t.test("the addon's receive refuses an empty datagram (not the socket's end) and tells the end apart", async (t) => {
  const n = native();
  const [parent, child] = n.socketPair();
  t.teardown(() => {
    for (const fd of [parent, child]) {
      try {
        fs.closeSync(fd);
      } catch {
        // closed by the test
      }
    }
  });
  n.sendMessage(child, 'pid 5');
  t.equal(n.recvMessage(parent, 1000), 'pid 5');
  t.equal(n.recvMessage(parent, 0), null, 'nothing more: a timeout, not an end');
  n.sendMessage(child, '');
  t.throws(() => n.recvMessage(parent, 1000), { code: 'EBADMSG' }, 'an empty message is refused');
  fs.closeSync(child);
  t.equal(n.recvMessage(parent, 1000), '', 'the socket closed: the end');
});

t.test(
  'a seccomp profile that compiles past the 4096 BPF instructions the kernel loads is refused at its pointer',
  async (t) => {
    const values = Array.from({ length: 5000 }, (_, i) => i + 1);
    const spec = {
      ociVersion: '1.2.0',
      process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } },
      linux: {
        seccomp: {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: values.map((v) => ({
            names: ['write'],
            action: 'SCMP_ACT_ERRNO',
            args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }],
          })),
        },
      },
    } as unknown as Spec;
    const { problems } = processSteps(
      spec.process as Process,
      spec,
      { pointer: '/process', preserveFds: 0 },
      gatherProcessHostFacts(),
    );
    t.match(problems, [
      { pointer: '/linux/seccomp', message: /compiles to \d+ BPF instructions, more than the kernel loads \(4096\)/ },
    ]);
  },
);

t.test("a step's failure keeps its errno, names the step, and a hook's is told whole", async (t) => {
  const failing: Plan = {
    ...plan,
    steps: [
      { op: 'mkdir', path: '/x', mode: 0o755 },
      { op: 'hook', hook: 'createContainer', index: 0, path: '/h', args: [], env: [], timeout: 0, stateIndex: 0 },
    ],
  };
  const mkdir = stepFailure(failing, '0 EACCES mkdir: permission denied', 'c');
  t.equal(mkdir.message, 'creating directory /x: mkdir: permission denied');
  t.equal(mkdir.context.errno, 'EACCES', 'the errno, by name');
  t.equal(mkdir.context.step, 'mkdir');
  const hook = stepFailure(failing, '1 ECANCELED createContainer hook #0 (/h) failed: exit status 3: no', 'c');
  t.equal(
    hook.message,
    'createContainer hook #0 (/h) failed: exit status 3: no',
    "the runtime's hooks' words, not prefixed",
  );
  t.equal(
    stepFailure(failing, '-1 EINVAL not a tsrunc plan: invalid argument', 'c').message,
    'container process: not a tsrunc plan: invalid argument',
  );
  t.equal(stepFailure(failing, 'garbage', 'c').message, 'container process failed: garbage');
  const sys = systemError(
    'opening x',
    Object.assign(new Error('ENOENT: no such file or directory, open x'), { code: 'ENOENT', syscall: 'open' }),
  );
  t.equal(sys.context.errno, 'ENOENT', "systemError keeps a Node error's code");
});
