// pack.mjs [--out DIR]: the npm package (issue 20), from a finished build (`npm run build`:
// build/Release and dist/). `npm run package` builds, then runs this. Prints the tarball's path.
//
// The package is staged in a temp directory, not packed from the work tree: it holds what
// runs (dist/: the CLI and library bundles, which carry every JavaScript dependency inside),
// the addon, tsrunc-init and the front prebuilt for this platform and architecture under
// prebuilds/<platform>-<arch>/ (node-gyp-build's layout), the C++ sources and binding.gyp for
// the compile where no prebuild fits, the library's declarations (dist/index.d.ts, one bundled file), the man pages
// and completion (share/), docs; and a package.json made from this one:
// its only dependency node-addon-api, bundled (headers for that compile, no download), and
// its only script `install` (scripts/install.mjs). bin/tsrunc is an sh launcher that finds
// node on PATH (so that an install without scripts works); the install script replaces it with
// the native front naming the installing node, as a source build's bin/tsrunc is.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shLauncher } from './sh-launcher.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outAt = process.argv.indexOf('--out');
const out = path.resolve(outAt > 0 ? process.argv[outAt + 1] : root);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const fail = (msg) => {
  process.stderr.write(`pack: ${msg}\n`);
  process.exit(1);
};

const need = [
  'build/Release/tsrunc.node',
  'build/Release/tsrunc-init',
  'build/Release/tsrunc-front',
  'dist/boot.cjs',
  'dist/build-id',
  'dist/lib.cjs',
  'share/man/man8/tsrunc.8',
];
for (const f of need) if (!fs.existsSync(path.join(root, f))) fail(`${f} is missing: run \`npm run build\` first`);

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-pack-'));
try {
  const copy = (from, to = from) => {
    fs.mkdirSync(path.dirname(path.join(stage, to)), { recursive: true });
    fs.cpSync(path.join(root, from), path.join(stage, to), { recursive: true, dereference: true });
  };
  for (const f of ['boot.cjs', 'tsrunc.cjs', 'tsrunc.cjs.map', 'lib.cjs', 'daemon.cjs', 'worker.cjs', 'build-id'])
    copy(`dist/${f}`);
  copy('share');
  const prebuilds = `prebuilds/${process.platform}-${process.arch}`;
  copy('build/Release/tsrunc.node', `${prebuilds}/tsrunc.napi.glibc.node`);
  copy('build/Release/tsrunc-init', `${prebuilds}/tsrunc-init`);
  copy('build/Release/tsrunc-front', `${prebuilds}/tsrunc-front`);
  for (const f of [
    'binding.gyp',
    'native',
    'scripts/install.mjs',
    'scripts/build.mjs',
    'scripts/front-config.mjs',
    'scripts/install-extras.sh',
    'README.md',
    'docs/library.md',
  ])
    copy(f);
  copy('node_modules/node-addon-api');

  // The library's declarations, bundled into one file (dts-bundle-generator from src/index.ts:
  // the types of what the library exports, none of its internals' modules). It is checked by
  // test/integration/package.test.ts, which type-checks a program against it (no skipLibCheck).
  execFileSync(
    path.join(root, 'node_modules', '.bin', 'dts-bundle-generator'),
    [
      '--silent',
      '--no-banner',
      '--no-check',
      '--project',
      path.join(root, 'tsconfig.json'),
      '-o',
      path.join(stage, 'dist', 'index.d.ts'),
      path.join(root, 'src', 'index.ts'),
    ],
    { stdio: 'inherit' },
  );

  // The stand-in bin/tsrunc: the sh launcher the front replaced (the same environment clean-up
  // and --preserve-fds scan), with the node on PATH and the package found from its own path,
  // for an install that runs no scripts. The install script replaces it with the front,
  // told the installing node (scripts/build.mjs --launcher).
  const launcher = shLauncher('node', [], '/BOOT').split('\n');
  const execAt = launcher.findIndex((l) => l.startsWith('exec ') && l.includes('/BOOT'));
  if (execAt < 0) fail('the sh launcher has no exec line naming its boot file');
  launcher[execAt] = 'exec node "$(dirname "$(readlink -f "$0")")/../dist/boot.cjs" "$@"';
  launcher.splice(1, 1, '# The stand-in until scripts/install.mjs writes the front for the installing node.');
  fs.mkdirSync(path.join(stage, 'bin'));
  fs.writeFileSync(path.join(stage, 'bin', 'tsrunc'), launcher.join('\n'), { mode: 0o755 });

  const manifest = { ...pkg };
  delete manifest.devDependencies;
  delete manifest.tap;
  manifest.scripts = { install: pkg.scripts.install };
  manifest.dependencies = { 'node-addon-api': pkg.dependencies['node-addon-api'] };
  manifest.bundleDependencies = ['node-addon-api'];
  manifest.man = fs
    .readdirSync(path.join(stage, 'share', 'man', 'man8'))
    .sort()
    .map((f) => `share/man/man8/${f}`);
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  fs.mkdirSync(out, { recursive: true });
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], {
      cwd: stage,
      encoding: 'utf8',
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    }),
  );
  process.stdout.write(`${path.join(out, packed[0].filename)}\n`);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
