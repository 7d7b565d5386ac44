// bin/tsrunc and dist/boot.cjs, as clients exec them: the launcher drops the Node settings a
// runtime has no use for and lists the fds the caller passed (for --preserve-fds), and the V8
// code cache is taken when it fits the bundle and ignored, never trusted, when it does not (a
// copied or rebuilt bundle, a damaged cache).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { checkCallerFd, checkCallerFds, preserveFdsArg, takeCallerFds } from '../../src/cli/caller-fds';
import { makeFront } from '../helpers/front';
import { REPO_ROOT, TSRUNC, runCommand, tempDir } from '../helpers/tsrunc';

const DIST = path.join(REPO_ROOT, 'dist');
const skip =
  fs.existsSync(path.join(DIST, 'boot.cjs')) && fs.existsSync(TSRUNC) ? false : 'dist/ is not built (npm run prepare)';

function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/bin:/bin', ...extra };
}

/** Whether V8 takes the `kind` cache next to `boot` (bin/tsrunc passes no node flags). */
function cacheTaken(boot: string, kind: 'light' | 'full'): string {
  const code = `process.stdout.write(String(require(${JSON.stringify(boot)}).load(${JSON.stringify(kind)}).fromCache))`;
  const r = runCommand(process.execPath, ['-e', code], { env: bareEnv() });
  return r.status === 0 ? r.stdout : `exit ${r.status}: ${r.stderr}`;
}

t.test('the launcher unsets NODE_OPTIONS and NODE_EXTRA_CA_CERTS', { skip }, async (t) => {
  // Either one would break or slow every command: a --require of a missing file kills node at
  // start, and an unreadable CA file makes it print a warning on stderr.
  const r = runCommand(TSRUNC, ['--version'], {
    env: bareEnv({ NODE_OPTIONS: '--require /nonexistent/tsrunc-test.js', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' }),
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^tsrunc version /);
  t.equal(r.stderr, '', 'nothing on stderr');
});

t.test('the built code caches are taken', { skip }, async (t) => {
  const boot = path.join(DIST, 'boot.cjs');
  t.equal(cacheTaken(boot, 'light'), 'true', 'light');
  t.equal(cacheTaken(boot, 'full'), 'true', 'full');
});

t.test('a cache that does not fit its bundle is ignored and the command still runs', { skip }, async (t) => {
  const copy = tempDir(t, 'tsrunc-dist-copy');
  for (const name of fs.readdirSync(DIST)) fs.copyFileSync(path.join(DIST, name), path.join(copy, name));
  const boot = path.join(copy, 'boot.cjs');
  // A copied bundle (same size and content, another inode and ctime) never runs another file's cache.
  t.equal(cacheTaken(boot, 'light'), 'false', "a copy does not take the original build's cache");
  const copied = runCommand(process.execPath, [boot, '--version'], { env: bareEnv() });
  t.equal(copied.status, 0, copied.stderr);
  t.match(copied.stdout, /^tsrunc version /);

  // A cache whose stamp fits but whose data is damaged: V8 rejects it, the source is compiled.
  const bundle = fs.statSync(path.join(copy, 'tsrunc.cjs'), { bigint: true });
  const stamp = `tsrunc-code-cache ${process.version} ${process.arch} ${bundle.size} ${bundle.mtimeNs} ${bundle.ino} ${bundle.ctimeNs}\n`;
  fs.writeFileSync(
    path.join(copy, 'tsrunc.cjs.light.cache'),
    Buffer.concat([Buffer.from(stamp), Buffer.alloc(4096, 0xa5)]),
  );
  t.equal(cacheTaken(boot, 'light'), 'false', 'V8 rejects the damaged cache');
  const damaged = runCommand(process.execPath, [boot, 'state', '--help'], { env: bareEnv() });
  t.equal(damaged.status, 0, damaged.stderr);
  t.match(damaged.stdout, /state/);
});

// ---- issue 12 G: the fds the caller passed, as the launcher lists them ----------------------

/**
 * A copy of bin/tsrunc (the native front) that runs a probe instead of the CLI: what it would
 * hand node in TSRUNC_CALLER_FDS ("unset" when it sets nothing), with `extra` as fds 3, 4, ...
 * ('ignore': not passed).
 */
function callerFdsSeen(
  t: Parameters<typeof tempDir>[0],
  args: string[],
  extra: (number | 'ignore')[],
  env: NodeJS.ProcessEnv = {},
): string {
  const probe = path.join(tempDir(t, 'tsrunc-launcher'), 'probe.js');
  fs.writeFileSync(probe, `process.stdout.write(process.env.TSRUNC_CALLER_FDS ?? 'unset')`);
  const file = makeFront(t, { node: process.execPath, boot: probe, build: '' });
  const r = spawnSync(file, args, { env: bareEnv(env), stdio: ['ignore', 'pipe', 'pipe', ...extra], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`probe exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

t.test('the launcher lists the open fds among 3..N+2 for --preserve-fds N, in every spelling', { skip }, async (t) => {
  const a = fs.openSync('/dev/null', 'r');
  const b = fs.openSync('/dev/null', 'r');
  t.teardown(() => [a, b].forEach((fd) => fs.closeSync(fd)));
  t.equal(
    callerFdsSeen(t, ['create', '--preserve-fds', '3', 'id'], [a, 'ignore', b]),
    '3 5',
    'spaced; the gap at 4 is not listed',
  );
  t.equal(callerFdsSeen(t, ['create', '--preserve-fds=2', 'id'], [a, b, a]), '3 4', 'with "=": only up to N+2');
  t.equal(callerFdsSeen(t, ['create', '-preserve-fds', '1', 'id'], [a]), '3', "runc's single dash");
  t.equal(
    callerFdsSeen(t, ['exec', '--preserve-fds', '1', '--preserve-fds', '40', 'id', 'true'], [a, b]),
    '3 4',
    'the largest of repeated values',
  );
  t.equal(callerFdsSeen(t, ['create', '--preserve-fds', '40', 'id'], []), '', 'nothing passed: set, and empty');
  t.equal(callerFdsSeen(t, ['create', '--preserve-fds', '-1', 'id'], [a]), '', 'a negative value counts nothing');
  t.equal(
    callerFdsSeen(t, ['create', '--preserve-fds', '1e3', 'id'], [a]),
    '',
    'nor a value written otherwise (the CLI then refuses)',
  );
  t.equal(callerFdsSeen(t, ['run', 'id'], [a], { LISTEN_FDS: '1' }), '3', 'LISTEN_FDS counts too');
  // (the sh launcher's dash kept its script open on the first free fd from 10: the front has none)
  const many = Array.from({ length: 12 }, () => 'ignore' as const);
  t.equal(callerFdsSeen(t, ['create', '--preserve-fds', '20', 'id'], many), '', 'no fd of its own is listed');
  const upTo10 = Array.from({ length: 8 }, () => a);
  t.equal(
    callerFdsSeen(t, ['create', '--preserve-fds', '20', 'id'], upTo10),
    '3 4 5 6 7 8 9 10',
    "the caller's fd 10 is",
  );
});

t.test('the launcher lists the fd of --status-fd when it is open, and only then', { skip }, async (t) => {
  const a = fs.openSync('/dev/null', 'w');
  t.teardown(() => fs.closeSync(a));
  const ckpt = (...flags: string[]): string[] => ['checkpoint', '--lazy-pages', ...flags, 'id'];
  // (extra fds are 3, 4, ...: [x, x, a] opens fd 5 only)
  const at5: ('ignore' | number)[] = ['ignore', 'ignore', a];
  t.equal(callerFdsSeen(t, ckpt('--status-fd', '5'), at5), '5', 'spaced');
  t.equal(callerFdsSeen(t, ckpt('--status-fd=5'), at5), '5', 'with "="');
  t.equal(callerFdsSeen(t, ckpt('--status-fd', '5'), []), '', 'not open: set, and empty');
  t.equal(callerFdsSeen(t, ckpt('--status-fd', '4'), at5), '', 'only the fd named');
  t.equal(callerFdsSeen(t, ckpt('--status-fd', '3', '--status-fd', '5'), [a, 'ignore', a]), '3 5', 'each one given');
  for (const v of ['05', '+5', '5x', '', '-5', '99999999999', '2147483648'])
    t.equal(callerFdsSeen(t, ckpt(`--status-fd=${v}`), at5), '', `a value written otherwise lists nothing: ${v}`);
  t.equal(callerFdsSeen(t, ckpt('--status-fd', '1'), []), '', 'stdio is never listed');
  t.equal(callerFdsSeen(t, ckpt('-status-fd', '5'), at5), '', 'a single dash (the CLI refuses it) lists nothing');
  t.equal(callerFdsSeen(t, ckpt('--status-fd'), at5), '', 'no value');
  t.equal(
    callerFdsSeen(t, ['create', '--preserve-fds', '2', '--status-fd', '4', 'id'], [a, a, a]),
    '3 4',
    'an fd --preserve-fds lists already is listed once',
  );
  t.equal(
    callerFdsSeen(t, ['create', '--preserve-fds', '1', '--status-fd', '5', 'id'], [a, a, a]),
    '3 5',
    'beside --preserve-fds: after its fds',
  );
  t.equal(
    callerFdsSeen(t, ckpt('--status-fd', '5'), at5, { TSRUNC_CALLER_FDS: '3 4 5 6' }),
    '5',
    "a caller's list is replaced",
  );
});

t.test("the launcher never passes a caller's TSRUNC_CALLER_FDS on", { skip }, async (t) => {
  t.equal(
    callerFdsSeen(t, ['state', 'id'], [], { TSRUNC_CALLER_FDS: '3 4 5' }),
    'unset',
    'a command without --preserve-fds: unset',
  );
  t.equal(
    callerFdsSeen(t, ['create', '--preserve-fds', '3', 'id'], [], { TSRUNC_CALLER_FDS: '3 4 5' }),
    '',
    'with it: its own list',
  );
});

t.test('the CLI takes the list out of its environment and checks fds 3..N+2 against it', async (t) => {
  const env: NodeJS.ProcessEnv = { TSRUNC_CALLER_FDS: '3 4 7' };
  takeCallerFds(env);
  t.equal(env['TSRUNC_CALLER_FDS'], undefined, 'deleted: no hook or child inherits it');
  t.doesNotThrow(() => checkCallerFds(2));
  t.throws(() => checkCallerFds(3), {
    kind: 'usage',
    message: '--preserve-fds 3: fd 5 was not passed by the caller (fds 3 to 5 must be open)',
  });
  t.doesNotThrow(() => checkCallerFds(0), '0: nothing to check');
  takeCallerFds({});
  t.throws(() => checkCallerFds(1), { message: /cannot tell which fds the caller passed/ });
  t.equal(preserveFdsArg(0), 0);

  // checkpoint --status-fd N: N must be listed (fds 0..2 always pass).
  takeCallerFds({ TSRUNC_CALLER_FDS: '3 9' });
  t.doesNotThrow(() => checkCallerFd(9, '--status-fd'), 'a listed fd');
  t.doesNotThrow(() => checkCallerFd(1, '--status-fd'), 'stdio');
  t.throws(() => checkCallerFd(5, '--status-fd'), {
    kind: 'usage',
    message: '--status-fd 5: fd 5 was not passed by the caller (it must be open when tsrunc starts)',
  });
  takeCallerFds({ TSRUNC_CALLER_FDS: '' });
  t.throws(() => checkCallerFd(3, '--status-fd'), { message: /fd 3 was not passed/ }, 'an empty list: nothing passed');
  takeCallerFds({});
  t.doesNotThrow(() => checkCallerFd(5, '--status-fd'), 'no list (node started otherwise): not checked, as before');
  for (const bad of [-1, 1.5, Number.NaN, '2', undefined])
    t.throws(
      () => preserveFdsArg(bad),
      { kind: 'usage', message: /--preserve-fds must be a non-negative integer/ },
      String(bad),
    );
});
