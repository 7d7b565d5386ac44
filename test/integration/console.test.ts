// process.terminal: the pty master reaches --console-socket over SCM_RIGHTS, as runc sends it.
// Node cannot receive fds, so the receiver is a small python3 program (socket.recv_fds): it
// types commands into the master and copies what comes back to a file.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { cgroupDirsOf, rootSkipReason, testContainer } from '../helpers/container';
import { leftovers } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { startReceiver } from '../helpers/console-receiver';
import { tempDir, waitFor } from '../helpers/tsrunc';

const python = spawnSync(
  'python3',
  ['-c', 'import socket, sys; assert hasattr(socket, "recv_fds"); print(sys.version)'],
  { encoding: 'utf8' },
);
const skip =
  rootSkipReason() || (python.status === 0 ? false : 'needs python3 >= 3.9 (socket.recv_fds) for the console receiver');

t.test('the console socket receives a working pty master', { skip }, async (t) => {
  const dir = tempDir(t, 'tsrunc-console');
  const sock = path.join(dir, 'console.sock');
  const outFile = path.join(dir, 'out');
  const commands = 'tty; grep " /dev/console " /proc/self/mountinfo; stty size; echo hi-$((6*7)); exit 0\n';
  const receiver = startReceiver(t, sock, commands, outFile);
  await waitFor(() => fs.existsSync(sock), 'the receiver to listen');

  const c = testContainer(t, (s) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 30, width: 100 };
    s.process!.args = ['sh'];
  });
  const r = c.tsrunc(['run', '--console-socket', sock, c.id]);
  t.equal(r.status, 0, r.stderr);
  t.ok(await receiver.closed(), 'the receiver saw the pty close');
  t.match(receiver.stderr.text, /received 1 fd\(s\), name \/dev\/ptmx/);
  const out = fs.readFileSync(outFile, 'utf8');
  t.match(out, /^hi-42\r?$/m, 'the shell ran the command typed into the master');
  t.match(out, /^\/dev\/pts\/0\r?$/m, "tty is /dev/pts/0 of the container's devpts");
  t.match(out, /^30 100\r?$/m, 'consoleSize');
  const consoleLine = out.split(/\r?\n/).find((l) => / \/dev\/console /.test(l) && / - devpts /.test(l));
  t.ok(consoleLine, `/dev/console is a devpts mount: ${out}`);
  t.equal(consoleLine?.split(' ')[3], '/0', '/dev/console is a bind of pts/0');
  t.same(leftovers(c), [], 'run removed the container');
});

t.test("create with a console socket, then start: the shim's way", { skip }, async (t) => {
  const dir = tempDir(t, 'tsrunc-console');
  const sock = path.join(dir, 'console.sock');
  const outFile = path.join(dir, 'out');
  const receiver = startReceiver(t, sock, 'echo started-$((1+1)); exit 7\n', outFile);
  await waitFor(() => fs.existsSync(sock), 'the receiver to listen');
  const c = testContainer(t, (s) => {
    s.process!.terminal = true;
    s.process!.args = ['sh'];
  });
  const created = c.tsrunc(['create', '--console-socket', sock, c.id]);
  t.equal(created.status, 0, created.stderr);
  t.equal(c.status(), 'created');
  t.equal(c.tsrunc(['start', c.id]).status, 0);
  t.ok(await receiver.closed(), 'the shell exited');
  t.match(fs.readFileSync(outFile, 'utf8'), /^started-2\r?$/m);
  await waitFor(() => c.status() === 'stopped', 'the container to stop');
  t.equal(c.tsrunc(['delete', c.id]).status, 0);
  t.same(leftovers(c), []);
});

t.test('run in the foreground without a console socket relays the pty to its own stdio', { skip }, async (t) => {
  const c = testContainer(t, (s) => {
    s.process!.terminal = true;
    s.process!.args = ['sh'];
  });
  const r = c.tsrunc(['run', c.id], { input: 'tty; echo hi-$((6*7)); exit 3\n' });
  t.equal(r.status, 3, r.stderr);
  t.match(r.stdout, /^hi-42\r?$/m);
  t.match(r.stdout, /^\/dev\/pts\/0\r?$/m);
  t.same(leftovers(c), []);
});

t.test('terminal without --console-socket when detaching: a clear error and nothing left', { skip }, async (t) => {
  for (const cmd of [['create'], ['run', '--detach']]) {
    const c = testContainer(t, (s) => (s.process!.terminal = true));
    const r = c.tsrunc([...cmd, c.id]);
    t.equal(r.status, 1, `${cmd.join(' ')} fails`);
    t.match(r.stderr, /\/process\/terminal: a terminal needs --console-socket/);
    t.same(leftovers(c), [], `${cmd.join(' ')}: nothing left`);
    t.same(cgroupDirsOf(c.id), []);
  }
});

t.test('a console socket nobody listens on: a clear error and nothing left', { skip }, async (t) => {
  const dir = tempDir(t, 'tsrunc-console');
  const c = testContainer(t, (s) => (s.process!.terminal = true));
  const r = c.tsrunc(['create', '--console-socket', path.join(dir, 'nobody.sock'), c.id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /console socket/);
  t.same(leftovers(c), []);
});

t.test("exec -t over a console socket: the shims' way of `exec -it`", { skip }, async (t) => {
  const dir = tempDir(t, 'tsrunc-console');
  const sock = path.join(dir, 'exec.sock');
  const outFile = path.join(dir, 'out');
  const receiver = startReceiver(t, sock, 'tty; echo exec-$((6*7)); exit 0\n', outFile);
  await waitFor(() => fs.existsSync(sock), 'the receiver to listen');
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const r = c.tsrunc([
    'exec',
    '-t',
    '--console-socket',
    sock,
    '--detach',
    '--pid-file',
    path.join(dir, 'exec.pid'),
    c.id,
    'sh',
  ]);
  t.equal(r.status, 0, r.stderr);
  t.ok(await receiver.closed(), 'the receiver saw the pty close');
  const out = fs.readFileSync(outFile, 'utf8');
  t.match(out, /^exec-42\r?$/m, 'the exec shell ran the command typed into the master');
  t.match(out, /^\/dev\/pts\/\d+\r?$/m);
});

t.test(
  "the console belongs to the process's user, for run and exec -t, as runc makes it",
  { skip: skip || (RUNC === undefined ? 'runc is not installed' : false) },
  async (t) => {
    const show = 'stat -L -c "owner %u %g" /proc/self/fd/0; exit 0\n';
    const c = testContainer(t, (s) => {
      s.process!.terminal = true;
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.args = ['sh'];
    });
    const twin = runcTwin(t, c);
    const owners: Record<string, string> = {};
    for (const [who, run] of [
      ['tsrunc', (sock: string) => c.tsrunc(['run', '-d', '--console-socket', sock, c.id])],
      ['runc', (sock: string) => twin.run(['run', '-d', '--console-socket', sock, 'ID'])],
    ] as const) {
      const dir = tempDir(t, 'tsrunc-console');
      const sock = path.join(dir, 'console.sock');
      const outFile = path.join(dir, 'out');
      const receiver = startReceiver(t, sock, show, outFile);
      await waitFor(() => fs.existsSync(sock), 'the receiver to listen');
      const r = run(sock);
      t.equal(r.status, 0, `${who}: ${r.stderr}`);
      t.ok(await receiver.closed(), `${who}: the shell exited`);
      owners[who] = /owner (\d+ \d+)/.exec(fs.readFileSync(outFile, 'utf8'))?.[1] ?? '';
    }
    t.match(owners['tsrunc'], /^1000 /, 'the pty slave is owned by uid 1000');
    t.equal(owners['tsrunc'], owners['runc'], 'owner and group as with runc');

    const d = testContainer(t);
    t.equal(d.tsrunc(['run', '-d', d.id]).status, 0);
    const dir = tempDir(t, 'tsrunc-console');
    const sock = path.join(dir, 'exec.sock');
    const outFile = path.join(dir, 'out');
    const receiver = startReceiver(t, sock, show, outFile);
    await waitFor(() => fs.existsSync(sock), 'the receiver to listen');
    const r = d.tsrunc(['exec', '-t', '-u', '1000:1000', '--console-socket', sock, '--detach', d.id, 'sh']);
    t.equal(r.status, 0, r.stderr);
    t.ok(await receiver.closed());
    t.match(fs.readFileSync(outFile, 'utf8'), /owner 1000 /, "exec -t: the pty is the user's too");
  },
);

t.test('exec -t --process without a user object: root on the pty, as runc', { skip }, async (t) => {
  const dir = tempDir(t, 'tsrunc-console');
  const sock = path.join(dir, 'exec.sock');
  const outFile = path.join(dir, 'out');
  const receiver = startReceiver(t, sock, 'id -u; tty; exit 0\n', outFile);
  await waitFor(() => fs.existsSync(sock), 'the receiver to listen');
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const proc = path.join(dir, 'process.json');
  fs.writeFileSync(proc, JSON.stringify({ terminal: true, args: ['sh'], cwd: '/', env: ['PATH=/bin'] }));
  const r = c.tsrunc(['exec', '--process', proc, '--console-socket', sock, '--detach', c.id]);
  t.equal(r.status, 0, r.stderr);
  t.ok(await receiver.closed());
  t.match(fs.readFileSync(outFile, 'utf8'), /^0\r?\n\/dev\/pts\/\d+\r?$/m);
});
