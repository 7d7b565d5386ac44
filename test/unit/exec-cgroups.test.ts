// exec --cgroup read as runc reads it (exec.go, getSubCgroupPaths; libcontainer's
// newSetnsProcess): which directory the process joins in each hierarchy, and the refusals in
// runc's words (the cgroupfs driver's subCgroups). Temp directories with a cgroup.procs file
// stand for the container's cgroups.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { CgroupfsManager } from '../../src/cgroups/cgroupfs';
import type { CgroupHierarchy } from '../../src/cgroups/hierarchy';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-exec-cg-'));
t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
const hs: CgroupHierarchy[] = [
  { key: 'memory', mountpoint: path.join(base, 'memory'), version: 1, controllers: ['memory'], root: '/' },
  {
    key: 'cpu,cpuacct',
    mountpoint: path.join(base, 'cpu,cpuacct'),
    version: 1,
    controllers: ['cpu', 'cpuacct'],
    root: '/',
  },
  { key: 'unified', mountpoint: path.join(base, 'unified'), version: 2, controllers: [], root: '/' },
];
const paths = Object.fromEntries(hs.map((h) => [h.key, path.join(h.mountpoint, 'pod/c1')]));
for (const dir of [
  ...Object.values(paths),
  path.join(paths['memory']!, 'submem'),
  path.join(paths['cpu,cpuacct']!, 'subcpu'),
  ...Object.values(paths).map((p) => path.join(p, 'all')),
]) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'cgroup.procs'), '');
}
const join = (...specs: string[]): Record<string, string> =>
  new CgroupfsManager('c1', hs, paths).subCgroups(specs).paths;

t.test('the container cgroup, a sub-cgroup everywhere, or per controller', async (t) => {
  t.same(join(), paths, 'no --cgroup: the container cgroup');
  t.same(join('/'), paths, '"/" is the container cgroup (runc)');
  t.same(join(''), paths, 'so is ""');
  t.same(
    join('all'),
    Object.fromEntries(Object.entries(paths).map(([k, p]) => [k, path.join(p, 'all')])),
    'a path alone: that sub-cgroup in every hierarchy',
  );
  t.same(join('/all/'), join('all'), 'written absolute, it is still below the container cgroup');
  const per = join('memory:submem', 'cpu,cpuacct:subcpu');
  t.equal(per['memory'], path.join(paths['memory']!, 'submem'));
  t.equal(per['cpu,cpuacct'], path.join(paths['cpu,cpuacct']!, 'subcpu'));
  t.equal(per['unified'], paths['unified'], 'hierarchies not named stay in the container cgroup');
  t.equal(
    join('cpu:subcpu')['cpu,cpuacct'],
    path.join(paths['cpu,cpuacct']!, 'subcpu'),
    'one controller of a co-mounted pair names the hierarchy',
  );
});

t.test("refusals in runc's words", async (t) => {
  const fails = (specs: string[], message: RegExp, what: string): void => {
    t.throws(() => join(...specs), message, what);
  };
  fails(['..'], /exec --cgroup \.\.: \.\. is not a sub cgroup path/, '..');
  fails(
    ['../c1x'],
    /\.\.\/c1x is not a sub cgroup path/,
    'a sibling (runc lets a sibling that shares the prefix through; tsrunc does not)',
  );
  fails(['memory:a/../..'], /a\/\.\.\/\.\. is not a sub cgroup path/, 'per controller too');
  fails(['whaaat:/'], /unknown controller whaaat/, 'an unknown controller');
  fails(['a:b:c'], /^invalid --cgroup argument: a:b:c$/, 'two colons');
  fails(
    ['x', 'memory:y'],
    /invalid --cgroup argument: x \(missing <controller>: prefix\)/,
    'a bare path beside another --cgroup',
  );
  fails(['nosuch'], /exec --cgroup nosuch: .*nosuch does not exist/, 'a sub-cgroup that does not exist');
});
