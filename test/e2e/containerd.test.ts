// containerd on tsrunc: a private containerd (its own config, root, state and socket) whose
// containerd-shim-runc-v2 runs bin/tsrunc (`ctr run --runc-binary`), driven with ctr as a
// user would. The CRI path (a configured runtime and RuntimeClass) is in cri.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason } from '../helpers/container';
import { waitForHandler } from '../helpers/host';
import { haveCommand, inPty, startContainerd, type Containerd } from '../helpers/clients';
import { TSRUNC, pollUntil } from '../helpers/tsrunc';

const skip =
  rootSkipReason() ||
  (haveCommand('containerd') ? false : 'containerd is not installed (scripts/setup.sh installs it)');

let c: Containerd;
let runcRoot: string;
let rt: string[];

function taskStatus(id: string): string | undefined {
  return new RegExp(`^${id}\\s+\\d+\\s+(\\S+)`, 'm').exec(c.ctr(['task', 'ls']).stdout)?.[1];
}

function taskPid(id: string): number {
  return Number(new RegExp(`^${id}\\s+(\\d+)`, 'm').exec(c.ctr(['task', 'ls']).stdout)?.[1] ?? -1);
}

t.before(async () => {
  if (skip !== false) return;
  c = await startContainerd(t);
  runcRoot = path.join(c.dir, 'runc-root');
  rt = ['--runc-binary', TSRUNC, '--runc-root', runcRoot];
});

t.test('ctr run --rm: output and exit status', { skip }, async (t) => {
  const hello = c.ctr(['run', '--rm', ...rt, c.image, 'hello1', 'sh', '-c', 'echo hello from $(hostname); exit 0']);
  t.equal(hello.status, 0, hello.stderr);
  t.match(hello.stdout, /^hello from \S+\n$/, 'the output reaches ctr');
  const exit3 = c.ctr(['run', '--rm', ...rt, c.image, 'exit3', 'sh', '-c', 'exit 3']);
  t.equal(exit3.status, 3, 'the exit status of a process that exits on its own reaches ctr');
  // ctr sends no HOME: tsrunc sets it from the image's /etc/passwd, as runc does.
  const home = c.ctr(['run', '--rm', ...rt, c.image, 'home1', 'sh', '-c', 'echo $HOME']);
  t.equal(home.stdout, '/root\n', 'HOME is /root');
});

t.test('ctr run -d, task ls, container info, logs, task metrics, task ps', { skip }, async (t) => {
  const logFile = path.join(c.dir, 'web.log');
  const r = c.ctr([
    'run',
    '-d',
    '--log-uri',
    `file://${logFile}`,
    ...rt,
    c.image,
    'web',
    'sh',
    '-c',
    'echo started; exec sleep 1000',
  ]);
  t.equal(r.status, 0, r.stderr);
  t.equal(taskStatus('web'), 'RUNNING', 'task ls');
  const info = JSON.parse(c.ctr(['container', 'info', 'web']).stdout) as {
    Runtime: { Name: string; Options?: { value?: string } };
  };
  t.equal(info.Runtime.Name, 'io.containerd.runc.v2');
  // The runc shim's options are a protobuf message; BinaryName is a plain string inside it.
  t.ok(
    Buffer.from(info.Runtime.Options?.value ?? '', 'base64')
      .toString('latin1')
      .includes(TSRUNC),
    'container info names tsrunc as the runtime binary',
  );
  const pid = Number(/^web\s+(\d+)/m.exec(c.ctr(['task', 'ls']).stdout)?.[1]);
  const record = JSON.parse(fs.readFileSync(path.join(runcRoot, c.namespace, 'web', 'state.json'), 'utf8')) as {
    formatVersion?: number;
    initPid?: number;
  };
  t.match(
    record,
    { formatVersion: 1, initPid: pid },
    'tsrunc (its state format) created the container; task ls shows its pid',
  );
  t.ok(
    await pollUntil(() => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8') === 'started\n'),
    "the container's output reaches the log URI",
  );
  const metrics = c.ctr(['task', 'metrics', '--format', 'json', 'web']);
  t.equal(metrics.status, 0, metrics.stderr);
  t.match(metrics.stdout, /"pids":\s*\{\s*"current":\s*1/, 'task metrics reads the cgroup tsrunc made');
  const ps = c.ctr(['task', 'ps', 'web']);
  t.equal(ps.status, 0, ps.stderr);
  t.match(ps.stdout, new RegExp(`^${pid}\\b`, 'm'), 'task ps lists the init (tsrunc ps --format json)');
});

t.test('ctr task exec, with and without -t', { skip }, async (t) => {
  const ex = c.ctr(['task', 'exec', '--exec-id', 'e1', 'web', 'sh', '-c', 'echo exec-ok; cat /proc/1/cmdline; exit 4']);
  t.equal(ex.status, 4, "the exec's exit code");
  t.equal(ex.stdout, 'exec-ok\nsleep\u00001000\u0000');
  const tty = inPty([
    'ctr',
    '--address',
    c.socket,
    '--namespace',
    c.namespace,
    'task',
    'exec',
    '-t',
    '--exec-id',
    'e2',
    'web',
    'sh',
    '-c',
    'tty; stty -a',
  ]);
  t.equal(tty.status, 0, tty.stderr);
  t.match(tty.stdout, /^\/dev\/pts\/\d+\n/, "exec -t gets a pty from tsrunc's console socket");
  t.match(tty.stdout, /speed \d+ baud/);
});

t.test('ctr task pause / resume', { skip }, async (t) => {
  t.equal(c.ctr(['task', 'pause', 'web']).status, 0);
  t.equal(taskStatus('web'), 'PAUSED');
  t.equal(c.ctr(['task', 'resume', 'web']).status, 0);
  t.equal(taskStatus('web'), 'RUNNING');
});

t.test('ctr task kill delivers the signal; task rm, container rm', { skip }, async (t) => {
  const logFile = path.join(c.dir, 'trapper.log');
  const trapper = c.ctr([
    'run',
    '-d',
    '--log-uri',
    `file://${logFile}`,
    ...rt,
    c.image,
    'trapper',
    'sh',
    '-c',
    'trap "echo got-usr1; exit 9" USR1; while true; do sleep 0.1; done',
  ]);
  t.equal(trapper.status, 0, trapper.stderr);
  // Until the shell has run its trap, pid 1 of the namespace ignores USR1.
  await waitForHandler(taskPid('trapper'), 10);
  t.equal(c.ctr(['task', 'kill', '-s', 'USR1', 'trapper']).status, 0);
  t.ok(await pollUntil(() => taskStatus('trapper') === 'STOPPED'), 'the trap ran and the task stopped');
  const rm = c.ctr(['task', 'rm', 'trapper']);
  t.equal(rm.status, 0, rm.stderr);
  t.match(rm.stderr, /exit code 9\b/, 'task rm reports the exit code the process chose');
  t.ok(
    await pollUntil(() => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8') === 'got-usr1\n'),
    "the trap's output (only) reaches the log URI",
  );
  t.equal(c.ctr(['task', 'kill', '-s', 'KILL', 'web']).status, 0);
  t.ok(await pollUntil(() => taskStatus('web') === 'STOPPED'));
  t.equal(c.ctr(['task', 'rm', 'web']).status, 0);
  t.equal(c.ctr(['container', 'rm', 'web', 'trapper']).status, 0);
  t.same(fs.readdirSync(path.join(runcRoot, c.namespace)), [], "no container left in tsrunc's root");
});

t.test('ctr run --rm -t: a real pty', { skip }, async (t) => {
  const r = inPty([
    'ctr',
    '--address',
    c.socket,
    '--namespace',
    c.namespace,
    'run',
    '--rm',
    '-t',
    ...rt,
    c.image,
    'tty1',
    'sh',
    '-c',
    'tty; stty -a',
  ]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /\/dev\/pts\/\d+\n/, 'its stdout is a pty (tsrunc create --console-socket)');
  t.match(r.stdout, /speed \d+ baud/);
});

t.test("a failing start shows tsrunc's error message through containerd", { skip }, async (t) => {
  const r = c.ctr(['run', '--rm', ...rt, c.image, 'bad1', 'no-such-program']);
  t.not(r.status, 0);
  t.match(
    r.stderr,
    /OCI runtime create failed: .*no-such-program.*executable file not found in \$PATH/,
    'the message from tsrunc --log reaches the user',
  );
});

t.test('nothing is left: no container, shim, mount, cgroup or daemon', { skip }, async (t) => {
  t.equal(c.ctr(['container', 'ls', '-q']).stdout, '', 'no container');
  t.same(await c.stop(), [], 'seen before the sweep that would remove them');
});
