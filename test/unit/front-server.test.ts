// The front trusts a server only as far as it checks it (issue 17): a fake server (this test,
// the same uid, in a 0700 directory) answers a front with what a broken or hostile server might
// send. Anything but an exact READY of this build leaves the front on the direct path (here a
// probe instead of node, which prints "direct"); after GO, anything but an exact STATUS ends the
// front as a killed tsrunc, never with a status the server made up.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import t from 'tap';
import {
  DAEMON_BUILD_ID_LEN,
  DAEMON_MAGIC_GO,
  DAEMON_MAGIC_REPLY,
  DAEMON_MAGIC_REQUEST,
  DAEMON_MAGIC_STATUS,
  DAEMON_PROTOCOL_VERSION,
  DAEMON_REPLY_READY,
  DAEMON_REQUEST_WORDS,
  DAEMON_STATUS_EXITED,
  DAEMON_STATUS_SIGNALED,
  DAEMON_REPLY_DIRECT,
} from '../../src/daemon/protocol';
import { FRONT_BUILT, makeFront } from '../helpers/front';
import { TSRUNC, tempDir } from '../helpers/tsrunc';

const skip = fs.existsSync(FRONT_BUILT) && fs.existsSync(TSRUNC) ? false : 'the front is not built (npm run build)';
const BUILD = 'b'.repeat(DAEMON_BUILD_ID_LEN);

function words(...ws: number[]): Buffer {
  const b = Buffer.alloc(ws.length * 4);
  ws.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
}

function reply(kind: number, opts: { pid?: number; build?: string; magic?: number; version?: number } = {}): Buffer {
  return Buffer.concat([
    words(opts.magic ?? DAEMON_MAGIC_REPLY, opts.version ?? DAEMON_PROTOCOL_VERSION, kind, opts.pid ?? process.pid),
    Buffer.from(opts.build ?? BUILD),
  ]);
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the fake server read from the front. */
  got: Buffer;
}

/**
 * Runs a front against a fake server that answers the request with `answer` and, when the
 * front sends GO, with `afterGo`.
 */
async function against(
  t: Parameters<typeof tempDir>[0],
  answer: Buffer | null,
  afterGo: Buffer | null = null,
  opts: { stdinClosed?: boolean } = {},
): Promise<Outcome> {
  const dir = tempDir(t, 'tsrunc-fake-server');
  fs.chmodSync(dir, 0o700);
  const socket = path.join(dir, 's');
  const probe = path.join(dir, 'probe.js');
  fs.writeFileSync(probe, "process.stdout.write('direct')");
  const front = makeFront(t, { node: process.execPath, boot: probe, build: BUILD, replyTimeoutMs: 2000 });
  let got = Buffer.alloc(0);
  const server = net.createServer((c) => {
    let answered = false;
    c.on('data', (b) => {
      got = Buffer.concat([got, b]);
      const head = DAEMON_REQUEST_WORDS * 4;
      if (!answered && got.length >= head + DAEMON_BUILD_ID_LEN + got.readUInt32LE(8)) {
        answered = true;
        if (answer === null) c.end();
        else c.write(answer);
      } else if (answered && got.subarray(-4).readUInt32LE(0) === DAEMON_MAGIC_GO) {
        if (afterGo === null) c.destroy();
        else c.end(afterGo);
      }
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const argv = ['--root', dir, 'state', 'x'];
  const child = opts.stdinClosed
    ? spawn('/bin/sh', ['-c', 'exec "$0" "$@" <&-', front, ...argv], {
        env: { PATH: '/usr/bin:/bin', TSRUNC_DAEMON_SOCKET: socket },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(front, argv, {
        env: { PATH: '/usr/bin:/bin', TSRUNC_DAEMON_SOCKET: socket },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.once('close', (c, s) => r([c, s])),
  );
  return { code, signal, stdout, stderr, got };
}

t.test('a request says what the front is asked, and carries no fd before GO', { skip }, async (t) => {
  const o = await against(t, reply(DAEMON_REPLY_DIRECT));
  t.equal(o.stdout, 'direct', 'DIRECT: the direct path');
  t.equal(o.got.readUInt32LE(0), DAEMON_MAGIC_REQUEST);
  t.equal(o.got.subarray(DAEMON_REQUEST_WORDS * 4, DAEMON_REQUEST_WORDS * 4 + DAEMON_BUILD_ID_LEN).toString(), BUILD);
  const strings = o.got
    .subarray(DAEMON_REQUEST_WORDS * 4 + DAEMON_BUILD_ID_LEN)
    .toString()
    .split('\0');
  t.same(strings.slice(0, 4), ['--root', strings[1], 'state', 'x'], 'argv');
  t.ok(strings.includes('PATH=/usr/bin:/bin'), 'the environment');
  t.notOk(
    strings.some((s) => s.startsWith('TSRUNC_DAEMON_SOCKET=')),
    "not the front's own setting",
  );
});

t.test('anything but an exact READY of this build: the direct path', { skip }, async (t) => {
  const cases: [string, Buffer | null][] = [
    ['no answer, the connection closed', null],
    ['a short reply', reply(DAEMON_REPLY_READY).subarray(0, 20)],
    ['another magic', reply(DAEMON_REPLY_READY, { magic: 0x41414141 })],
    ['another version', reply(DAEMON_REPLY_READY, { version: 99 })],
    ['another build', reply(DAEMON_REPLY_READY, { build: 'c'.repeat(DAEMON_BUILD_ID_LEN) })],
    ['an unknown kind', reply(77)],
    ['pid 0', reply(DAEMON_REPLY_READY, { pid: 0 })],
    ['pid 1', reply(DAEMON_REPLY_READY, { pid: 1 })],
    ['a pid out of range', reply(DAEMON_REPLY_READY, { pid: 0xffffffff })],
  ];
  for (const [name, answer] of cases) {
    const o = await against(t, answer, words(DAEMON_MAGIC_STATUS, DAEMON_STATUS_EXITED, 42));
    t.same([o.code, o.stdout], [0, 'direct'], name);
    t.notOk(o.got.includes(words(DAEMON_MAGIC_GO)), `${name}: no GO sent`);
  }
});

t.test('after GO: an exact STATUS is obeyed, anything else ends the front as killed', { skip }, async (t) => {
  const ok = await against(t, reply(DAEMON_REPLY_READY), words(DAEMON_MAGIC_STATUS, DAEMON_STATUS_EXITED, 42));
  t.same([ok.code, ok.signal, ok.stdout], [42, null, ''], 'an exit status');
  const sig = await against(t, reply(DAEMON_REPLY_READY), words(DAEMON_MAGIC_STATUS, DAEMON_STATUS_SIGNALED, 15));
  t.same([sig.code, sig.signal], [null, 'SIGTERM'], 'a signal');
  const bad: [string, Buffer | null][] = [
    ['the connection closed', null],
    ['a short status', words(DAEMON_MAGIC_STATUS, DAEMON_STATUS_EXITED)],
    ['an exit status above 255', words(DAEMON_MAGIC_STATUS, DAEMON_STATUS_EXITED, 256)],
    ['signal 0', words(DAEMON_MAGIC_STATUS, DAEMON_STATUS_SIGNALED, 0)],
    ['signal 65', words(DAEMON_MAGIC_STATUS, DAEMON_STATUS_SIGNALED, 65)],
    ['another magic', words(0x41414141, DAEMON_STATUS_EXITED, 0)],
    ['an unknown kind', words(DAEMON_MAGIC_STATUS, 9, 0)],
  ];
  for (const [name, status] of bad) {
    const o = await against(t, reply(DAEMON_REPLY_READY), status);
    t.same([o.code, o.signal, o.stdout], [null, 'SIGKILL', ''], name);
    t.match(o.stderr, /worker was lost/, `${name}: said`);
  }
});

t.test("a closed stdin is not filled by the front's own socket: the request says fds 1 and 2", { skip }, async (t) => {
  const o = await against(t, reply(DAEMON_REPLY_DIRECT), null, { stdinClosed: true });
  t.equal(o.stdout, 'direct');
  t.equal(o.got.readUInt32LE(0), DAEMON_MAGIC_REQUEST);
  // The request's words: magic, version, strings, argc, envc, umask, stdio mask.
  t.equal(o.got.readUInt32LE(24), 6, 'stdio mask 0b110: fd 0 was closed when the front started');
  const open = await against(t, reply(DAEMON_REPLY_DIRECT));
  t.equal(open.got.readUInt32LE(24), 7, 'with fd 0 open: 0b111');
});

t.test(
  'a server of the same uid with fewer rights (a smaller bounding set) is not spoken to',
  { skip: skip || (process.geteuid?.() === 0 && fs.existsSync('/usr/bin/setpriv') ? false : 'needs root and setpriv') },
  async (t) => {
    const dir = tempDir(t, 'tsrunc-lesser-server');
    fs.chmodSync(dir, 0o700);
    const probe = path.join(dir, 'probe.js');
    fs.writeFileSync(probe, "process.stdout.write('direct')");
    const front = makeFront(t, { node: process.execPath, boot: probe, build: BUILD, replyTimeoutMs: 2000 });
    // The server: records what a front sends, answers READY (a hostile one would go on to GO
    // and SPAWN). As root with CAP_SYS_MODULE dropped from its bounding set, or with all.
    const script = path.join(dir, 'server.js');
    fs.writeFileSync(
      script,
      `const net = require('net'), fs = require('fs');
const [socket, record] = process.argv.slice(2);
net.createServer((c) => {
  c.on('data', (b) => fs.appendFileSync(record, b));
  c.on('error', () => {});
}).listen(socket, () => fs.writeFileSync(socket + '.up', ''));
`,
    );
    for (const [name, lesser] of [
      ['an equal server', false],
      ['a server without CAP_SYS_MODULE in its bounding set', true],
    ] as const) {
      const socket = path.join(dir, lesser ? 'lesser' : 'equal');
      const record = `${socket}.record`;
      fs.writeFileSync(record, '');
      const cmd = lesser
        ? ['/usr/bin/setpriv', '--bounding-set', '-sys_module', process.execPath, script, socket, record]
        : [process.execPath, script, socket, record];
      const server = spawn(cmd[0] as string, cmd.slice(1), { stdio: 'ignore' });
      t.teardown(() => {
        server.kill('SIGKILL');
      });
      for (let i = 0; i < 200 && !fs.existsSync(`${socket}.up`); i++) await new Promise((r) => setTimeout(r, 25));
      t.ok(fs.existsSync(`${socket}.up`), `${name}: listening`);
      const child = spawn(front, ['--root', dir, 'state', 'x'], {
        env: { PATH: '/usr/bin:/bin', TSRUNC_DAEMON_SOCKET: socket, TSRUNC_DAEMON_WAIT_MS: '300' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      await new Promise((r) => child.once('close', r));
      t.equal(stdout, 'direct', `${name}: the direct path in the end`);
      const got = fs.readFileSync(record);
      if (lesser) t.equal(got.length, 0, `${name}: the front sent it nothing`);
      else t.ok(got.length > 0 && got.readUInt32LE(0) === DAEMON_MAGIC_REQUEST, `${name}: the front sent its request`);
    }
  },
);
