// bin/tsrunc and dist/boot.cjs, as clients exec them: the launcher drops the Node settings a
// runtime has no use for, and the V8 code cache is taken when it fits the bundle and ignored,
// never trusted, when it does not (a copied or rebuilt bundle, a damaged cache).
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { REPO_ROOT, TSRUNC, runCommand, tempDir } from '../helpers/tsrunc';

const DIST = path.join(REPO_ROOT, 'dist');
const skip = fs.existsSync(path.join(DIST, 'boot.cjs')) && fs.existsSync(TSRUNC) ? false : 'dist/ is not built (npm run prepare)';

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
  const r = runCommand(TSRUNC, ['--version'], { env: bareEnv({ NODE_OPTIONS: '--require /nonexistent/tsrunc-test.js', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' }) });
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
  t.equal(cacheTaken(boot, 'light'), 'false', 'a copy does not take the original build\'s cache');
  const copied = runCommand(process.execPath, [boot, '--version'], { env: bareEnv() });
  t.equal(copied.status, 0, copied.stderr);
  t.match(copied.stdout, /^tsrunc version /);

  // A cache whose stamp fits but whose data is damaged: V8 rejects it, the source is compiled.
  const bundle = fs.statSync(path.join(copy, 'tsrunc.cjs'), { bigint: true });
  const stamp = `tsrunc-code-cache ${process.version} ${process.arch} ${bundle.size} ${bundle.mtimeNs} ${bundle.ino} ${bundle.ctimeNs}\n`;
  fs.writeFileSync(path.join(copy, 'tsrunc.cjs.light.cache'), Buffer.concat([Buffer.from(stamp), Buffer.alloc(4096, 0xa5)]));
  t.equal(cacheTaken(boot, 'light'), 'false', 'V8 rejects the damaged cache');
  const damaged = runCommand(process.execPath, [boot, 'state', '--help'], { env: bareEnv() });
  t.equal(damaged.status, 0, damaged.stderr);
  t.match(damaged.stdout, /state/);
});
