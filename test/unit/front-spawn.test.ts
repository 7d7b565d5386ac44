// A served create's SPAWN (issue 17 part 3): the front starts tsrunc-init for its worker only
// when the message is exactly what it should be. A fake worker (this test: the addon's own
// daemonAccept, daemonSpawn, daemonChildNext and daemonSignal, the same uid, in a 0700 directory) asks a
// front running `create`: a sealed plan and tsrunc-init are started as the front's child and its
// exit is reported on the channel, then that it has no child left; an unsealed tsrunc-init, or a
// preserved fd the caller did not pass, starts nothing and the worker is told why; a signal the
// worker asks the front to send goes to no process that is not the front's child.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { initPath, native } from '../../src/native/addon';
import { DAEMON_BUILD_ID_LEN, DAEMON_REPLY_READY, statusMessage } from '../../src/daemon/protocol';
import { FRONT_BUILT, makeFront } from '../helpers/front';
import { TSRUNC, tempDir, type Teardownable } from '../helpers/tsrunc';

const skip =
  fs.existsSync(FRONT_BUILT) && fs.existsSync(TSRUNC) && fs.existsSync(initPath())
    ? false
    : 'the front is not built (npm run build)';
const BUILD = 's'.repeat(DAEMON_BUILD_ID_LEN);

interface Served {
  conn: number;
  front: ChildProcess;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** A front running `create x` against this test as its worker, up to GO. */
function serve(t: Teardownable): Served {
  const n = native();
  const dir = tempDir(t, 'tsrunc-fake-worker');
  fs.chmodSync(dir, 0o700);
  const socket = path.join(dir, 's');
  const probe = path.join(dir, 'probe.js');
  fs.writeFileSync(probe, "process.stdout.write('direct')");
  const lfd = n.daemonListen(socket);
  t.teardown(() => n.closeFd(lfd));
  const frontFile = makeFront(t, { node: process.execPath, boot: probe, build: BUILD, replyTimeoutMs: 5000 });
  const front = spawn(frontFile, ['--root', dir, 'create', 'x'], {
    env: { PATH: '/usr/bin:/bin', TSRUNC_DAEMON_SOCKET: socket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => front.once('exit', (c, s) => r([c, s])));
  const c = n.daemonAccept(lfd, BUILD);
  if (c.refused !== undefined) throw new Error(`refused: ${c.refused}`);
  if (!n.daemonReply(c.conn, DAEMON_REPLY_READY, BUILD)) throw new Error('READY not sent');
  const go = n.daemonAwaitGo(c.conn, c.present);
  if (go === null) throw new Error('no GO');
  n.closeFd(go.cwd);
  for (const fd of go.stdio) if (fd >= 0) n.closeFd(fd);
  return { conn: c.conn, front, exited };
}

/** Ends the front as the server would once the worker has exited. */
async function finish(s: Served): Promise<[number | null, NodeJS.Signals | null]> {
  fs.writeSync(s.conn, statusMessage(0, null));
  native().closeFd(s.conn);
  return s.exited;
}

t.test("a SPAWN starts tsrunc-init as the front's child, its exit reported", { skip }, async (t) => {
  const n = native();
  const s = serve(t);
  const [parent, child] = n.socketPair();
  const init = n.sealedCopy(initPath());
  // Not a plan: tsrunc-init says so on its sync socket (slot 3) and exits.
  const { pid, channel } = n.daemonSpawn(s.conn, Buffer.from('not a plan'), [child], 0, init, false);
  n.closeFd(init);
  n.closeFd(child);
  t.ok(pid > 1, `pid ${pid}`);
  const said = n.recvMessage(parent, 10_000);
  t.match(typeof said === 'string' ? said : said?.text, /^error /, 'tsrunc-init ran, and refused the plan');
  const status = n.daemonChildNext(channel, false);
  t.equal(status?.pid, pid, 'the front reaped it (only its parent can) and said so');
  t.not(status?.exitCode, 0, 'with its exit status');
  t.throws(() => n.daemonChildNext(channel, false), { code: 'ECHILD' }, 'then that it has no child left');
  n.closeFd(channel);
  n.closeFd(parent);
  t.same(await finish(s), [0, null], 'the front ends with the STATUS');
});

t.test('an unsealed tsrunc-init, or a preserved fd the caller did not pass: nothing starts', { skip }, async (t) => {
  const n = native();
  for (const [name, preserve, sealed, code] of [
    ['a plain file as tsrunc-init', 0, false, 'EPERM'],
    ['fd 3 preserved, which the caller did not pass', 1, true, 'EBADF'],
  ] as const) {
    const s = serve(t);
    const [parent, child] = n.socketPair();
    const init = sealed ? n.sealedCopy(initPath()) : fs.openSync(initPath(), 'r');
    t.throws(() => n.daemonSpawn(s.conn, Buffer.from('x'), [child], preserve, init, false), { code }, name);
    n.closeFd(init);
    n.closeFd(child);
    t.equal(n.recvMessage(parent, 0), '', 'no one holds the child end: nothing was started');
    n.closeFd(parent);
    t.same(await finish(s), [0, null]);
  }
});

t.test("a SIGNAL reaches no process that is not the front's child", { skip }, async (t) => {
  const n = native();
  const s = serve(t);
  const [parent, child] = n.socketPair();
  const init = n.sealedCopy(initPath());
  const { pid, channel } = n.daemonSpawn(s.conn, Buffer.from('not a plan'), [child], 0, init, true);
  n.closeFd(init);
  n.closeFd(child);
  // A process of this test's (not the front's): the worker cannot have the front signal it.
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => void other.kill('SIGKILL'));
  t.ok(n.daemonSignal(channel, other.pid as number, 9), 'asked');
  t.ok(n.recvMessage(parent, 10_000) !== null, 'tsrunc-init ran');
  t.equal(n.daemonChildNext(channel, false)?.pid, pid, 'reaped and reported (the front read the SIGNAL before)');
  await new Promise((r) => setTimeout(r, 200));
  const stat = fs.readFileSync(`/proc/${other.pid}/stat`, 'utf8');
  t.not(stat.slice(stat.lastIndexOf(')') + 2)[0], 'Z', 'the other process lives');
  n.closeFd(channel);
  n.closeFd(parent);
  t.same(await finish(s), [0, null]);
});
