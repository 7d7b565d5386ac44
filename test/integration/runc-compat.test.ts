// tsrunc beside runc on the same bundle: runc runs what `tsrunc spec` writes, and both
// runtimes answer `state` and `list` with documents of the same shape.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, runWithFileStdio, testContainer } from '../helpers/container';
import { RUNC, runc } from '../helpers/runc';
import { privateRoot } from '../helpers/tsrunc';

const skip = rootSkipReason() || (RUNC === undefined ? 'runc is not installed' : false);

t.test('runc runs the config tsrunc spec writes', { skip }, async (t) => {
  const c = testContainer(t, (s) => (s.process!.args = ['sh', '-c', 'echo ran $(hostname)']));
  const root = privateRoot(t);
  const id = `${c.id}-runc`;
  t.teardown(() => void runc(root, ['delete', '--force', id], c.bundle));
  const r = runc(root, ['run', id], c.bundle);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'ran tsrunc\n');
});

t.test('state and list have the shape runc gives them', { skip }, async (t) => {
  const c = testContainer(t);
  const root = privateRoot(t);
  const runcId = `${c.id}-runc`;
  t.teardown(() => void runc(root, ['delete', '--force', runcId], c.bundle));
  // runc must not share cgroups with tsrunc's container.
  const runcSpec = JSON.parse(fs.readFileSync(path.join(c.bundle, 'config.json'), 'utf8')) as {
    linux: { cgroupsPath: string };
  };
  runcSpec.linux.cgroupsPath += '-runc';
  const runcBundle = path.join(c.bundle, 'runc-bundle');
  fs.mkdirSync(runcBundle);
  fs.writeFileSync(path.join(runcBundle, 'config.json'), JSON.stringify(runcSpec));
  t.equal(runc(root, ['create', runcId], runcBundle).status, 0);
  t.equal(c.tsrunc(['create', c.id]).status, 0);

  const ours = JSON.parse(c.tsrunc(['state', c.id]).stdout) as Record<string, unknown>;
  const theirs = JSON.parse(runc(root, ['state', runcId], runcBundle).stdout) as Record<string, unknown>;
  t.same(Object.keys(ours).sort(), Object.keys(theirs).sort(), 'the same fields');
  t.equal(ours['status'], theirs['status']);
  t.equal(typeof ours['created'], 'string');
  t.match(ours['created'] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

  const ourList = JSON.parse(c.tsrunc(['list', '--format', 'json']).stdout) as Record<string, unknown>[];
  const theirList = JSON.parse(runc(root, ['list', '--format', 'json'], runcBundle).stdout) as Record<
    string,
    unknown
  >[];
  t.same(
    Object.keys(ourList[0] ?? {}).sort(),
    Object.keys(theirList[0] ?? {}).sort(),
    'list entries have the same fields',
  );
  const ourTable = runWithFileStdio(['--root', c.root, 'list']).stdout.split('\n')[0];
  const theirTable = runc(root, ['list'], runcBundle).stdout.split('\n')[0];
  // Column widths follow the content (ids, bundles and runc's nanosecond timestamps differ in
  // length); the columns and their order must match.
  t.same(ourTable?.split(/ +/), theirTable?.split(/ +/), 'the same table columns');
});
