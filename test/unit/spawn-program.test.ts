// native().spawnProgram (native/spawn.cc SpawnProgram): what criu swrk is started with — exactly
// the fds it is given, default signal dispositions, nothing blocked — whatever this process has
// open or ignores.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { native } from '../../src/native/addon';

function run(script: string, fds: (out: number) => number[]): string {
  const n = native();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-spawnprog-'));
  const file = path.join(dir, 'out');
  const out = fs.openSync(file, 'w');
  try {
    const pid = n.spawnProgram('/bin/sh', ['sh', '-c', script], ['PATH=/usr/bin:/bin'], fds(out));
    const status = n.waitPid(pid, false);
    t.equal(status?.exitCode, 0, `sh -c ${script}`);
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.closeSync(out);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

t.test('the child has exactly the fds it is given; -1 is /dev/null', async (t) => {
  // An fd of this process's that is not close-on-exec must not reach the child.
  const leak = fs.openSync('/dev/null', 'r');
  const [a, b] = native().socketPair();
  try {
    const listing = run('ls /proc/self/fd; readlink /proc/self/fd/0 /proc/self/fd/3', (out) => [-1, out, out, b]);
    const fds = listing
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
    // 0..3 and ls's own directory fd: nothing of this process's (tap's channel, node's epoll,
    // its inherited fds) whatever their close-on-exec flag.
    t.same(
      fds,
      [0, 1, 2, 3, 4],
      `fds 0..3 and ls's own: ${fds.join(' ')} (this process has ${native().openFds().length})`,
    );
    t.match(listing, /\/dev\/null\nsocket:\[\d+\]/, 'fd 0 is /dev/null, fd 3 the socket given');
  } finally {
    fs.closeSync(leak);
    native().closeFd(a);
    native().closeFd(b);
  }
});

t.test("signals: node's ignored SIGPIPE is back to its default, nothing blocked", async (t) => {
  const status = run('grep -E "^Sig(Blk|Ign)" /proc/self/status', (out) => [-1, out, out]);
  t.match(status, /SigBlk:\s*0+\n/, 'nothing blocked');
  // SIGPIPE is signal 13: bit 12 of SigIgn
  const ign = BigInt(`0x${/SigIgn:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'}`);
  t.equal(ign & (1n << 12n), 0n, 'SIGPIPE not ignored');
});

t.test('a program that cannot be run is an error with errno', async (t) => {
  t.throws(() => native().spawnProgram('/nonexistent/criu', ['criu'], [], [-1, -1, -1]), { code: 'ENOENT' });
});
