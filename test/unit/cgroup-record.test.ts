// How a container record keeps its cgroups: the driver, and per hierarchy the path that
// /proc/PID/cgroup shows (not where this host mounts it) — and records written before there
// were drivers (cgroupPaths: directories by hierarchy key) still read and work. Hierarchies
// are given as data; temp directories with regular files stand for cgroup directories.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { containerCgroups } from '../../src/cgroups';
import { CgroupfsManager } from '../../src/cgroups/cgroupfs';
import type { CgroupHierarchy } from '../../src/cgroups/hierarchy';
import { Runtime } from '../../src/runtime';
import { readProcStat } from '../../src/state/proc';
import { containerRecord, writeRecord } from '../helpers/records';
import { killChild, privateRoot, tempDir, waitFor } from '../helpers/tsrunc';

const HYBRID: CgroupHierarchy[] = [
  { key: 'unified', mountpoint: '/sys/fs/cgroup/unified', version: 2, controllers: [], root: '/' },
  { key: 'systemd', mountpoint: '/sys/fs/cgroup/systemd', version: 1, controllers: ['name=systemd'], root: '/' },
  {
    key: 'cpu,cpuacct',
    mountpoint: '/sys/fs/cgroup/cpu,cpuacct',
    version: 1,
    controllers: ['cpu', 'cpuacct'],
    root: '/',
  },
  { key: 'memory', mountpoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'], root: '/' },
];
const OWN = [
  '0::/user.slice',
  '1:name=systemd:/user.slice/session-1.scope',
  '4:memory:/sess',
  '5:cpu,cpuacct:/sess',
].join('\n');

t.test('a new record: the driver, and each hierarchy by its /proc/PID/cgroup name with the path in it', async (t) => {
  const abs = CgroupfsManager.forContainer('web', '/default/web', HYBRID, OWN);
  t.same(abs.recorded(), {
    cgroupDriver: 'cgroupfs',
    cgroups: {
      '': '/default/web',
      'name=systemd': '/default/web',
      'cpu,cpuacct': '/default/web',
      memory: '/default/web',
    },
  });
  const rel = CgroupfsManager.forContainer('web', 'pods/web', HYBRID, OWN);
  t.same(
    rel.recorded().cgroups,
    {
      '': '/user.slice/pods/web',
      'name=systemd': '/user.slice/session-1.scope/pods/web',
      'cpu,cpuacct': '/sess/pods/web',
      memory: '/sess/pods/web',
    },
    "a relative cgroupsPath: below the runtime's own cgroup in each hierarchy",
  );
  for (const m of [abs, rel]) {
    t.same(CgroupfsManager.fromRecord(m.recorded(), 'web', HYBRID).paths, m.paths, 'read back: the same directories');
  }
});

t.test(
  'a mount that shows a subtree: the record keeps the path in the hierarchy, not below the mount point',
  async (t) => {
    const hs: CgroupHierarchy[] = [
      { key: '', mountpoint: '/sys/fs/cgroup', version: 2, controllers: ['memory'], root: '/kubepods/pod1' },
    ];
    // (on a pure v2 host the default is below the parent of the runtime's own cgroup, as runc's fs2)
    const m = CgroupfsManager.forContainer('c1', undefined, hs, '0::/kubepods/pod1/runtime/shim.scope');
    t.same(m.paths, { '': '/sys/fs/cgroup/runtime/c1' });
    t.same(m.recorded().cgroups, { '': '/kubepods/pod1/runtime/c1' }, 'as /proc/PID/cgroup of the init will show it');
    t.same(CgroupfsManager.fromRecord(m.recorded(), 'c1', hs).paths, m.paths);
    t.same(
      CgroupfsManager.fromRecord(
        { cgroupDriver: 'cgroupfs', cgroups: { '': '/elsewhere/c1', memory: '/c1' } },
        'c1',
        hs,
      ).paths,
      {},
      'a path this mount does not show, a hierarchy not mounted here: no directory',
    );
  },
);

t.test('a record written before drivers (cgroupPaths by hierarchy key) still works', async (t) => {
  const base = tempDir(t, 'tsrunc-old-record');
  const freezer = path.join(base, 'freezer/pod/c1');
  const pids = path.join(base, 'pids/pod/c1');
  for (const dir of [freezer, pids]) fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(freezer, 'freezer.state'), 'FROZEN\n');
  fs.writeFileSync(path.join(pids, 'cgroup.procs'), '41\n42\n');
  const old = { cgroupPaths: { freezer, pids } };

  const cgroups = containerCgroups(old, 'c1');
  t.equal(cgroups.driver, 'cgroupfs', 'no driver field: cgroupfs');
  t.same(cgroups.paths, old.cgroupPaths, 'its directories, as they were recorded');
  t.same(cgroups.pids(), [41, 42]);
  t.ok(cgroups.canFreeze());
  t.ok(cgroups.isFrozen(), 'the v1 freezer says FROZEN');
  cgroups.thaw();
  t.equal(
    fs.readFileSync(path.join(freezer, 'freezer.state'), 'utf8'),
    'THAWED',
    'thawed through the recorded directory',
  );
  t.notOk(cgroups.isFrozen());

  // The same record in a --root, as the code before drivers wrote it: state and ps read it.
  fs.writeFileSync(path.join(freezer, 'freezer.state'), 'FROZEN\n');
  const root = privateRoot(t);
  const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => killChild(sleeper));
  const pid = sleeper.pid as number;
  await waitFor(() => readProcStat(pid) !== undefined, 'sleep to exist');
  const {
    cgroupDriver: _driver,
    cgroups: _cgroups,
    ...rest
  } = containerRecord('c1', base, pid, readProcStat(pid)?.startTime ?? 0, true);
  writeRecord(root, { ...rest, cgroupPaths: old.cgroupPaths });
  const stored = JSON.parse(fs.readFileSync(path.join(root, 'c1', 'state.json'), 'utf8')) as Record<string, unknown>;
  t.same(
    [stored['cgroupDriver'], stored['cgroups'], stored['cgroupPaths']],
    [undefined, undefined, old.cgroupPaths],
    'the record has the old form',
  );
  const runtime = new Runtime({ root });
  t.equal(runtime.state('c1').status, 'paused', "state: paused, from the recorded freezer's directory");
  t.same(runtime.pids('c1'), [41, 42], "ps: the recorded cgroup's processes");
});

t.test('a record naming a driver this build does not have is refused, not misread', async (t) => {
  t.throws(() => containerCgroups({ cgroupDriver: 'cgroupfs2', cgroups: { '': '/system.slice/x.scope' } }, 'c1'), {
    name: 'TsruncError',
    message: `the container's cgroups are managed by the "cgroupfs2" cgroup driver, which this tsrunc does not have`,
  });
  t.equal(
    containerCgroups({ cgroupDriver: 'systemd', cgroups: { '': '/system.slice/tsrunc-c1.scope' } }, 'c1').driver,
    'systemd',
    "a systemd record: the systemd driver's",
  );
});
