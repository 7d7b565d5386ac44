// The systemd cgroup driver without systemd: runc's unit and slice rules, the properties it
// sends (resources as runc converts them, devices, org.systemd.property.* annotations), and
// the manager's conversation with a recording fake of the bus — what it asks systemd, in what
// order, and what it does when systemd says no. The real thing runs in a guest where systemd
// is PID 1 (test/integration/cgroups.test.ts with --systemd-cgroup, scripts/v2-guest.sh --systemd).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { CgroupHierarchy } from '../../src/cgroups/hierarchy';
import { DeviceEmulator } from '../../src/cgroups/device-rules';
import { SystemdManager, type SystemdBus } from '../../src/cgroups/systemd';
import {
  SD_INFINITY,
  annotationProperties,
  cpusetBits,
  deviceProperties,
  expandSlice,
  parseGVariant,
  parseProcDevices,
  parseSystemdVersion,
  resourceProperties,
  systemdUnit,
  unitProperties,
} from '../../src/cgroups/systemd-properties';
import type { SystemdProperty } from '../../src/native/addon';
import { ConfigError } from '../../src/errors';
import { defaultSpec } from '../../src/spec/default-spec';

const byName = (props: SystemdProperty[]): Record<string, unknown> =>
  Object.fromEntries(props.map((p) => [p.name, p.value.value]));

t.test("slices nest as systemd's names say (runc's ExpandSlice)", async (t) => {
  t.equal(expandSlice('system.slice'), '/system.slice');
  t.equal(expandSlice('a-b-c.slice'), '/a.slice/a-b.slice/a-b-c.slice');
  t.equal(expandSlice('-.slice'), '/');
  for (const bad of ['.slice', 'a', 'a/b.slice', 'a--b.slice', '-a.slice', 'a-.slice'])
    t.throws(() => expandSlice(bad), { message: `invalid slice name: ${bad}` }, bad);
});

t.test("the unit of a container (runc's cgroupsPath rules)", async (t) => {
  t.same(systemdUnit('system.slice:docker:abc', 'abc'), {
    slice: 'system.slice',
    unit: 'docker-abc.scope',
    name: 'abc',
    cgroup: '/system.slice/docker-abc.scope',
  });
  t.same(systemdUnit('kubepods-besteffort-pod1.slice:cri-containerd:c1', 'c1'), {
    slice: 'kubepods-besteffort-pod1.slice',
    unit: 'cri-containerd-c1.scope',
    name: 'c1',
    cgroup: '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c1.scope',
  });
  t.same(systemdUnit(undefined, 'web'), {
    slice: 'system.slice',
    unit: 'runc-web.scope',
    name: 'web',
    cgroup: '/system.slice/runc-web.scope',
  });
  t.same(systemdUnit('', 'web', true).slice, 'user.slice', 'rootless: the user slice');
  t.same(systemdUnit(':libpod:x', 'x').slice, 'system.slice', 'an empty slice is system.slice');
  t.same(systemdUnit('system.slice:x:machine-web.slice', 'web').unit, 'machine-web.slice', 'a slice asked for by name');
  t.same(systemdUnit('-.slice:p:n', 'n').cgroup, '/p-n.scope', 'the root slice');
  t.throws(() => systemdUnit('/kubepods/pod1/c1', 'c1'), {
    message:
      'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/kubepods/pod1/c1" instead',
  });
  t.throws(() => systemdUnit('a:b:c:d', 'c'), /slice:prefix:name/);
  t.throws(() => systemdUnit('system.slice:p:a b', 'x'), /characters systemd does not accept/);
});

t.test("the unit's own properties, as runc sets them", async (t) => {
  const scope = unitProperties(systemdUnit('system.slice:tsrunc:web', 'web'), 1234, 2);
  t.same(
    scope.map((p) => [p.name, p.value.type, p.value.value]),
    [
      ['Description', 's', 'libcontainer container web'],
      ['Slice', 's', 'system.slice'],
      ['PIDs', 'au', [1234]],
      ['Delegate', 'b', true],
      ['MemoryAccounting', 'b', true],
      ['CPUAccounting', 'b', true],
      ['IOAccounting', 'b', true],
      ['TasksAccounting', 'b', true],
      ['DefaultDependencies', 'b', false],
    ],
  );
  const v1 = byName(unitProperties(systemdUnit('system.slice:tsrunc:web', 'web'), 1, 1));
  t.equal(v1['BlockIOAccounting'], true, 'v1: BlockIOAccounting');
  t.notOk('IOAccounting' in v1);
  const slice = byName(unitProperties(systemdUnit('system.slice:x:pod-a.slice', 'a'), 1, 2));
  t.same(slice['Wants'], ['system.slice'], 'a slice wants its parent instead of Slice=');
  t.notOk('Slice' in slice || 'Delegate' in slice);
});

t.test("resources as unit properties (runc's conversions)", async (t) => {
  const v2 = byName(
    resourceProperties(
      {
        memory: { limit: 1 << 30, reservation: 1 << 28, swap: (1 << 30) + (1 << 29) },
        cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-2,5', mems: '0' },
        pids: { limit: 100 },
        blockIO: { weight: 500 },
      },
      2,
    ),
  );
  t.equal(v2['MemoryMax'], BigInt(1 << 30));
  t.equal(v2['MemoryLow'], BigInt(1 << 28));
  t.equal(v2['MemorySwapMax'], BigInt(1 << 29), 'swap alone: memory+swap less memory');
  t.equal(v2['CPUWeight'], 39n, 'shares 1024 → weight 39, as runc');
  t.equal(v2['CPUQuotaPeriodUSec'], 100000n);
  t.equal(v2['CPUQuotaPerSecUSec'], 500000n);
  t.same([...(v2['AllowedCPUs'] as Buffer)], [0b00100111], 'cpus 0-2,5 as a bitmask');
  t.same([...(v2['AllowedMemoryNodes'] as Buffer)], [1]);
  t.equal(v2['TasksMax'], 100n);
  t.equal(v2['IOWeight'], 4950n, 'blkio weight 500 → io weight 4950, as runc');

  const unlimited = byName(resourceProperties({ memory: { limit: -1 }, pids: { limit: -1 }, cpu: { quota: -1 } }, 2));
  t.equal(unlimited['MemoryMax'], SD_INFINITY);
  t.equal(unlimited['MemorySwapMax'], SD_INFINITY, 'unlimited memory and no swap: unlimited swap');
  t.equal(unlimited['TasksMax'], SD_INFINITY);
  t.equal(unlimited['CPUQuotaPerSecUSec'], SD_INFINITY, 'no quota: infinity');
  t.notOk('CPUQuotaPeriodUSec' in unlimited);
  t.equal(
    byName(resourceProperties({ cpu: { quota: 12345 } }, 2))['CPUQuotaPerSecUSec'],
    130000n,
    'rounded up to 10 ms',
  );
  t.same(
    resourceProperties({ pids: { limit: 0 }, cpu: { shares: 0 }, memory: {} }, 2),
    [],
    '0 leaves a limit as it is',
  );

  const v1 = byName(resourceProperties({ memory: { limit: 1000 }, cpu: { shares: 512 }, blockIO: { weight: 300 } }, 1));
  t.same(v1, { MemoryLimit: 1000n, CPUShares: 512n, BlockIOWeight: 300n }, 'v1: the legacy names');
  const v1Cpuset = byName(resourceProperties({ cpu: { cpus: '0-2,5', mems: '0' } }, 1));
  t.same(
    v1Cpuset,
    { AllowedCPUs: Buffer.from([0b00100111]), AllowedMemoryNodes: Buffer.from([1]) },
    "v1: AllowedCPUs and AllowedMemoryNodes as well, as runc's legacy manager sends them",
  );

  const unified = byName(
    resourceProperties(
      { unified: { 'memory.high': '4096', 'pids.max': 'max', 'cpu.max': '20000 50000', 'io.max': '8:0 rbps=1' } },
      2,
    ),
  );
  t.same(
    unified,
    {
      MemoryHigh: 4096n,
      TasksMax: SD_INFINITY,
      CPUQuotaPeriodUSec: 50000n,
      CPUQuotaPerSecUSec: 400000n,
    },
    'unified keys systemd has a property for (io.max goes to the file alone)',
  );
  t.same([...cpusetBits('8')], [0, 1]);
  t.throws(() => cpusetBits('3-1'), /invalid cpuset range/);
});

t.test(
  'device rules before systemd 240: /proc/devices groups and existing nodes only, else auto (v2) or left out (v1)',
  async (t) => {
    const groups = parseProcDevices(
      'Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n137 pts\n\nBlock devices:\n  8 sd\n',
    );
    t.equal(groups('c', 136), 'pts');
    t.equal(groups('b', 8), 'sd');
    t.equal(groups('c', 8), undefined);
    const all = () => true;
    const rules = DeviceEmulator.fromRules([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, minor: -1, access: 'rw' },
      { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
    ]);
    const strict = byName(deviceProperties(rules, { groupOf: groups, exists: all }, 239));
    t.equal(strict['DevicePolicy'], 'strict');
    t.same((strict['DeviceAllow'] as [string, string][]).slice().sort(), [
      ['/dev/char/1:3', 'rwm'],
      ['block-*', 'm'],
      ['char-pts', 'rw'],
    ]);
    t.same(
      byName(deviceProperties(rules, { groupOf: groups, exists: () => false }, 239))['DevicePolicy'],
      'auto',
      'a node systemd cannot resolve: auto',
    );
    const starMinor = DeviceEmulator.fromRules([{ allow: true, type: 'c', major: -1, minor: 5, access: 'r' }]);
    t.same(
      byName(deviceProperties(starMinor, { groupOf: groups, exists: all }, 239))['DevicePolicy'],
      'auto',
      '"*:5" has no systemd form: auto',
    );
    const allowAll = DeviceEmulator.fromRules([{ allow: true, access: 'rwm' }]);
    t.same(
      deviceProperties(allowAll, { groupOf: groups, exists: all }, 239).map((p) => [p.name, p.value.value]),
      [
        ['DevicePolicy', 'auto'],
        ['DeviceAllow', []],
      ],
    );
    const denyList = DeviceEmulator.fromRules([
      { allow: true, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
    ]);
    t.same(
      byName(deviceProperties(denyList, { groupOf: groups, exists: all }, 239))['DevicePolicy'],
      'auto',
      'a deny list: auto, never stricter than the container',
    );

    // v1: systemd's list replaces the container's whenever it applies the unit: never "auto" (allow-all) there
    const v1 = (d: DeviceEmulator, exists: (p: string) => boolean = all) =>
      byName(deviceProperties(d, { groupOf: groups, exists }, 239, 1));
    t.same(v1(rules), strict, 'v1: a list systemd can say is the same');
    const missing = v1(rules, (p) => p !== '/dev/char/1:3');
    t.equal(
      missing['DevicePolicy'],
      'strict',
      'v1: a node systemd cannot resolve is left out of a strict list, not made auto',
    );
    t.same((missing['DeviceAllow'] as [string, string][]).slice().sort(), [
      ['block-*', 'm'],
      ['char-pts', 'rw'],
    ]);
    t.same(v1(starMinor), { DevicePolicy: 'strict', DeviceAllow: [] }, 'v1: "*:5" left out');
    t.same(v1(denyList), { DevicePolicy: 'strict', DeviceAllow: [] }, 'v1: a deny list is deny-all for systemd');
    t.same(v1(allowAll), { DevicePolicy: 'auto', DeviceAllow: [] }, 'v1: allow-all stays auto');
  },
);

t.test(
  'device rules on systemd 240 and later: "char-MAJOR" and /dev/char/M:N read from the string, as runc',
  async (t) => {
    const none = { groupOf: () => undefined, exists: () => false };
    const rules = DeviceEmulator.fromRules([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, minor: -1, access: 'rw' },
      { allow: true, type: 'b', major: 259, minor: -1, access: 'r' },
      { allow: true, type: 'c', major: 4242, minor: 7, access: 'r' },
    ]);
    for (const cgroupVersion of [1, 2] as const) {
      const p = byName(deviceProperties(rules, none, 252, cgroupVersion));
      t.equal(p['DevicePolicy'], 'strict', `v${cgroupVersion}: strict`);
      t.same(
        (p['DeviceAllow'] as [string, string][]).slice().sort(),
        [
          ['/dev/char/1:3', 'rwm'],
          ['/dev/char/4242:7', 'r'],
          ['block-259', 'r'],
          ['char-136', 'rw'],
        ],
        `v${cgroupVersion}: the exact majors, no /proc/devices group (which may allow more), nodes not looked up`,
      );
    }
    const starMinor = DeviceEmulator.fromRules([{ allow: true, type: 'c', major: -1, minor: 5, access: 'r' }]);
    t.equal(byName(deviceProperties(starMinor, none, 252))['DevicePolicy'], 'auto', '"*:5" still has no systemd form');
    t.equal(parseSystemdVersion('252.39-1~deb12u1'), 252);
    t.equal(parseSystemdVersion('v255'), 255);
    t.equal(parseSystemdVersion('255~rc1'), 255);
    t.equal(parseSystemdVersion(''), 0, 'no version: treated as old (groups, stat)');
    t.equal(parseSystemdVersion(undefined), 0);
  },
);

t.test('org.systemd.property.* annotations (runc passes them on)', async (t) => {
  const props = annotationProperties({
    annotations: {
      'org.systemd.property.TimeoutStopSec': '5',
      'org.systemd.property.CollectMode': "'inactive-or-failed'",
      'org.systemd.property.IOAccounting': 'false',
      'org.systemd.property.TasksMax': 'uint64 30',
      'org.systemd.property.After': "['a.service', 'b.service']",
      'other.annotation': 'x',
    },
  });
  t.same(
    props.map((p) => [p.name, p.value.type, p.value.value]),
    [
      ['TimeoutStopUSec', 't', 5000000n],
      ['CollectMode', 's', 'inactive-or-failed'],
      ['IOAccounting', 'b', false],
      ['TasksMax', 't', 30n],
      ['After', 'as', ['a.service', 'b.service']],
    ],
  );
  t.same(parseGVariant('@t 7'), { type: 't', value: 7n });
  t.same(parseGVariant('1.5'), { type: 'd', value: 1.5 });
  t.same(parseGVariant('[1, 2]'), { type: 'au', value: [1, 2] });
  t.throws(() => parseGVariant('uint32 -1'), /out of range/);
  let caught: unknown;
  try {
    annotationProperties({ annotations: { 'org.systemd.property.bad-name': '1', 'org.systemd.property.Foo': '{x}' } });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ConfigError);
  t.same(
    (caught as ConfigError).problems.map((p) => p.pointer),
    ['/annotations/org.systemd.property.bad-name', '/annotations/org.systemd.property.Foo'],
    'each bad annotation named by its pointer',
  );
});

/**
 * A host in a temporary directory: one v1 hierarchy with memory and pids (a v2 one would have
 * the driver attach a real eBPF device filter to it, which a unit test does not do).
 */
function fakeHost(t: Test): { hierarchies: CgroupHierarchy[]; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-sd-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  return {
    root,
    hierarchies: [{ key: 'pids', mountpoint: root, version: 1, controllers: ['memory', 'pids'], root: '/' }],
  };
}

interface Call {
  method: string;
  unit: string;
  props?: Record<string, unknown>;
}

function recordingBus(root: string, behave: Partial<SystemdBus> = {}): { bus: SystemdBus; calls: Call[] } {
  const calls: Call[] = [];
  const bus: SystemdBus = {
    startTransientUnit: (unit, props) => {
      calls.push({ method: 'start', unit, props: byName(props) });
      if (behave.startTransientUnit) return behave.startTransientUnit(unit, props);
      // what systemd does: the scope's directory, the pid in it
      const dir = path.join(root, 'system.slice', unit);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), `${(byName(props)['PIDs'] as number[])[0]}\n`);
    },
    stopUnit: (unit) => {
      calls.push({ method: 'stop', unit });
      return behave.stopUnit ? behave.stopUnit(unit) : true;
    },
    setUnitProperties: (unit, props) => {
      calls.push({ method: 'set', unit, props: byName(props) });
      behave.setUnitProperties?.(unit, props);
    },
    resetFailedUnit: (unit) => {
      calls.push({ method: 'reset-failed', unit });
    },
    activeState: (unit) => {
      calls.push({ method: 'active-state', unit });
      return behave.activeState ? behave.activeState(unit) : undefined;
    },
    version: () => (behave.version ? behave.version() : 252),
    controlGroup: () => (behave.controlGroup ? behave.controlGroup() : '/'),
  };
  return { bus, calls };
}

const devices = { groupOf: () => undefined, exists: () => true };

t.test('create starts the unit with the init in it, then writes the files; exec joins through the files', async (t) => {
  const { root, hierarchies } = fakeHost(t);
  const { bus, calls } = recordingBus(root);
  const m = SystemdManager.forContainer('web', 'system.slice:tsrunc:web', bus, hierarchies, devices);
  t.equal(m.paths['pids'], path.join(root, 'system.slice', 'tsrunc-web.scope'));
  t.same(m.recorded(), { cgroupDriver: 'systemd', cgroups: { 'memory,pids': '/system.slice/tsrunc-web.scope' } });
  const spec = defaultSpec();
  spec.linux = { ...spec.linux, resources: { ...spec.linux?.resources, pids: { limit: 50 } } };
  const setup = m.prepare(spec);
  m.create(setup);
  t.same(calls, [], 'nothing asked of systemd before there is a process');
  // the files the limits go to, as the kernel would show them once systemd made the scope
  m.join(4242);
  t.equal(calls.length, 1);
  t.equal(calls[0]?.method, 'start');
  t.equal(calls[0]?.unit, 'tsrunc-web.scope');
  t.same(calls[0]?.props?.['PIDs'], [4242]);
  t.equal(calls[0]?.props?.['TasksMax'], 50n, 'the limits are properties of the unit');
  t.equal(calls[0]?.props?.['Slice'], 'system.slice');
  t.equal(
    fs.readFileSync(path.join(m.paths['pids'] as string, 'pids.max'), 'utf8'),
    '50',
    'and written to the files, as runc does',
  );
  m.join(4343);
  t.equal(calls.length, 1, "exec's join asks systemd nothing");
  t.match(fs.readFileSync(path.join(m.paths['pids'] as string, 'cgroup.procs'), 'utf8'), /4343/);

  m.update({ memory: { limit: 1 << 26 } }, spec);
  t.same(
    calls[1],
    { method: 'set', unit: 'tsrunc-web.scope', props: { MemoryLimit: BigInt(1 << 26) } },
    'v1: MemoryLimit',
  );
  t.equal(fs.readFileSync(path.join(m.paths['pids'] as string, 'memory.limit_in_bytes'), 'utf8'), String(1 << 26));
});

t.test('a unit of the same name: a live one is refused, a failed one reset and started again', async (t) => {
  const exists = Object.assign(new Error('Unit tsrunc-web.scope already exists.'), {
    dbusName: 'org.freedesktop.systemd1.UnitExists',
  });
  const { root, hierarchies } = fakeHost(t);
  let first = true;
  const live = recordingBus(root, {
    startTransientUnit: () => {
      throw exists;
    },
    activeState: () => 'active',
  });
  const m = SystemdManager.forContainer('web', 'system.slice:tsrunc:web', live.bus, hierarchies, devices);
  m.create(m.prepare(defaultSpec()));
  t.throws(() => m.join(1), { message: 'systemd unit tsrunc-web.scope already exists and is active' });
  m.remove(() => t.fail('a failed create kills nothing of the other unit'));
  t.same(
    live.calls.map((c) => c.method),
    ['start', 'active-state'],
    'and its cleanup leaves the live unit alone',
  );

  const failed = recordingBus(root, {
    startTransientUnit: (unit) => {
      if (first) {
        first = false;
        throw exists;
      }
      fs.mkdirSync(path.join(root, 'system.slice', unit), { recursive: true });
    },
    activeState: () => 'failed',
  });
  const m2 = SystemdManager.forContainer('web', 'system.slice:tsrunc:web', failed.bus, hierarchies, devices);
  m2.create(m2.prepare(defaultSpec()));
  m2.join(1);
  t.same(
    failed.calls.map((c) => c.method),
    ['start', 'active-state', 'reset-failed', 'start'],
  );

  const refused = recordingBus(root, {
    startTransientUnit: () => {
      throw Object.assign(new Error('Access denied'), {
        code: 'EACCES',
        dbusName: 'org.freedesktop.DBus.Error.AccessDenied',
      });
    },
  });
  const m3 = SystemdManager.forContainer('web', 'system.slice:tsrunc:web', refused.bus, hierarchies, devices);
  m3.create(m3.prepare(defaultSpec()));
  t.throws(() => m3.join(1), {
    name: 'TsruncError',
    message: 'creating systemd unit tsrunc-web.scope: Access denied',
    context: { errno: 'EACCES' },
  });
});

t.test('remove kills what is left, stops the unit, clears a failed state, and removes the directories', async (t) => {
  const { root, hierarchies } = fakeHost(t);
  const { bus, calls } = recordingBus(root, { stopUnit: () => false });
  // (delete: the manager of a container's record)
  const m = SystemdManager.fromRecord(
    { cgroupDriver: 'systemd', cgroups: { 'memory,pids': '/system.slice/tsrunc-web.scope' } },
    'web',
    bus,
    hierarchies,
  );
  // (an empty directory: a regular file in it would keep rmdir from removing it, unlike cgroupfs)
  fs.mkdirSync(m.paths['pids'] as string, { recursive: true });
  m.remove(() => {});
  t.notOk(fs.existsSync(m.paths['pids'] as string), "a directory systemd left is removed as cgroupfs's are");
  t.same(
    calls.map((c) => c.method),
    ['stop', 'reset-failed'],
    'a unit already gone (its processes exited) is no error',
  );

  // a record read back names the unit by its cgroup
  const again = SystemdManager.fromRecord(m.recorded(), 'web', bus, hierarchies);
  t.equal(again.unit, 'tsrunc-web.scope');
  t.throws(
    () =>
      SystemdManager.fromRecord({ cgroupDriver: 'systemd', cgroups: { '': '/default/web' } }, 'web', bus, hierarchies),
    {
      message: /names no systemd unit/,
    },
  );
});

t.test(
  'update on v1 freezes the container while systemd applies the properties (it rewrites the device list) and thaws it once the files are written',
  async (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-sd-'));
    t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
    const hierarchies: CgroupHierarchy[] = [
      { key: 'pids', mountpoint: path.join(root, 'pids'), version: 1, controllers: ['memory', 'pids'], root: '/' },
      { key: 'freezer', mountpoint: path.join(root, 'freezer'), version: 1, controllers: ['freezer'], root: '/' },
    ];
    for (const h of hierarchies) fs.mkdirSync(h.mountpoint);
    let m: SystemdManager | undefined;
    const freezerState = (): string =>
      fs.readFileSync(path.join(m?.paths['freezer'] as string, 'freezer.state'), 'utf8').trim();
    const duringSet: string[] = [];
    const { bus, calls } = recordingBus(path.join(root, 'pids'), {
      setUnitProperties: () => {
        duringSet.push(freezerState());
      },
    });
    m = SystemdManager.forContainer('web', 'system.slice:tsrunc:web', bus, hierarchies, devices);
    const spec = defaultSpec();
    m.create(m.prepare(spec));
    m.join(4242);
    fs.writeFileSync(path.join(m.paths['freezer'] as string, 'freezer.state'), 'THAWED');

    m.update({ pids: { limit: 70 } }, spec);
    t.same(duringSet, ['FROZEN'], 'frozen while systemd sets the properties');
    t.equal(freezerState(), 'THAWED', 'thawed after');
    t.equal(fs.readFileSync(path.join(m.paths['pids'] as string, 'pids.max'), 'utf8'), '70');

    m.freeze();
    m.update({ pids: { limit: 80 } }, spec);
    t.same(duringSet, ['FROZEN', 'FROZEN']);
    t.equal(freezerState(), 'FROZEN', 'a paused container stays paused');
    m.thaw();

    const before = calls.length;
    m.update({ memory: { swappiness: 10 } }, spec);
    t.equal(calls.length, before, 'no property to set: systemd is not asked');
    t.same(duringSet, ['FROZEN', 'FROZEN'], 'and nothing is frozen');

    // a write that fails after systemd has the properties: the container is thawed all the same
    fs.rmSync(path.join(m.paths['pids'] as string, 'pids.max'));
    fs.mkdirSync(path.join(m.paths['pids'] as string, 'pids.max'));
    t.throws(() => m?.update({ pids: { limit: 90 } }, spec));
    t.equal(duringSet.length, 3);
    t.equal(freezerState(), 'THAWED', 'thawed after a failed update');
  },
);

t.test(
  "rootless: the unit is the user manager's, in its user.slice, below its cgroup; cgroup v1 is refused",
  async (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-sd-'));
    t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
    const v2: CgroupHierarchy[] = [
      { key: '', mountpoint: root, version: 2, controllers: ['memory', 'pids'], root: '/' },
    ];
    const manager = '/user.slice/user-1000.slice/user@1000.service';
    const { bus, calls } = recordingBus(root, { controlGroup: () => manager });
    const m = SystemdManager.forContainer('web', undefined, bus, v2, devices, true);
    t.equal(m.unit, 'runc-web.scope');
    t.equal(m.paths[''], path.join(root, manager, 'user.slice', 'runc-web.scope'), "below the user manager's cgroup");
    t.same(m.recorded().cgroups, { '': `${manager}/user.slice/runc-web.scope` });
    m.create(m.prepare(defaultSpec()));
    // (what the user's systemd would do: the scope's directory with the pid in it)
    fs.mkdirSync(m.paths[''] as string, { recursive: true });
    fs.writeFileSync(path.join(m.paths[''] as string, 'cgroup.procs'), '');
    m.join(77);
    t.equal(calls.find((c) => c.method === 'start')?.props?.['Slice'], 'user.slice');
    const v1 = fakeHost(t);
    t.throws(
      () => SystemdManager.forContainer('web', undefined, recordingBus(v1.root).bus, v1.hierarchies, devices, true),
      {
        message: /--systemd-cgroup without root needs a pure cgroup v2 host/,
      },
    );
    const noManager = recordingBus(root, {
      controlGroup: () => {
        throw new Error('No such file or directory');
      },
    });
    t.throws(() => SystemdManager.forContainer('web', undefined, noManager.bus, v2, devices, true), {
      message: /asking the user's systemd for its cgroup: No such file or directory/,
    });
  },
);
