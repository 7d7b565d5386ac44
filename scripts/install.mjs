// The package's `install` script (issue 20), as node-gyp-build's: use the prebuilt addon,
// tsrunc-init and the front (bin/tsrunc's program) shipped for this platform and architecture when they load here, else compile
// both with node-gyp (another arch, another libc, a libseccomp too old or missing). Then, in an
// installed package (dist/ present, no sources), write bin/tsrunc (the front, told this node and this path)
// and make its code cache (scripts/build.mjs --launcher). A source checkout always compiles,
// as `node-gyp rebuild` did, and `prepare` then builds dist/.
//
// TSRUNC_BUILD_FROM_SOURCE=1 (or npm's --build-from-source) skips the prebuild.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (text) => process.stderr.write(`tsrunc install: ${text}\n`);

/** Whether the addon at `file` loads in a fresh node (dlopen: libc, libseccomp.so.2, N-API). */
function loads(file) {
  const probe = `const b = require(${JSON.stringify(file)}); if (typeof b.seccompVersion !== 'function') process.exit(2); b.seccompVersion();`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0)
    say(`the prebuilt addon does not load here: ${(r.stderr || `status ${r.status}`).trim().split('\n')[0]}`);
  return r.status === 0;
}

function prebuildFits() {
  const fromSource =
    process.env.TSRUNC_BUILD_FROM_SOURCE === '1' || process.env.npm_config_build_from_source === 'true';
  if (fromSource) return false;
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const addon = path.join(dir, 'tsrunc.napi.glibc.node');
  for (const f of [addon, path.join(dir, 'tsrunc-init'), path.join(dir, 'tsrunc-front')])
    if (!fs.existsSync(f)) return false;
  return loads(addon);
}

/**
 * node-gyp as npm runs it for install scripts: the first on PATH (a project's own in
 * node_modules/.bin, as a source checkout's pinned one, else the node-gyp-bin of npm), or
 * npm's bundled one named by npm_config_node_gyp.
 */
function compile() {
  let r = spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit' });
  const gyp = process.env.npm_config_node_gyp;
  if (r.error?.code === 'ENOENT' && gyp !== undefined && gyp !== '')
    r = spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' });
  if (r.error !== undefined || r.status !== 0) {
    say(
      'compiling the addon failed: it needs a C++ toolchain (g++, make, python3), pkg-config and libseccomp-dev ' +
        `(Debian: apt-get install g++ make python3 pkg-config libseccomp-dev)${r.error ? ` (${r.error.message})` : ''}`,
    );
    process.exit(r.status || 1);
  }
}

const installed = fs.existsSync(path.join(root, 'dist', 'boot.cjs')) && !fs.existsSync(path.join(root, 'src'));
if (installed && prebuildFits()) {
  // A compile left by an earlier install would be taken first (src/native/addon.ts).
  fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
  say(`using the prebuilt addon for ${process.platform}-${process.arch}`);
} else {
  compile();
}
if (installed) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--launcher'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}
