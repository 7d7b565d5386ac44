// seccomp with libseccomp: a profile that returns EPERM for mkdir, docker's and podman's default
// profiles, a KILL action, exec under the container's filter, refusals with pointers, runc's
// -ENOSYS stub for syscalls newer than the profile, and runc's SCMP_ACT_NOTIFY refusals.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { Seccomp, Spec } from '../../src/spec/types';
import { clientConfig, tempDir, type Teardownable } from '../helpers/tsrunc';
import { rootSkipReason, runContainer, testContainer } from '../helpers/container';
import { RUNC, runcTwin } from '../helpers/runc';

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
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }],
    };
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

const noClients = clientConfig('docker-limits') === undefined ? 'no ../shared/clients' : false;

t.test("docker's default profile runs busybox sh normally", { skip: skip || noClients }, async (t) => {
  const docker = clientConfig('docker-limits') as { linux: { seccomp: Seccomp } };
  const r = runContainer(t, (s) => {
    s.linux!.seccomp = docker.linux.seccomp;
    s.process!.args = [
      'sh',
      '-c',
      'echo ok; ls /bin | wc -l; cat /proc/self/status | grep Seccomp:; unshare -U true 2>&1 || echo unshare-refused',
    ];
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^ok\n\d+\nSeccomp:\t2\n/);
  t.match(r.stdout, /unshare-refused/, "docker's profile refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN");
});

t.test('a profile that refuses execveat (runc never calls it) still runs the container', { skip }, async (t) => {
  const denyExecveat: Seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['execveat'], action: 'SCMP_ACT_ERRNO' }],
  };
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
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: ['SECCOMP_FILTER_FLAG_TSYNC'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
    };
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
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath: sock,
      listenerMetadata: 'hello',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
    };
    s.process!.args = ['sh', '-c', 'mkdir /tmp/n 2>&1; echo done'];
  });
  t.equal(r.status, 0, r.stderr);
  // The receiver closed the listener without answering: the notified syscall fails ENOSYS.
  t.match(r.stdout, /Function not implemented\ndone/);
  const got = JSON.parse(fs.readFileSync(out, 'utf8')) as {
    doc: { fds: string[]; metadata: string; pid: number; state: { id: string; status: string } };
    fds: number;
  };
  t.equal(got.fds, 1, 'one fd with the message');
  t.same(got.doc.fds, ['seccompFd']);
  t.equal(got.doc.metadata, 'hello');
  t.equal(got.doc.state.id, r.container.id);
  t.ok(got.doc.pid > 0);
});

t.test(
  "NOTIFY through exec: the agent gets the exec'd process's listener and pid, and a missing agent fails the exec",
  { skip },
  async (t) => {
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
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        listenerPath: sock,
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
      };
    });
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    await waitFor(() => fs.existsSync(out), "the init's listener");
    const e = c.tsrunc(['exec', c.id, 'sh', '-c', 'mkdir /tmp/n 2>&1; echo $$']);
    t.equal(e.status, 0, e.stderr);
    t.match(
      e.stdout,
      /Function not implemented\n\d+\n/,
      'the notified syscall reached the listener (closed unanswered: ENOSYS)',
    );
    await waitFor(() => fs.existsSync(`${out}.1`), "the exec's listener");
    const got = JSON.parse(fs.readFileSync(`${out}.1`, 'utf8')) as {
      doc: { pid: number; state: { id: string; pid: number } };
      fds: number;
    };
    t.equal(got.fds, 1);
    t.equal(got.doc.state.id, c.id);
    t.equal(got.doc.state.pid, c.pid(), "the state is the container's (its init's pid)");
    t.not(got.doc.pid, got.doc.state.pid, "the message's pid is the exec'd process's");
    py.kill('SIGKILL');
    fs.rmSync(sock, { force: true });
    const missing = c.tsrunc(['exec', c.id, 'true']);
    t.equal(missing.status, 255, 'no agent: the exec fails before anything runs');
    t.match(missing.stderr, /exec failed: failed to connect with seccomp agent specified in the seccomp profile/);
  },
);

/**
 * A static program, compiled for the test, that makes each raw syscall number it is given
 * (all arguments 0) and prints "NR RESULT ERRNO-NAME", and for "thread" starts and joins a
 * pthread (glibc 2.34+ tries clone3 first and falls back to clone only on ENOSYS).
 */
const PROBE = `
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
static void *run(void *arg) { return arg; }
int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "thread") == 0) {
      pthread_t th;
      int rc = pthread_create(&th, NULL, run, NULL);
      if (rc == 0) rc = pthread_join(th, NULL);
      printf("thread %s\\n", rc == 0 ? "ok" : strerrorname_np(rc));
      continue;
    }
    long nr = strtol(argv[i], NULL, 0);
    long r = syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L);
    printf("%ld %ld %s\\n", nr, r, r < 0 ? strerrorname_np(errno) : "-");
  }
  return 0;
}
`;

/** A directory holding the compiled probe, to bind at /mnt (the shared rootfs stays untouched). */
function probeDir(t: Teardownable): string {
  const dir = tempDir(t, 'tsrunc-probe');
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'probe.c'), PROBE);
  execFileSync('gcc', ['-static', '-O2', '-o', path.join(dir, 'probe'), path.join(dir, 'probe.c')]);
  return dir;
}

function withProbe(dir: string, profile: Seccomp, args: string[]): (s: Spec) => void {
  return (s) => {
    s.mounts!.push({ destination: '/mnt', type: 'bind', source: dir, options: ['bind', 'ro'] });
    s.linux!.seccomp = profile;
    s.process!.args = ['/mnt/probe', ...args];
  };
}

/** Only what glibc's static start, the probe, tsrunc-init and runc (after the filter) call: nothing newer than rseq (334). */
const OLD_SYSCALLS = [
  'read',
  'write',
  'writev',
  'close',
  'fstat',
  'newfstatat',
  'fstatfs',
  'statfs',
  'lseek',
  'mmap',
  'mprotect',
  'munmap',
  'madvise',
  'brk',
  'rt_sigaction',
  'rt_sigprocmask',
  'rt_sigreturn',
  'sigaltstack',
  'ioctl',
  'fcntl',
  'dup2',
  'dup3',
  'pipe2',
  'openat',
  'readlink',
  'getcwd',
  'chdir',
  'fchdir',
  'clone',
  'execve',
  'exit',
  'exit_group',
  'wait4',
  'kill',
  'tgkill',
  'getpid',
  'gettid',
  'getppid',
  'futex',
  'set_robust_list',
  'set_tid_address',
  'rseq',
  'arch_prctl',
  'prlimit64',
  'getrandom',
  'uname',
  'nanosleep',
  'sched_yield',
  'sched_getaffinity',
  'epoll_create1',
  'epoll_ctl',
  'epoll_pwait',
  'capget',
  'capset',
  'prctl',
  'setresuid',
  'setresgid',
  'setgroups',
  'getuid',
  'geteuid',
  'getgid',
  'getegid',
  'getdents64',
  'pread64',
  'access',
  'faccessat',
  'umask',
  'setsid',
  'keyctl',
  'poll',
  'ppoll',
  'clock_gettime',
  'clock_nanosleep',
  'sysinfo',
  'socket',
  'connect',
  'sendmsg',
  'recvmsg',
];
const strictProfile = (extra: Partial<Seccomp> = {}): Seccomp => ({
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [{ names: OLD_SYSCALLS, action: 'SCMP_ACT_ALLOW' }],
  ...extra,
});

/** Runs the probe under `profile` with tsrunc and, where installed, with runc: the outputs must be the same. */
function probeBesideRunc(t: Test, dir: string, profile: Seccomp, args: string[], what: string): string {
  const c = testContainer(t, withProbe(dir, profile, args));
  const ours = c.tsrunc(['run', c.id]);
  if (RUNC !== undefined) {
    const theirs = runcTwin(t, c).run(['run', 'ID']);
    t.equal(
      ours.stdout,
      theirs.stdout,
      `${what}: the same as runc's (${theirs.stderr.trim() || `status ${theirs.status}`})`,
    );
    t.equal(ours.status, theirs.status, `${what}: runc's exit status`);
  }
  return ours.stdout;
}

t.test(
  'syscalls newer than the profile answer ENOSYS, not the default action, so glibc falls back from clone3 (beside runc)',
  { skip },
  async (t) => {
    const dir = probeDir(t);
    // 1000: no such syscall; 435: clone3, 440: process_madvise, both newer than anything named;
    // 83: mkdir, older than the highest named (rseq, 334) and not named: the default action.
    const args = ['1000', '435', '440', '83', 'thread'];
    t.equal(
      probeBesideRunc(t, dir, strictProfile(), args, 'defaultAction ERRNO'),
      '1000 -1 ENOSYS\n435 -1 ENOSYS\n440 -1 ENOSYS\n83 -1 EPERM\nthread ok\n',
    );
    t.equal(
      probeBesideRunc(
        t,
        dir,
        strictProfile({ defaultAction: 'SCMP_ACT_KILL_PROCESS' }),
        ['1000', '435', 'thread'],
        'defaultAction KILL_PROCESS',
      ),
      '1000 -1 ENOSYS\n435 -1 ENOSYS\nthread ok\n',
    );
    t.equal(
      probeBesideRunc(t, dir, strictProfile({ defaultErrnoRet: 28 }), ['1000', '83'], 'defaultErrnoRet ENOSPC'),
      '1000 -1 ENOSYS\n83 -1 ENOSPC\n',
    );
    // clone3 named (ERRNO EPERM): its rule, not the stub, and glibc does not fall back.
    const named = strictProfile({
      syscalls: [...(strictProfile().syscalls ?? []), { names: ['clone3'], action: 'SCMP_ACT_ERRNO' }],
    });
    t.equal(
      probeBesideRunc(t, dir, named, ['1000', '435', '436', 'thread'], 'clone3 named with EPERM'),
      '1000 -1 ENOSYS\n435 -1 EPERM\n436 -1 ENOSYS\nthread EPERM\n',
    );
    // runc 1.1.5 builds the stub for the profile's architectures only: none listed, none built.
    t.equal(
      probeBesideRunc(
        t,
        dir,
        strictProfile({ architectures: undefined }),
        ['1000', '435', 'thread'],
        'no architectures',
      ),
      '1000 -1 EPERM\n435 -1 EPERM\nthread EPERM\n',
    );
  },
);

t.test(
  "docker's and podman's recorded default profiles: busybox sh runs, and newer syscalls answer ENOSYS as with runc",
  { skip: skip || noClients },
  async (t) => {
    const dir = probeDir(t);
    // docker's profile names clone3 with ENOSYS itself; podman's allows it (EINVAL for a null argument).
    for (const [client, clone3] of [
      ['docker-limits', 'ENOSYS'],
      ['podman-limits', 'EINVAL'],
    ]) {
      const profile = (clientConfig(client) as { linux: { seccomp: Seccomp } }).linux.seccomp;
      const r = runContainer(t, (s) => {
        s.linux!.seccomp = profile;
        s.process!.args = [
          'sh',
          '-c',
          'echo ok; ls /bin | wc -l; grep Seccomp: /proc/self/status; ls -d /proc/self/fd/0 && echo listed',
        ];
      });
      t.equal(r.status, 0, `${client}: ${r.stderr}`);
      t.match(r.stdout, /^ok\n\d+\nSeccomp:\t2\n\/proc\/self\/fd\/0\nlisted\n$/, `${client}: busybox sh runs`);
      t.equal(
        probeBesideRunc(t, dir, profile, ['1000', '435', 'thread'], client),
        `1000 -1 ENOSYS\n435 -1 ${clone3}\nthread ok\n`,
        `${client}: 1000 answers ENOSYS; threads start`,
      );
    }
  },
);

t.test(
  "SCMP_ACT_NOTIFY on write, or as the default action, is refused at create with the pointer and runc's reason",
  { skip },
  async (t) => {
    const cases: [Seccomp, RegExp, string][] = [
      [
        {
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: '/nonexistent.sock',
          syscalls: [{ names: ['mkdir', 'write'], action: 'SCMP_ACT_NOTIFY' }],
        },
        /\/linux\/seccomp\/syscalls\/0\/names\/1: SCMP_ACT_NOTIFY cannot be used for the write syscall/,
        'SCMP_ACT_NOTIFY cannot be used for the write syscall',
      ],
      [
        {
          defaultAction: 'SCMP_ACT_NOTIFY',
          listenerPath: '/nonexistent.sock',
          syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }],
        },
        /\/linux\/seccomp\/defaultAction: SCMP_ACT_NOTIFY cannot be used as default action/,
        'SCMP_ACT_NOTIFY cannot be used as default action',
      ],
    ];
    for (const [profile, ours, reason] of cases) {
      const c = testContainer(t, (s) => (s.linux!.seccomp = profile));
      const r = c.tsrunc(['create', c.id]);
      t.equal(r.status, 1);
      t.match(r.stderr, ours);
      t.equal(c.status(), 'missing', 'nothing was created');
      if (RUNC !== undefined) {
        const theirs = runcTwin(t, c).run(['create', 'ID']);
        t.equal(theirs.status, 1, `runc refuses it too: ${theirs.stderr.trim()}`);
        t.ok(theirs.stderr.includes(reason), "runc's reason is the same text");
      }
    }
  },
);

// runc's words for an agent socket it cannot connect to (tsrunc's message adds its own detail).
const AGENT_PHRASE = 'failed to connect with seccomp agent';

t.test(
  `a missing seccomp agent socket fails create and exec with "${AGENT_PHRASE}" (beside runc)`,
  { skip },
  async (t) => {
    const { spawn } = await import('node:child_process');
    const { waitFor } = await import('../helpers/tsrunc');
    const dir = tempDir(t, 'tsrunc-agent');
    const missing = path.join(dir, 'missing.sock');
    const notifyMkdir = (listenerPath: string): Seccomp => ({
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath,
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
    });
    const c = testContainer(t, (s) => (s.linux!.seccomp = notifyMkdir(missing)));
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1);
    t.ok(r.stderr.includes(missing), 'create: the message names the socket');
    t.match(r.stderr, AGENT_PHRASE, "create: runc's words");
    t.equal(c.status(), 'missing', 'nothing is left');
    if (RUNC !== undefined) {
      const theirs = runcTwin(t, c).run(['create', 'ID']);
      t.equal(theirs.status, 1, 'runc: create fails too');
      t.match(
        theirs.stderr,
        `${AGENT_PHRASE} specified in the seccomp profile: dial unix ${missing}: connect: no such file or directory`,
        "runc's message",
      );
    }

    // exec: the agent answered the container's init, then went away.
    const sock = path.join(dir, 'agent.sock');
    const out = path.join(dir, 'got.json');
    const py = spawn('python3', ['-c', LISTENER, sock, out], { stdio: 'ignore' });
    t.teardown(() => void py.kill('SIGKILL'));
    await waitFor(() => fs.existsSync(`${out}.ready`), 'the python listener to listen');
    const d = testContainer(t, (s) => (s.linux!.seccomp = notifyMkdir(sock)));
    const twin = RUNC === undefined ? undefined : runcTwin(t, d);
    t.equal(d.tsrunc(['run', '-d', d.id]).status, 0);
    if (twin !== undefined) t.equal(twin.run(['run', '-d', 'ID']).status, 0, 'runc: run -d with the agent');
    py.kill('SIGKILL');
    fs.rmSync(sock, { force: true });
    const e = d.tsrunc(['exec', d.id, 'true']);
    t.equal(e.status, 255);
    t.match(e.stderr, /exec failed: /);
    t.ok(e.stderr.includes(sock), 'exec: the message names the socket');
    t.match(e.stderr, AGENT_PHRASE, "exec: runc's words");
    if (twin !== undefined) {
      const theirs = twin.run(['exec', 'ID', 'true']);
      t.not(theirs.status, 0, `runc: exec fails too (${theirs.status})`);
      t.match(
        theirs.stderr,
        `${AGENT_PHRASE} specified in the seccomp profile: dial unix ${sock}: connect: no such file or directory`,
        "runc's message",
      );
    }
  },
);
