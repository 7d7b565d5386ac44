// The npm package as a user gets it (issue 20): scripts/pack.mjs makes the tarball from this
// build; it is installed into a clean Debian root filesystem (debootstrap minbase plus Node.js:
// no compiler, no make, no python, no -dev package; scripts/make-clean-rootfs.sh, cached under
// /var/cache/tsrunc) that this build's tsrunc runs as a container, read-only, with tmpfs where
// npm writes and no network. Inside it, `npm install -g` of the tarball uses the prebuilt
// addon, the installed `tsrunc` runs a busybox container of its own (nested, in the outer
// container's cgroup namespace), its man pages are where man finds them, and the library
// example of docs/library.md runs through a project's local install. On the host, a program
// is type-checked against the package's declarations.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSpec } from '../../src/spec/default-spec';
import { CAPABILITIES } from '../../src/spec/linux-names';
import type { Spec } from '../../src/spec/types';
import { CGROUP_PARENT, busyboxRootfs, removeCgroupParent, rootSkipReason } from '../helpers/container';
import { REPO_ROOT, privateRoot, runCommand, runTsrunc, tempDir } from '../helpers/tsrunc';

const CLEAN_ROOTFS = process.env.TSRUNC_CLEAN_ROOTFS ?? '/var/cache/tsrunc/clean-rootfs';
const NOT_BUILT = fs.existsSync(path.join(REPO_ROOT, 'build', 'Release', 'tsrunc.node'))
  ? false
  : 'not built (npm run build)';
const NO_MAN = spawnSync('man', ['--version']).error ? 'man is not installed' : false;

t.before(() => {
  process.on('exit', removeCgroupParent);
});

/** The package, packed once for the file. */
let tarball: string | undefined;
function pack(_sub: unknown): string {
  if (tarball === undefined) {
    const out = tempDir(t, 'tsrunc-pack-out');
    tarball = execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'pack.mjs'), '--out', out], {
      encoding: 'utf8',
    }).trim();
  }
  return tarball;
}

/** The ```js block of docs/library.md: the example the docs show is the one that runs. */
function libraryExample(): string {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'library.md'), 'utf8');
  const m = /^```js\n([\s\S]*?)^```$/m.exec(doc);
  if (m === null) throw new Error('docs/library.md has no ```js block');
  return m[1] as string;
}

t.test(
  'the tarball: what runs, its types, docs, prebuilds; no tests, no sources of the TypeScript',
  { skip: NOT_BUILT },
  async (t) => {
    const files = execFileSync('tar', ['tzf', pack(t)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    for (const f of [
      'package/package.json',
      'package/bin/tsrunc',
      'package/dist/lib.cjs',
      'package/dist/tsrunc.cjs',
      'package/dist/boot.cjs',
      'package/dist/index.d.ts',
      `package/prebuilds/linux-${process.arch}/tsrunc.napi.glibc.node`,
      `package/prebuilds/linux-${process.arch}/tsrunc-init`,
      `package/prebuilds/linux-${process.arch}/tsrunc-front`,
      'package/dist/daemon.cjs',
      'package/dist/worker.cjs',
      'package/dist/build-id',
      'package/scripts/front-config.mjs',
      'package/binding.gyp',
      'package/scripts/install.mjs',
      'package/share/man/man8/tsrunc.8',
      'package/share/man/man8/tsrunc-run.8',
      'package/share/bash-completion/completions/tsrunc',
      'package/share/zsh/site-functions/_tsrunc',
      'package/docs/library.md',
      'package/README.md',
      'package/node_modules/node-addon-api/package.json',
    ])
      t.ok(files.includes(f), f);
    t.same(
      files.filter((f) => /^package\/(test|src|bench|schema)\//.test(f) || /\.test\.ts$/.test(f)),
      [],
      'no tests, TypeScript sources or benchmarks',
    );
    const manifest = JSON.parse(
      execFileSync('tar', ['xzf', pack(t), '-O', 'package/package.json'], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    t.equal(manifest.private, undefined, 'not private');
    t.equal(manifest.types, 'dist/index.d.ts');
    t.same(manifest.dependencies, {
      'node-addon-api': (manifest.dependencies as Record<string, string>)['node-addon-api'],
    });
    t.same(manifest.scripts, { install: 'node scripts/install.mjs' });
    t.same(manifest.os, ['linux']);
  },
);

t.test('the package type-checks a program against its declarations', { skip: NOT_BUILT }, async (t) => {
  const dir = tempDir(t, 'tsrunc-types');
  fs.mkdirSync(path.join(dir, 'node_modules', 'tsrunc'), { recursive: true });
  execFileSync('tar', ['xzf', pack(t), '-C', path.join(dir, 'node_modules', 'tsrunc'), '--strip-components=1']);
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'));
  fs.symlinkSync(
    path.join(REPO_ROOT, 'node_modules', '@types', 'node'),
    path.join(dir, 'node_modules', '@types', 'node'),
  );
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'node16',
        moduleResolution: 'node16',
        target: 'es2022',
        types: ['node'],
      },
      files: ['check.ts'],
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'check.ts'),
    [
      "import { ConfigError, Runtime, TsruncError, defaultSpec, features, validateConfig } from 'tsrunc';",
      "import type { ContainerStatus, Problem, RuntimeOptions, Spec, State } from 'tsrunc';",
      "const options: RuntimeOptions = { root: '/run/example', subreaper: true };",
      'const runtime = new Runtime(options);',
      'const spec: Spec = defaultSpec();',
      "const state: State = runtime.create({ id: 'a', bundle: '/bundle', pidFile: '/run/a.pid' });",
      'const status: ContainerStatus = state.status;',
      "const exit: Promise<number> = runtime.wait('a');",
      'const all: State[] = runtime.list();',
      "runtime.kill('a', 15, true);",
      "runtime.delete('a', true);",
      "const run: Promise<number> = runtime.run({ id: 'b', bundle: '/bundle', detach: false });",
      'const versions: string = features().ociVersionMax;',
      'try {',
      "  const { warnings } = validateConfig(spec, { bundle: '/bundle' });",
      '  const w: Problem[] = warnings;',
      '  void w;',
      '} catch (err) {',
      '  if (err instanceof ConfigError) for (const p of err.problems) console.log(p.pointer, p.message);',
      '  else if (err instanceof TsruncError) console.log(err.kind, err.exitCode);',
      '}',
      '// @ts-expect-error: a container needs an id',
      "runtime.create({ bundle: '/bundle' });",
      "// @ts-expect-error: signals are numbers (the CLI's names are parsed by the CLI)",
      "runtime.kill('a', 'TERM');",
      '// @ts-expect-error: no such status',
      "const bad: ContainerStatus = 'exploded';",
      'void [status, exit, all, run, versions, bad];',
      '',
    ].join('\n'),
  );
  const r = runCommand(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', dir], { cwd: dir });
  t.equal(r.status, 0, `tsc: ${r.stdout}${r.stderr}`);
});

/**
 * The outer container: the clean root filesystem, read-only, as a privileged harness (every
 * capability, no seccomp, no masked paths, its own cgroup namespace with the cgroup mount
 * writable, every device allowed) so that the tsrunc installed in it can run containers.
 */
function outerSpec(pkgDir: string, rootfs: string, script: string): Spec {
  const spec = defaultSpec();
  spec.root = { path: CLEAN_ROOTFS, readonly: true };
  // Every capability this process may hand on (its bounding set; CAPABILITIES is in the kernel's order).
  const bounding = BigInt(
    `0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`,
  );
  const caps = CAPABILITIES.filter((_c, i) => (bounding >> BigInt(i)) & 1n);
  spec.process = {
    terminal: false,
    user: { uid: 0, gid: 0 },
    args: ['/bin/sh', '-c', script],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8'],
    cwd: '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: false,
  };
  spec.hostname = 'clean';
  const tmpfs = (destination: string, mode = '755'): NonNullable<Spec['mounts']>[number] => ({
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'nodev', `mode=${mode}`],
  });
  const bind = (source: string, destination: string): NonNullable<Spec['mounts']>[number] => ({
    destination,
    type: 'bind',
    source,
    options: ['rbind', 'ro'],
  });
  spec.mounts = [
    ...(spec.mounts ?? []).filter((m) => m.destination !== '/sys/fs/cgroup' && m.destination !== '/sys'),
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'],
    },
    tmpfs('/tmp', '1777'),
    tmpfs('/root', '700'),
    tmpfs('/run'),
    tmpfs('/usr/local'),
    tmpfs('/var/tmp', '1777'),
    bind(pkgDir, '/pkg'),
    bind(rootfs, '/tmp/bundle/rootfs'),
    bind(rootfs, '/tmp/lib-bundle/rootfs'),
  ];
  const linux = spec.linux ?? {};
  linux.namespaces = [
    { type: 'pid' },
    { type: 'network' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'cgroup' },
  ];
  linux.maskedPaths = [];
  linux.readonlyPaths = [];
  delete linux.seccomp;
  linux.resources = { devices: [{ allow: true, access: 'rwm' }] };
  linux.cgroupsPath = `${CGROUP_PARENT}/pkg-outer`;
  spec.linux = linux;
  return spec;
}

/** What runs in the clean root filesystem; each step prints a marker the test looks for. */
const INSIDE = String.raw`
set -eu
export npm_config_prefix=/usr/local npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm_config_loglevel=warn
for tool in cc gcc g++ c++ make python3 pkg-config; do
  if command -v "$tool" >/dev/null 2>&1; then echo "UNCLEAN: $tool"; exit 90; fi
done
echo "== install"
npm install -g --offline /pkg/package.tgz 2>&1
echo "== which $(command -v tsrunc)"
front=$(readlink -f "$(command -v tsrunc)")
[ "$(head -c 4 "$front" | tail -c 3)" = ELF ] && grep -aq "/usr/local/lib/node_modules/tsrunc/dist/daemon.cjs" "$front" && echo "== front written by the install script"
ls /usr/local/lib/node_modules/tsrunc/dist/ | grep -q 'cache$' && echo "== code cache made"
test ! -d /usr/local/lib/node_modules/tsrunc/build && echo "== prebuilt (no compile)"
echo "== version"
tsrunc --version
echo "== man $(ls /usr/local/share/man/man8 | tr '\n' ' ')"
echo "== without scripts"
npm install -g --offline --ignore-scripts --prefix /tmp/noscripts /pkg/package.tgz 2>&1
/tmp/noscripts/bin/tsrunc --version | grep '^libseccomp: 2\.' && echo "== stand-in launcher and prebuild work"
echo "== run"
cd /tmp/bundle
tsrunc spec
node -e '
  const fs = require("fs");
  const c = JSON.parse(fs.readFileSync("config.json", "utf8"));
  c.process.terminal = false;
  c.process.args = ["/bin/sh", "-c", "echo inner: $(hostname) pid $$; exit 7"];
  fs.writeFileSync("config.json", JSON.stringify(c));
'
status=0
tsrunc --root /run/inner run inner1 || status=$?
echo "== run status $status"
echo "== left [$(tsrunc --root /run/inner list -q)]"
echo "== library"
mkdir /tmp/app
cd /tmp/app
echo '{"name":"app","version":"1.0.0","private":true}' >package.json
npm install --offline /pkg/package.tgz 2>&1
cp /pkg/example.js .
node example.js /tmp/lib-bundle
echo "== done"
`;

t.test(
  'npm install -g of the tarball in a clean Debian without a compiler; the installed tsrunc runs a container',
  { skip: rootSkipReason() || NOT_BUILT },
  async (t) => {
    if (!fs.existsSync(path.join(CLEAN_ROOTFS, '.tsrunc-clean-rootfs'))) {
      // scripts/setup.sh makes it; built here (once, about a minute) when it did not run.
      execFileSync(path.join(REPO_ROOT, 'scripts', 'make-clean-rootfs.sh'), [CLEAN_ROOTFS], { stdio: 'inherit' });
    }
    const pkgDir = tempDir(t, 'tsrunc-pkg-in');
    fs.copyFileSync(pack(t), path.join(pkgDir, 'package.tgz'));
    fs.writeFileSync(path.join(pkgDir, 'example.js'), libraryExample());
    const rootfs = busyboxRootfs(t);
    const bundle = tempDir(t, 'tsrunc-pkg-outer');
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(outerSpec(pkgDir, rootfs, INSIDE), null, 2));
    const root = privateRoot(t);
    const id = `pkg-${process.pid}`;
    t.teardown(() => {
      runTsrunc(['--root', root, 'delete', '--force', id]);
    });
    const started = Date.now();
    const r = runTsrunc(['--root', root, 'run', '--bundle', bundle, id], { timeoutMs: 600_000 });
    t.comment(`in the clean root filesystem: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const out = r.stdout;
    if (process.env.TSRUNC_TEST_VERBOSE) t.comment(out);
    const ok = r.status === 0 && out.includes('== done');
    t.ok(ok, 'the script in the clean root filesystem ran to its end', {
      status: r.status,
      stdout: out,
      stderr: r.stderr,
    });
    t.notMatch(out, /UNCLEAN/, 'no compiler or build tool in the clean root filesystem');
    t.match(out, /== which \/usr\/local\/bin\/tsrunc/, 'tsrunc is on PATH');
    t.match(out, /== prebuilt \(no compile\)/, 'the prebuilt addon was used');
    t.match(out, /== front written by the install script\n== code cache made\n/, 'the install script wrote the front');
    t.match(out, /== stand-in launcher and prebuild work\n/, 'installed with --ignore-scripts, it works too');
    t.match(
      out,
      /== version\ntsrunc version \S+\ncommit: \S+\nspec: \S+\nnode: v\S+\nlibseccomp: 2\.\d+\.\d+\n/,
      "--version: runc's lines, libseccomp found",
    );
    t.match(out, /== man .*tsrunc-run\.8.*tsrunc\.8/, 'npm linked the man pages');
    t.match(out, /inner: tsrunc pid 1\n/, 'the installed tsrunc ran a container: its hostname, pid 1');
    t.match(out, /== run status 7\n/, "run exits with the container's status");
    t.match(out, /== left \[\]\n/, 'run left no container');
    t.match(out, /created example-\d+: status created, init pid \d+\n/, 'library: create');
    t.match(out, /started: status (running|stopped)\n/, 'library: start, state');
    t.match(out, /exited with status 3; state says stopped\n/, 'library: wait gives the exit status');
    t.match(out, /deleted: gone\n/, 'library: delete');
    t.match(out, /problem: \/process\/args: /, 'library: validation problems with their pointers');
    t.match(out, /problem: \/linux\/namespaces\/5\/type: /);
  },
);

t.test(
  'where no prebuild fits, the install compiles with node-gyp (forced here: TSRUNC_BUILD_FROM_SOURCE=1, on this machine with its compiler)',
  { skip: rootSkipReason() || NOT_BUILT },
  async (t) => {
    const prefix = tempDir(t, 'tsrunc-from-source');
    const r = runCommand('npm', ['install', '-g', '--offline', '--prefix', prefix, '--foreground-scripts', pack(t)], {
      env: {
        ...process.env,
        TSRUNC_BUILD_FROM_SOURCE: '1',
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
      },
      timeoutMs: 600_000,
    });
    t.equal(r.status, 0, `npm install: ${r.stdout}${r.stderr}`);
    const pkg = path.join(prefix, 'lib', 'node_modules', 'tsrunc');
    t.ok(fs.existsSync(path.join(pkg, 'build', 'Release', 'tsrunc.node')), 'the addon was compiled');
    t.ok(fs.existsSync(path.join(pkg, 'build', 'Release', 'tsrunc-init')), 'tsrunc-init was compiled');
    const v = runCommand(path.join(prefix, 'bin', 'tsrunc'), ['--version']);
    t.match(v.stdout, /^libseccomp: 2\.\d+\.\d+$/m, v.stderr);
  },
);

t.test('man tsrunc-run renders from the installed layout npm makes', { skip: NOT_BUILT || NO_MAN }, async (t) => {
  const dir = tempDir(t, 'tsrunc-man');
  execFileSync('tar', ['xzf', pack(t), '-C', dir, '--strip-components=3', 'package/share/man']);
  const r = runCommand('man', ['--manpath', dir, 'tsrunc-run'], {
    env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8' },
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /tsrunc-run\s+- create and start a container/);
});
