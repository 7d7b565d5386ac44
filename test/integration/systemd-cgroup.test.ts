// The systemd cgroup driver under a real systemd (PID 1): scripts/v2-guest.sh --systemd runs
// this file in a guest that boots one (.ci/run does). A container created with
// --systemd-cgroup is a transient scope of systemd's with its limits as unit properties, every
// command that touches cgroups works on it, and after delete the unit is gone. Where runc is
// installed, the same config through runc gives a unit with the same properties. The guest may
// be a pure v2 host (the default), a legacy v1 one or a hybrid one (v1 controllers, systemd's
// processes tracked in cgroup2 at /sys/fs/cgroup/unified: scripts/v2-guest.sh --cgroup
// legacy|hybrid); the test reads which from the mounts and expects each layout's files and
// properties (v1: MemoryLimit and CPUShares, memory.limit_in_bytes, freezer.state, a line per
// hierarchy in /proc/PID/cgroup).
import * as fs from 'node:fs';
import t, { type Test } from 'tap';
import { rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { RUNC, runc } from '../helpers/runc';
import { runCommand } from '../helpers/tsrunc';

const skip =
  rootSkipReason() ||
  (fs.existsSync('/run/systemd/system')
    ? false
    : 'systemd is not PID 1 here (run it in scripts/v2-guest.sh --systemd, as .ci/run does)');

/** The host's cgroup layout, from the mounts: cgroup2 alone (v2), v1 hierarchies and cgroup2 (hybrid), v1 alone (legacy). */
function cgroupLayout(): 'v2' | 'hybrid' | 'legacy' {
  const types = new Set(
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' - ')[1]?.split(' ')[0]),
  );
  if (!types.has('cgroup')) return 'v2';
  return types.has('cgroup2') ? 'hybrid' : 'legacy';
}

const LAYOUT = cgroupLayout();
const V1 = LAYOUT !== 'v2';
/** systemd's name of the memory limit on this layout (v1: MemoryLimit, as runc's legacy manager sets it). */
const MEMORY_PROP = V1 ? 'MemoryLimit' : 'MemoryMax';

const PROPS = [
  'LoadState',
  'ActiveState',
  'Slice',
  'Delegate',
  'MemoryMax',
  'MemoryLimit',
  'TasksMax',
  'CPUWeight',
  'CPUShares',
  'AllowedCPUs',
  'ControlGroup',
];

/** The hierarchies of this host as /proc/self/cgroup names them: "" for cgroup2, "memory", "cpu,cpuacct", "name=systemd", ... */
function hierarchyNames(): string[] {
  return fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1] as string);
}

/** A cgroup's directory in the hierarchy of `controller` ("" for cgroup2 on v2; "unified" for it on hybrid). */
function cgroupDir(controller: string, cgroup: string): string {
  if (!V1) return `/sys/fs/cgroup${cgroup}`;
  return `/sys/fs/cgroup/${controller}${cgroup}`;
}

/** Every directory of `cgroup` on this host: one per mounted hierarchy (v1), or the one (v2). */
function cgroupDirs(cgroup: string): string[] {
  if (!V1) return [cgroupDir('', cgroup)];
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => `${l.split(' ')[4]}${cgroup}`);
}

/** /proc/PID/cgroup of a process in `cgroup` in every hierarchy: a line per hierarchy of the host's, each naming it. */
function expectedProcCgroup(cgroup: string): string {
  return fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => `${l.slice(0, l.lastIndexOf(':'))}:${cgroup}\n`)
    .join('');
}

/** `systemctl show` of a unit, as NAME → value. */
function unitShow(unit: string, props: string[] = PROPS): Record<string, string> {
  const r = runCommand('systemctl', ['show', unit, ...props.flatMap((p) => ['-p', p])]);
  return Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** A container with a few limits (its cgroupsPath set by withPath). */
function systemdContainer(t: Test): TestContainer {
  return testContainer(t, (spec) => {
    spec.linux!.resources = {
      ...spec.linux!.resources,
      memory: { limit: 64 * 1024 * 1024 },
      pids: { limit: 64 },
      cpu: { shares: 512 },
    };
  });
}

function withPath(c: TestContainer, cgroupsPath: string): void {
  c.spec.linux!.cgroupsPath = cgroupsPath;
  c.writeConfig();
}

t.test(
  'create makes a transient scope with the limits as properties; every cgroup command works on it; delete removes it',
  { skip },
  async (t) => {
    const c = systemdContainer(t);
    withPath(c, `system.slice:tsrunc:${c.id}`);
    const unit = `tsrunc-${c.id}.scope`;
    const sd = (args: string[]) => c.tsrunc(['--systemd-cgroup', ...args]);
    const created = sd(['create', c.id]);
    t.equal(created.status, 0, `create: ${created.stderr}`);
    const pid = c.pid();
    const show = unitShow(unit);
    t.equal(show['ActiveState'], 'active', `${unit} is active`);
    t.equal(show['Slice'], 'system.slice');
    t.equal(show['Delegate'], 'yes');
    t.equal(show[MEMORY_PROP], String(64 * 1024 * 1024), `the memory limit is a property of the unit (${MEMORY_PROP})`);
    t.equal(show['TasksMax'], '64');
    if (V1) t.equal(show['CPUShares'], '512', 'v1: CPUShares as given');
    else t.equal(show['CPUWeight'], '20', 'shares 512 → weight 20');
    t.equal(show['ControlGroup'], `/system.slice/${unit}`);
    if (V1) {
      t.equal(
        fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'),
        expectedProcCgroup(`/system.slice/${unit}`),
        'the init is in the scope in every hierarchy (those systemd does not manage joined by tsrunc)',
      );
      t.equal(
        fs.readFileSync(cgroupDir('memory', `/system.slice/${unit}/memory.limit_in_bytes`), 'utf8').trim(),
        String(64 * 1024 * 1024),
      );
      t.equal(fs.readFileSync(cgroupDir('pids', `/system.slice/${unit}/pids.max`), 'utf8').trim(), '64');
      t.equal(fs.readFileSync(cgroupDir('cpu,cpuacct', `/system.slice/${unit}/cpu.shares`), 'utf8').trim(), '512');
    } else {
      t.match(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), `0::/system.slice/${unit}\n`, 'the init is in the scope');
      t.equal(
        fs.readFileSync(`/sys/fs/cgroup/system.slice/${unit}/memory.max`, 'utf8').trim(),
        String(64 * 1024 * 1024),
      );
    }
    const state = JSON.parse(fs.readFileSync(`${c.root}/${c.id}/state.json`, 'utf8')) as Record<string, unknown>;
    t.equal(state['cgroupDriver'], 'systemd', 'the record names the driver');
    if (V1)
      t.same(
        state['cgroups'],
        Object.fromEntries(hierarchyNames().map((h) => [h, `/system.slice/${unit}`])),
        'the record names the scope in every hierarchy',
      );
    else t.same(state['cgroups'], { '': `/system.slice/${unit}` });

    t.equal(sd(['start', c.id]).status, 0);
    // update: the unit's property and the file
    const devicesList = (): string =>
      fs.readFileSync(cgroupDir('devices', `/system.slice/${unit}/devices.list`), 'utf8');
    const devicesBefore = V1 ? devicesList() : '';
    const updated = c.tsrunc(['update', '--memory', String(128 * 1024 * 1024), '--pids-limit', '100', c.id]);
    t.equal(updated.status, 0, `update: ${updated.stderr}`);
    if (V1) {
      // (systemd rewrote the v1 device list as it set the properties: the container's rules are back)
      t.not(devicesBefore, 'a *:* rwm\n', "the container's device rules are a list");
      t.equal(devicesList(), devicesBefore, "after update the device list is the container's again");
      t.equal(
        fs.readFileSync(cgroupDir('freezer', `/system.slice/${unit}/freezer.state`), 'utf8').trim(),
        'THAWED',
        'update thawed the container it froze while systemd set the properties',
      );
      // systemd writes the unit's device list again whenever any of its properties changes,
      // whoever changes it: what it writes must not open the container to every device
      const set = runCommand('systemctl', ['set-property', '--runtime', unit, 'TasksMax=100']);
      t.equal(set.status, 0, `systemctl set-property: ${set.stderr}`);
      t.notMatch(
        devicesList(),
        /^a \*:\* rwm$/m,
        "after systemd applies the unit's properties again, the container has no more than its own devices",
      );
      t.equal(c.tsrunc(['update', '--pids-limit', '100', c.id]).status, 0);
      t.equal(devicesList(), devicesBefore, "and the next update writes the container's rules again");
    }
    const after = unitShow(unit);
    t.equal(after[MEMORY_PROP], String(128 * 1024 * 1024), 'update sets the property');
    t.equal(after['TasksMax'], '100');
    t.equal(
      fs
        .readFileSync(
          V1
            ? cgroupDir('memory', `/system.slice/${unit}/memory.limit_in_bytes`)
            : `/sys/fs/cgroup/system.slice/${unit}/memory.max`,
          'utf8',
        )
        .trim(),
      String(128 * 1024 * 1024),
    );
    if (V1) t.equal(fs.readFileSync(cgroupDir('pids', `/system.slice/${unit}/pids.max`), 'utf8').trim(), '100');
    // exec joins the scope
    const exec = c.tsrunc(['exec', c.id, 'cat', '/proc/self/cgroup']);
    t.equal(exec.status, 0, `exec: ${exec.stderr}`);
    if (V1)
      t.equal(
        exec.stdout,
        expectedProcCgroup('/'),
        'exec: in the container in every hierarchy (its cgroup namespace is rooted at the scope)',
      );
    else t.equal(exec.stdout, '0::/\n', 'exec: in the container (its cgroup namespace is rooted at the scope)');
    // pause / resume
    t.equal(c.tsrunc(['pause', c.id]).status, 0);
    t.equal(c.status(), 'paused');
    if (V1)
      t.equal(fs.readFileSync(cgroupDir('freezer', `/system.slice/${unit}/freezer.state`), 'utf8').trim(), 'FROZEN');
    else t.equal(fs.readFileSync(`/sys/fs/cgroup/system.slice/${unit}/cgroup.freeze`, 'utf8').trim(), '1');
    t.equal(c.tsrunc(['resume', c.id]).status, 0);
    t.equal(c.status(), 'running');
    if (V1)
      t.equal(fs.readFileSync(cgroupDir('freezer', `/system.slice/${unit}/freezer.state`), 'utf8').trim(), 'THAWED');
    // ps, events --stats
    const ps = c.tsrunc(['ps', '--format', 'json', c.id]);
    t.same(JSON.parse(ps.stdout), [pid], 'ps: the init');
    const events = c.tsrunc(['events', '--stats', c.id]);
    t.equal(events.status, 0);
    const stats = JSON.parse(events.stdout) as {
      type: string;
      data: { memory: { usage: { usage: number } }; pids: { current: number } };
    };
    t.equal(stats.type, 'stats');
    t.ok(stats.data.memory.usage.usage > 0, 'memory usage from the scope');
    t.equal(stats.data.pids.current, 1);
    // kill --all, delete: the unit is gone
    t.equal(c.tsrunc(['kill', '--all', c.id, 'KILL']).status, 0);
    for (let i = 0; i < 100 && c.status() !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50));
    t.equal(c.status(), 'stopped');
    const del = c.tsrunc(['delete', c.id]);
    t.equal(del.status, 0, `delete: ${del.stderr}`);
    t.equal(unitShow(unit)['LoadState'], 'not-found', 'after delete the unit is gone');
    if (V1)
      t.same(
        cgroupDirs(`/system.slice/${unit}`).filter((d) => fs.existsSync(d)),
        [],
        "no directory of the scope's is left in any hierarchy",
      );
    else t.notOk(fs.existsSync(`/sys/fs/cgroup/system.slice/${unit}`));
  },
);

t.test(
  'an empty cgroupsPath is runc-ID.scope in system.slice; delete --force of a running one stops it',
  { skip },
  async (t) => {
    const c = systemdContainer(t);
    withPath(c, '');
    t.equal(c.tsrunc(['--systemd-cgroup', 'run', '-d', c.id]).status, 0);
    const unit = `runc-${c.id}.scope`;
    t.equal(unitShow(unit)['ActiveState'], 'active');
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
    t.equal(unitShow(unit)['LoadState'], 'not-found');
  },
);

t.test('a nested slice, and a bad cgroupsPath named clearly with nothing left behind', { skip }, async (t) => {
  const c = systemdContainer(t);
  withPath(c, `tsrunc-test-a.slice:p:${c.id}`);
  t.equal(c.tsrunc(['--systemd-cgroup', 'run', '-d', c.id]).status, 0);
  const nested = `/tsrunc.slice/tsrunc-test.slice/tsrunc-test-a.slice/p-${c.id}.scope`;
  if (V1) t.equal(fs.readFileSync(`/proc/${c.pid()}/cgroup`, 'utf8'), expectedProcCgroup(nested));
  else t.match(fs.readFileSync(`/proc/${c.pid()}/cgroup`, 'utf8'), `0::${nested}\n`);
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  if (V1)
    t.same(
      cgroupDirs(nested).filter((d) => fs.existsSync(d)),
      [],
      'delete --force leaves no directory of the scope in any hierarchy',
    );
  runCommand('systemctl', ['stop', 'tsrunc-test-a.slice', 'tsrunc-test.slice', 'tsrunc.slice']);

  const bad = systemdContainer(t);
  for (const [cgroupsPath, message] of [
    [
      '/default/x',
      /\/linux\/cgroupsPath: expected cgroupsPath to be of format \\?"slice:prefix:name\\?" for systemd cgroups/,
    ],
    ['system:p:x', /\/linux\/cgroupsPath: invalid slice name: system/],
  ] as const) {
    withPath(bad, cgroupsPath);
    const r = bad.tsrunc(['--systemd-cgroup', 'create', bad.id]);
    t.equal(r.status, 1, cgroupsPath);
    t.match(r.stderr, message);
    t.equal(bad.status(), 'missing', 'nothing left under --root');
  }
});

t.test('a unit name already taken by a live unit is refused; the other unit is untouched', { skip }, async (t) => {
  const a = systemdContainer(t);
  withPath(a, `system.slice:tsrunc:same-${process.pid}`);
  t.equal(a.tsrunc(['--systemd-cgroup', 'run', '-d', a.id]).status, 0);
  const b = systemdContainer(t);
  withPath(b, `system.slice:tsrunc:same-${process.pid}`);
  const r = b.tsrunc(['--systemd-cgroup', 'create', b.id]);
  t.equal(r.status, 1);
  t.match(r.stderr, `systemd unit tsrunc-same-${process.pid}.scope already exists and is active`);
  t.equal(b.status(), 'missing');
  t.equal(a.status(), 'running', 'the first container still runs');
  t.equal(unitShow(`tsrunc-same-${process.pid}.scope`)['ActiveState'], 'active');
});

t.test(
  'runc --systemd-cgroup makes a unit with the same properties',
  { skip: skip || (RUNC === undefined && 'runc is not installed') },
  async (t) => {
    const c = systemdContainer(t);
    c.spec.linux!.resources!.cpu = { shares: 512, quota: 30000, period: 100000, cpus: '0' };
    withPath(c, `system.slice:tsrunc:${c.id}`);
    t.equal(c.tsrunc(['--systemd-cgroup', 'run', '-d', c.id]).status, 0);
    const runcId = `${c.id}-runc`;
    c.spec.linux!.cgroupsPath = `system.slice:runc:${runcId}`;
    c.writeConfig();
    const runcRoot = `${c.root}-runc`;
    t.teardown(() => {
      runc(runcRoot, ['delete', '--force', runcId], c.bundle);
      fs.rmSync(runcRoot, { recursive: true, force: true });
    });
    const r = runc(runcRoot, ['--systemd-cgroup', 'run', '-d', runcId], c.bundle);
    t.equal(r.status, 0, `runc: ${r.stderr}`);
    const compared = [
      'Slice',
      'Delegate',
      V1 ? 'MemoryLimit' : 'MemoryMax',
      'TasksMax',
      V1 ? 'CPUShares' : 'CPUWeight',
      'CPUQuotaPerSecUSec',
      'CPUQuotaPeriodUSec',
      'AllowedCPUs',
      'MemoryAccounting',
      'CPUAccounting',
      V1 ? 'BlockIOAccounting' : 'IOAccounting',
      'TasksAccounting',
      'DefaultDependencies',
      'Description',
    ];
    const ours = unitShow(`tsrunc-${c.id}.scope`, compared);
    const theirs = unitShow(`runc-${runcId}.scope`, compared);
    theirs['Description'] = theirs['Description']?.replace(runcId, c.id) ?? '';
    t.same(ours, theirs, 'the same unit properties as runc');
  },
);
