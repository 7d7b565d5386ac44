// seccomp with libseccomp: a profile that returns EPERM for mkdir, docker's default profile,
// a KILL action, exec under the container's filter, and refusals with pointers.
import t from 'tap';
import type { Seccomp } from '../../src/spec/types';
import { clientConfig } from '../helpers/tsrunc';
import { rootSkipReason, runContainer, testContainer } from '../helpers/container';

const skip = rootSkipReason();
const denyMkdir = (action: string): Seccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [{ names: ['mkdir', 'mkdirat'], action }],
});

t.test('ERRNO: mkdir fails with EPERM, the rest works', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.linux!.seccomp = denyMkdir('SCMP_ACT_ERRNO');
    s.process!.args = ['sh', '-c', 'mkdir /tmp/x 2>&1; echo status=$?; ls /bin/sh'];
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Operation not permitted/);
  t.match(r.stdout, /status=1\n\/bin\/sh\n/);
});

t.test('errnoRet picks the errno', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }] };
    s.process!.args = ['sh', '-c', 'mkdir /tmp/x 2>&1; true'];
  });
  t.match(r.stdout, /No space left on device/);
});

t.test('KILL kills the process (SIGSYS)', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.linux!.seccomp = denyMkdir('SCMP_ACT_KILL_PROCESS');
    s.process!.args = ['mkdir', '/tmp/x'];
  });
  t.equal(r.status, 128 + 31, 'killed by SIGSYS');
});

t.test("docker's default profile runs busybox sh normally", { skip: skip || (clientConfig('docker-limits') === undefined ? 'no ../shared/clients' : false) }, async (t) => {
  const docker = clientConfig('docker-limits') as { linux: { seccomp: Seccomp } };
  const r = runContainer(t, (s) => {
    s.linux!.seccomp = docker.linux.seccomp;
    s.process!.args = ['sh', '-c', 'echo ok; ls /bin | wc -l; cat /proc/self/status | grep Seccomp:; unshare -U true 2>&1 || echo unshare-refused'];
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^ok\n\d+\nSeccomp:\t2\n/);
  t.match(r.stdout, /unshare-refused/, "docker's profile refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN");
});

t.test('a profile that refuses execveat (runc never calls it) still runs the container', { skip }, async (t) => {
  const denyExecveat: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['execveat'], action: 'SCMP_ACT_ERRNO' }] };
  for (const noNewPrivileges of [true, false]) {
    const r = runContainer(t, (s) => {
      s.process!.noNewPrivileges = noNewPrivileges;
      s.linux!.seccomp = denyExecveat;
      s.process!.args = ['sh', '-c', 'echo ran'];
    });
    t.equal(r.status, 0, `no_new_privs ${noNewPrivileges}: ${r.stderr}`);
    t.equal(r.stdout, 'ran\n');
  }
});

t.test("exec runs under the container's filter", { skip }, async (t) => {
  const c = testContainer(t, (s) => (s.linux!.seccomp = denyMkdir('SCMP_ACT_ERRNO')));
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const r = c.tsrunc(['exec', c.id, 'sh', '-c', 'mkdir /tmp/y 2>&1; grep Seccomp: /proc/self/status']);
  t.match(r.stdout, /Operation not permitted/);
  t.match(r.stdout, /Seccomp:\t2/);
});

t.test('without no_new_privs the filter is loaded while still privileged', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.process!.noNewPrivileges = false;
    s.process!.user = { uid: 1000, gid: 1000 };
    s.linux!.seccomp = denyMkdir('SCMP_ACT_ERRNO');
    s.process!.args = ['sh', '-c', 'grep -E "NoNewPrivs|Seccomp:" /proc/self/status'];
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /NoNewPrivs:\t0\nSeccomp:\t2/);
});

t.test('bad profiles are refused with pointers, before anything exists', { skip }, async (t) => {
  const c = testContainer(t, (s) => {
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
  });
  const r = c.tsrunc(['create', c.id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /\/linux\/seccomp\/flags\/0: unsupported seccomp flag/);
  t.match(r.stderr, /\/linux\/seccomp\/listenerPath: is required when an action is SCMP_ACT_NOTIFY/);
  t.equal(c.status(), 'missing');
});

/** A python receiver for the listener fd (Node cannot receive fds); writes what it got. */
const LISTENER = `
import socket, sys, os, json
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
open(out + '.ready', 'w').close()
n = 0
while True:
    c, _ = s.accept()
    msg, fds, flags, addr = socket.recv_fds(c, 65536, 4)
    name = out if n == 0 else '%s.%d' % (out, n)
    with open(name + '.tmp', 'w') as f:
        json.dump({'doc': json.loads(msg), 'fds': len(fds)}, f)
    os.rename(name + '.tmp', name)
    for fd in fds: os.close(fd)
    c.close()
    n += 1
`;

t.test('NOTIFY: the listener fd and the container process state reach listenerPath', { skip }, async (t) => {
  const { spawn } = await import('node:child_process');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { tempDir, waitFor } = await import('../helpers/tsrunc');
  const dir = tempDir(t, 'tsrunc-notify');
  const sock = path.join(dir, 'listener.sock');
  const out = path.join(dir, 'got.json');
  const py = spawn('python3', ['-c', LISTENER, sock, out], { stdio: 'ignore' });
  t.teardown(() => void py.kill('SIGKILL'));
  await waitFor(() => fs.existsSync(`${out}.ready`), 'the python listener to listen');
  const r = runContainer(t, (s) => {
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: sock, listenerMetadata: 'hello', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
    s.process!.args = ['sh', '-c', 'mkdir /tmp/n 2>&1; echo done'];
  });
  t.equal(r.status, 0, r.stderr);
  // The receiver closed the listener without answering: the notified syscall fails ENOSYS.
  t.match(r.stdout, /Function not implemented\ndone/);
  const got = JSON.parse(fs.readFileSync(out, 'utf8')) as { doc: { fds: string[]; metadata: string; pid: number; state: { id: string; status: string } }; fds: number };
  t.equal(got.fds, 1, 'one fd with the message');
  t.same(got.doc.fds, ['seccompFd']);
  t.equal(got.doc.metadata, 'hello');
  t.equal(got.doc.state.id, r.container.id);
  t.ok(got.doc.pid > 0);
});

t.test("NOTIFY through exec: the agent gets the exec'd process's listener and pid, and a missing agent fails the exec", { skip }, async (t) => {
  const { spawn } = await import('node:child_process');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { tempDir, waitFor } = await import('../helpers/tsrunc');
  const dir = tempDir(t, 'tsrunc-notify-exec');
  const sock = path.join(dir, 'listener.sock');
  const out = path.join(dir, 'got.json');
  const py = spawn('python3', ['-c', LISTENER, sock, out], { stdio: 'ignore' });
  t.teardown(() => void py.kill('SIGKILL'));
  await waitFor(() => fs.existsSync(`${out}.ready`), 'the python listener to listen');
  const c = testContainer(t, (s) => {
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: sock, syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
  });
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  await waitFor(() => fs.existsSync(out), "the init's listener");
  const e = c.tsrunc(['exec', c.id, 'sh', '-c', 'mkdir /tmp/n 2>&1; echo $$']);
  t.equal(e.status, 0, e.stderr);
  t.match(e.stdout, /Function not implemented\n\d+\n/, 'the notified syscall reached the listener (closed unanswered: ENOSYS)');
  await waitFor(() => fs.existsSync(`${out}.1`), "the exec's listener");
  const got = JSON.parse(fs.readFileSync(`${out}.1`, 'utf8')) as { doc: { pid: number; state: { id: string; pid: number } }; fds: number };
  t.equal(got.fds, 1);
  t.equal(got.doc.state.id, c.id);
  t.equal(got.doc.state.pid, c.pid(), "the state is the container's (its init's pid)");
  t.not(got.doc.pid, got.doc.state.pid, "the message's pid is the exec'd process's");
  py.kill('SIGKILL');
  fs.rmSync(sock, { force: true });
  const missing = c.tsrunc(['exec', c.id, 'true']);
  t.equal(missing.status, 255, 'no agent: the exec fails before anything runs');
  t.match(missing.stderr, /exec failed: connecting to the seccomp agent/);
});
