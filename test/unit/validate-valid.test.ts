// Valid configs must validate: the config.json files real clients wrote (../shared/clients),
// `tsrunc spec` and `tsrunc spec --rootless` output, and `runc spec` output when runc is here.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors';
import type { Spec } from '../../src/spec/types';
import { validateConfig } from '../../src/spec/validate';
import {
  NO_CLIENTS,
  clientConfig,
  clientConfigNames,
  runCommand,
  runTsrunc,
  tempDir,
  writeBundle,
} from '../helpers/tsrunc';

function problemLines(err: unknown): string[] {
  if (err instanceof ConfigError) return err.lines();
  throw err;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    const file = path.join(dir, cmd);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const clientNames = clientConfigNames();
t.test('client configs from ../shared/clients', { skip: clientNames === undefined ? NO_CLIENTS : false }, async (t) => {
  const names = clientNames ?? [];
  t.ok(names.length >= 4, `${names.length} client configs: ${names.join(', ')}`);
  for (const name of names) {
    t.test(name, async (t) => {
      const spec = clientConfig(name) as Spec;
      t.equal(typeof spec.ociVersion, 'string');

      // The document as recorded, without touching the host.
      try {
        const r = validateConfig(spec, { bundle: '/nonexistent-bundle', checkHost: false });
        t.pass('valid with checkHost: false');
        if (r.warnings.length > 0)
          t.comment(`warnings: ${r.warnings.map((w) => `${w.pointer}: ${w.message}`).join('; ')}`);
      } catch (err) {
        t.fail('valid with checkHost: false', { problems: problemLines(err) });
      }

      // With host checks, root.path pointed at an existing directory. cri-app-container joins
      // namespaces by /proc/PID/ns paths of a long-gone pid: validation does not open them.
      const dir = tempDir(t, 'tsrunc-client');
      const rootfs = path.join(dir, 'rootfs');
      fs.mkdirSync(rootfs);
      const hosted: Spec = { ...spec, root: { ...(spec.root ?? { path: '' }), path: rootfs } };
      try {
        validateConfig(hosted, { bundle: dir, checkHost: true });
        t.pass('valid with checkHost: true');
      } catch (err) {
        t.fail('valid with checkHost: true', { problems: problemLines(err) });
      }

      // And through the CLI, root.path relative to the bundle as clients write it.
      const bundle = writeBundle(path.join(dir, 'bundle'), {
        ...spec,
        root: { ...(spec.root ?? { path: '' }), path: 'rootfs' },
      });
      const v = runTsrunc(['validate', '--bundle', bundle]);
      t.equal(v.status, 0, 'tsrunc validate exits 0', { stderr: v.stderr });
      t.match(v.stdout, /valid/);
    });
  }
});

t.test('tsrunc spec output validates', async (t) => {
  const bundle = tempDir(t, 'tsrunc-spec');
  const s = runTsrunc(['spec', '--bundle', bundle]);
  t.equal(s.status, 0, 'spec exits 0', { stderr: s.stderr });
  t.equal(s.stdout, '', 'spec prints nothing');
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Spec;
  t.equal(spec.root?.path, 'rootfs');
  t.same(spec.process?.args, ['sh']);
  t.equal(spec.process?.terminal, true);
  t.same(
    (spec.linux?.namespaces ?? []).map((n) => n.type),
    ['pid', 'network', 'ipc', 'uts', 'mount'],
    "runc's namespaces, in its order",
  );

  const noRootfs = runTsrunc(['validate', '--bundle', bundle]);
  t.equal(noRootfs.status, 1, 'without rootfs/ validate fails');
  t.match(noRootfs.stderr, /\/root\/path: rootfs .* does not exist/);

  fs.mkdirSync(path.join(bundle, 'rootfs'));
  const v = runTsrunc(['validate', '--bundle', bundle]);
  t.equal(v.status, 0, 'validate exits 0', { stderr: v.stderr });
  t.equal(v.stdout, 'config.json: valid\n');

  // Default --bundle is the current directory, as runc's.
  const cwdValidate = runTsrunc(['validate'], { cwd: bundle });
  t.equal(cwdValidate.status, 0, 'validate in the bundle directory', { stderr: cwdValidate.stderr });
});

t.test('tsrunc spec in the current directory', async (t) => {
  const bundle = tempDir(t, 'tsrunc-spec');
  const s = runTsrunc(['spec'], { cwd: bundle });
  t.equal(s.status, 0, { stderr: s.stderr });
  t.ok(fs.existsSync(path.join(bundle, 'config.json')));
});

t.test('tsrunc spec --rootless output validates', async (t) => {
  const bundle = tempDir(t, 'tsrunc-spec');
  fs.mkdirSync(path.join(bundle, 'rootfs'));
  const s = runTsrunc(['spec', '--rootless', '--bundle', bundle]);
  t.equal(s.status, 0, 'spec --rootless exits 0', { stderr: s.stderr });
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Spec;
  const types = (spec.linux?.namespaces ?? []).map((n) => n.type);
  t.ok(types.includes('user'), 'has a user namespace');
  t.notOk(types.includes('network'), 'no network namespace of its own');
  t.same(spec.linux?.uidMappings, [{ containerID: 0, hostID: process.getuid?.() ?? 0, size: 1 }]);
  t.same(spec.linux?.gidMappings, [{ containerID: 0, hostID: process.getgid?.() ?? 0, size: 1 }]);
  t.equal(spec.linux?.resources, undefined, 'no cgroup resources');
  t.notOk(
    (spec.mounts ?? []).some((m) => (m.options ?? []).some((o) => o.startsWith('gid='))),
    'no gid= mount options',
  );
  t.ok(
    (spec.mounts ?? []).some((m) => m.destination === '/sys/fs/cgroup'),
    "the /sys/fs/cgroup mount, as runc's",
  );
  const v = runTsrunc(['validate', '--bundle', bundle]);
  t.equal(v.status, 0, 'validate exits 0', { stderr: v.stderr });
});

t.test("a caller may add a cgroup namespace to tsrunc spec's config (as docker does to runc's)", async (t) => {
  for (const rootless of [false, true]) {
    const bundle = tempDir(t, 'tsrunc-spec');
    fs.mkdirSync(path.join(bundle, 'rootfs'));
    t.equal(runTsrunc(['spec', ...(rootless ? ['--rootless'] : []), '--bundle', bundle]).status, 0);
    const file = path.join(bundle, 'config.json');
    const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as Spec;
    spec.linux!.namespaces!.push({ type: 'cgroup' });
    fs.writeFileSync(file, JSON.stringify(spec));
    const v = runTsrunc(['validate', '--bundle', bundle]);
    t.equal(v.status, 0, `${rootless ? 'spec --rootless' : 'spec'} + a cgroup namespace: valid`, { stderr: v.stderr });
    t.notMatch(v.stderr, /is repeated/);
  }
});

t.test('tsrunc spec refuses to overwrite', async (t) => {
  const bundle = tempDir(t, 'tsrunc-spec');
  const file = path.join(bundle, 'config.json');
  fs.writeFileSync(file, '{"mine": true}\n');
  for (const args of [
    ['spec', '--bundle', bundle],
    ['spec', '--rootless', '--bundle', bundle],
  ]) {
    const s = runTsrunc(args);
    t.equal(s.status, 1, `${args.join(' ')} exits 1`);
    t.match(s.stderr, /exists/, 'says the file exists');
    t.match(s.stderr, file, 'names the file');
    t.equal(fs.readFileSync(file, 'utf8'), '{"mine": true}\n', 'the file is unchanged');
  }
});

const runc = which('runc');
t.test(
  "tsrunc spec writes runc spec's file, field by field and in its order (hostname and ociVersion aside)",
  { skip: runc === undefined ? 'runc is not on PATH' : false },
  async (t) => {
    if (runc === undefined) return;
    for (const flags of [[], ['--rootless']]) {
      const ours = tempDir(t, 'tsrunc-spec');
      const theirs = tempDir(t, 'tsrunc-runc-spec');
      t.equal(runTsrunc(['spec', ...flags, '--bundle', ours]).status, 0);
      t.equal(runCommand(runc, ['spec', ...flags, '--bundle', theirs]).status, 0);
      const ourText = fs.readFileSync(path.join(ours, 'config.json'), 'utf8');
      const theirText = fs.readFileSync(path.join(theirs, 'config.json'), 'utf8');
      const ourDoc = JSON.parse(ourText) as Record<string, unknown>;
      const theirDoc = JSON.parse(theirText) as Record<string, unknown>;
      t.equal(ourDoc['hostname'], 'tsrunc');
      t.equal(ourDoc['ociVersion'], '1.2.0');
      for (const doc of [ourDoc, theirDoc]) {
        delete doc['hostname'];
        delete doc['ociVersion'];
      }
      t.strictSame(ourDoc, theirDoc, `spec ${flags.join(' ')}: the same fields and values`);
      t.equal(JSON.stringify(ourDoc), JSON.stringify(theirDoc), `spec ${flags.join(' ')}: in the same order`);
      // runc writes tab-indented JSON without a final newline.
      const ourForm = ourText
        .replace('"tsrunc"', '"runc"')
        .replace(`"1.2.0"`, JSON.stringify(JSON.parse(theirText).ociVersion));
      t.equal(ourForm, `${theirText}\n`, `spec ${flags.join(' ')}: the same text, a final newline aside`);
    }
  },
);

t.test(
  'runc spec output validates with tsrunc',
  { skip: runc === undefined ? 'runc is not on PATH' : false },
  async (t) => {
    if (runc === undefined) return;
    for (const rootless of [false, true]) {
      t.test(rootless ? 'runc spec --rootless' : 'runc spec', async (t) => {
        const bundle = tempDir(t, 'tsrunc-runc-spec');
        const r = runCommand(runc, rootless ? ['spec', '--rootless'] : ['spec'], { cwd: bundle });
        t.equal(r.status, 0, 'runc spec exits 0', { stderr: r.stderr });
        fs.mkdirSync(path.join(bundle, 'rootfs'));
        const v = runTsrunc(['validate', '--bundle', bundle]);
        t.equal(v.status, 0, 'tsrunc validate exits 0', { stderr: v.stderr });
        const doc: unknown = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
        try {
          validateConfig(doc, { bundle, checkHost: true });
          t.pass('validateConfig accepts it');
        } catch (err) {
          t.fail('validateConfig accepts it', { problems: problemLines(err) });
        }
      });
    }
  },
);

t.test('a hostname with a joined UTS namespace is valid (as runc and crun accept it)', async (t) => {
  const { defaultSpec } = await import('../../src/spec/default-spec');
  const { validateConfig } = await import('../../src/spec/validate');
  const spec = defaultSpec();
  spec.linux!.namespaces = spec.linux!.namespaces!.map((n) =>
    n.type === 'uts' ? { type: 'uts', path: '/proc/1/ns/uts' } : n,
  );
  t.doesNotThrow(() => validateConfig(spec, { bundle: '/tmp', checkHost: false }));
});

t.test(
  "linux.netDevices as runc's tests and the runtime-spec's examples write them is valid (a new or a joined network namespace)",
  async (t) => {
    const { defaultSpec } = await import('../../src/spec/default-spec');
    const cases: [string, Record<string, { name?: string }>, string | undefined][] = [
      ['kept names, a new namespace', { dummy0: {}, eth1: { name: '' } }, undefined],
      ['renamed, a joined namespace', { dummy0: { name: 'ctr_dummy0' } }, '/var/run/netns/blue'],
      ['a template and a 15-byte name', { eth0: { name: 'net%d' }, eth1: { name: 'container_eth01' } }, undefined],
      [
        'two templates alike, and a name another device leaves',
        { a: { name: 'n%d' }, b: { name: 'n%d' }, c: { name: 'a' } },
        undefined,
      ],
    ];
    for (const [what, netDevices, netns] of cases) {
      const spec = defaultSpec();
      spec.linux!.netDevices = netDevices;
      if (netns !== undefined)
        spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'network' ? { ...n, path: netns } : n));
      try {
        validateConfig(spec, { bundle: '/tmp', checkHost: false });
        t.pass(what);
      } catch (err) {
        t.fail(what, { problems: problemLines(err) });
      }
    }
  },
);
