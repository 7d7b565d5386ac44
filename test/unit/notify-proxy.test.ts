// The NOTIFY_SOCKET proxy (src/lifecycle/notify.ts) without a container: real datagram sockets
// in a temp dir stand for the caller's socket and the container's end.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { NOTIFY_DIR, NotifyProxy } from '../../src/lifecycle/notify';
import { native } from '../../src/native/addon';

function setup(t: Test): { proxy: NotifyProxy; send(text: string): void; host(): string | null } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, NOTIFY_DIR));
  const hostPath = path.join(dir, 'host.sock');
  const hostFd = native().bindUnixgram(hostPath);
  t.teardown(() => fs.closeSync(hostFd));
  const proxy = NotifyProxy.open(dir, 'c1', { NOTIFY_SOCKET: hostPath }) as NotifyProxy;
  t.teardown(() => proxy.close());
  return {
    proxy,
    send: (text) => native().sendUnixgram(path.join(dir, NOTIFY_DIR, 'notify.sock'), text),
    host: () => native().recvDatagram(hostFd, 0),
  };
}

t.test('only READY=1 is passed on, with MAINPID', async (t) => {
  const { proxy, send, host } = setup(t);
  send('STATUS=starting');
  t.equal(proxy.poll(42, 0), false);
  t.equal(host(), null, 'STATUS= is not passed on');
  send('X=1\nREADY=1\nMAINPID=1');
  t.equal(proxy.poll(42, 0), true);
  t.equal(host(), 'READY=1\nMAINPID=42\n', "the container's MAINPID is replaced by the init's");
});

t.test('a container that keeps sending cannot hold tsrunc in one poll', async (t) => {
  const { proxy, send } = setup(t);
  // (the kernel queues at most net.unix.max_dgram_qlen datagrams, 10 by default)
  for (let i = 0; i < 9; i++) send(`STATUS=${i}`);
  send('READY=1');
  t.equal(proxy.poll(7, 0), false, 'a poll reads a bounded number of datagrams and returns');
  let polls = 1;
  while (!proxy.poll(7, 0) && polls < 10) polls++;
  t.ok(polls < 10, 'the READY=1 behind them is still passed on by a later poll');
});

t.test('no proxy without a NOTIFY_SOCKET or without the container having one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.equal(NotifyProxy.open(dir, 'c1', { NOTIFY_SOCKET: '/x' }), undefined, 'created without one: no notify/');
  fs.mkdirSync(path.join(dir, NOTIFY_DIR));
  t.equal(NotifyProxy.open(dir, 'c1', {}), undefined, 'no NOTIFY_SOCKET from the caller');
});
