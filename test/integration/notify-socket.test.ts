// NOTIFY_SOCKET (issue 15, item 4), as runc proxies it: a caller with NOTIFY_SOCKET set (a
// systemd service, podman --sdnotify=container) gets the container's READY=1 on its own
// socket, with MAINPID the init's host pid; `start` and `run -d` return only then. What the
// container sends besides READY=1 does not reach the caller, nor does an fd it passes along.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { native } from '../../src/native/addon';
import { rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { tempDir } from '../helpers/tsrunc';

const skip = rootSkipReason();

/** A static program that sends each argument as one datagram to $NOTIFY_SOCKET, sleeping SECS first. */
const SENDER = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path) { fprintf(stderr, "no NOTIFY_SOCKET\\n"); return 2; }
  printf("NOTIFY_SOCKET=%s\\n", path);
  fflush(stdout);
  sleep(atoi(argv[1]));
  struct sockaddr_un a = {0};
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  for (int i = 2; i < argc; i++) {
    if (sendto(fd, argv[i], strlen(argv[i]), 0, (struct sockaddr *)&a, sizeof a) < 0) { perror("sendto"); return 3; }
  }
  sleep(1000);
  return 0;
}
`;

function buildSender(t: Test, bundle: string): void {
  const dir = tempDir(t, 'tsrunc-notify-src');
  fs.writeFileSync(path.join(dir, 'sender.c'), SENDER);
  execFileSync('gcc', ['-static', '-O2', '-o', path.join(bundle, 'rootfs', 'sender'), path.join(dir, 'sender.c')]);
}

/** A container running the sender with `args`, on a copy of the rootfs holding it. */
function senderContainer(t: Test, args: string[]): TestContainer {
  const c = testContainer(t, (spec) => (spec.process!.args = ['/sender', ...args]), { copyRootfs: true });
  buildSender(t, c.bundle);
  return c;
}

/** The caller's socket: a datagram socket of the test's, and what arrives on it. */
function callerSocket(t: Test): { path: string; fd: number; read(timeoutMs: number): string | null } {
  const dir = tempDir(t, 'tsrunc-notify-host');
  const p = path.join(dir, 'host.sock');
  const fd = native().bindUnixgram(p);
  t.teardown(() => fs.closeSync(fd));
  return { path: p, fd, read: (ms) => native().recvDatagram(fd, ms) };
}

t.test('start returns once the container says READY=1, which reaches the caller with MAINPID', { skip }, async (t) => {
  const host = callerSocket(t);
  const c = senderContainer(t, ['2', 'STATUS=starting', 'X=1\nREADY=1\nMAINPID=1']);
  const env = { ...process.env, NOTIFY_SOCKET: host.path };
  const created = c.tsrunc(['create', c.id], { env });
  t.equal(created.status, 0, `create: ${created.stderr}`);
  t.ok(fs.existsSync(path.join(c.root, c.id, 'notify')), 'the state directory has notify/');
  const config = JSON.parse(fs.readFileSync(path.join(c.root, c.id, 'state.json'), 'utf8')) as {
    config: { process: { env: string[] }; mounts: { destination: string; options: string[] }[] };
  };
  t.ok(config.config.process.env.includes('NOTIFY_SOCKET=/run/notify/notify.sock'));
  t.same(config.config.mounts.find((m) => m.destination === '/run/notify')?.options, [
    'bind',
    'nosuid',
    'noexec',
    'nodev',
    'ro',
  ]);
  const pid = c.pid();
  const began = Date.now();
  const started = c.tsrunc(['start', c.id], { env });
  t.equal(started.status, 0, `start: ${started.stderr}`);
  t.ok(Date.now() - began >= 1500, 'start waited for the container (which sends after 2 s)');
  t.equal(host.read(1000), `READY=1\nMAINPID=${pid}\n`, 'READY=1 and the init host pid, nothing else');
  t.equal(host.read(300), null, 'STATUS= and the rest of what the container sent did not reach the caller');
});

t.test('run -d waits for READY=1 too; start without NOTIFY_SOCKET does not wait', { skip }, async (t) => {
  const host = callerSocket(t);
  const c = senderContainer(t, ['1', 'READY=1']);
  const r = c.tsrunc(['run', '-d', c.id], { env: { ...process.env, NOTIFY_SOCKET: host.path } });
  t.equal(r.status, 0, r.stderr);
  t.equal(host.read(1000), `READY=1\nMAINPID=${c.pid()}\n`);

  const quiet = testContainer(t, (spec) => (spec.process!.args = ['sleep', '100']));
  const env = { ...process.env, NOTIFY_SOCKET: host.path };
  t.equal(quiet.tsrunc(['create', quiet.id], { env }).status, 0);
  const noEnv = { ...process.env };
  delete noEnv['NOTIFY_SOCKET'];
  const began = Date.now();
  t.equal(quiet.tsrunc(['start', quiet.id], { env: noEnv }).status, 0);
  t.ok(Date.now() - began < 5000, 'start without NOTIFY_SOCKET returns at once');
});

t.test('a container that exits without READY=1 does not keep start waiting', { skip }, async (t) => {
  const host = callerSocket(t);
  const c = testContainer(t, (spec) => (spec.process!.args = ['sh', '-c', 'sleep 1']));
  const env = { ...process.env, NOTIFY_SOCKET: host.path };
  t.equal(c.tsrunc(['create', c.id], { env }).status, 0);
  const r = c.tsrunc(['start', c.id], { env, timeoutMs: 20_000 });
  t.equal(r.status, 0, r.stderr);
  t.equal(host.read(200), null, 'nothing was passed on');
});

t.test('foreground run passes READY=1 on while it waits for the container', { skip }, async (t) => {
  const host = callerSocket(t);
  const c = senderContainer(t, ['1', 'READY=1']);
  const child = spawn(path.join(__dirname, '..', '..', 'bin', 'tsrunc'), ['--root', c.root, 'run', c.id], {
    cwd: c.bundle,
    env: { ...process.env, NOTIFY_SOCKET: host.path },
    stdio: 'ignore',
  });
  t.teardown(() => child.kill('SIGKILL'));
  let got: string | null = null;
  for (let i = 0; i < 50 && got === null; i++) {
    got = host.read(100);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.match(got, /^READY=1\nMAINPID=\d+\n$/, 'READY=1 passed on while run waits');
  child.kill('SIGTERM');
});
