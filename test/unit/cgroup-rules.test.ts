// runc's cgroup rules without touching a cgroup or reading the host: which hierarchies a
// mountinfo shows (the unified hierarchy's controllers given, as its cgroup.controllers would
// say), where a container's cgroup goes for each cgroupsPath form, and which file each
// resource becomes on v1 and on v2 (with runc's conversions); what create finds at a cgroup
// path (files in a temp directory standing for the cgroup filesystem).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { parseMountinfo, type CgroupHierarchy } from '../../src/cgroups/hierarchy';
import { inspectExistingCgroups, resolveCgroupPaths } from '../../src/cgroups/cgroupfs';
import { applyWrites, blkioToIoWeight, resourceWrites, sharesToWeight, writeTarget } from '../../src/cgroups/resources';
import { ConfigError } from '../../src/errors';

const HYBRID_MOUNTINFO = [
  '30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
  '35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory',
  '36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct',
  '37 30 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids',
].join('\n');

/** The hybrid host above, its unified hierarchy offering `v2Controllers` (none, as on most hybrid hosts). */
function hybridHost(v2Controllers: string[] = [], mountinfo = HYBRID_MOUNTINFO): CgroupHierarchy[] {
  return parseMountinfo(mountinfo, () => v2Controllers);
}

const OWN = [
  '0::/user.slice',
  '1:name=systemd:/user.slice/session-1.scope',
  '4:memory:/sess',
  '5:cpu,cpuacct:/sess',
  '6:pids:/sess',
].join('\n');

function v2only(controllers: string[]): CgroupHierarchy[] {
  return [{ key: '', mountpoint: '/sys/fs/cgroup', version: 2, controllers, root: '/' }];
}

t.test('hierarchies of a hybrid host', async (t) => {
  const asked: string[] = [];
  const hs = parseMountinfo(HYBRID_MOUNTINFO, (mountpoint) => {
    asked.push(mountpoint);
    return ['hugetlb'];
  });
  t.same(
    hs.map((h) => [h.key, h.version, h.controllers.join(','), h.mountpoint, h.root]),
    [
      ['unified', 2, 'hugetlb', '/sys/fs/cgroup/unified', '/'],
      ['systemd', 1, 'name=systemd', '/sys/fs/cgroup/systemd', '/'],
      ['memory', 1, 'memory', '/sys/fs/cgroup/memory', '/'],
      ['cpu,cpuacct', 1, 'cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct', '/'],
      ['pids', 1, 'pids', '/sys/fs/cgroup/pids', '/'],
    ],
  );
  t.same(
    asked,
    ['/sys/fs/cgroup/unified'],
    "a v2 hierarchy's controllers are asked for by its mount point (its cgroup.controllers), a v1 one's read from the mount options",
  );
});

t.test('hierarchies of a pure v2 host, one mounted twice, one showing a subtree', async (t) => {
  const hs = parseMountinfo(
    [
      '25 1 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
      '60 25 0:26 / /mnt/again rw,relatime - cgroup2 cgroup2 rw',
      '61 1 0:40 /pod\\040a /mnt/mem rw,relatime - cgroup cgroup rw,memory',
    ].join('\n'),
    () => ['cpu', 'memory', 'pids'],
  );
  t.same(
    hs.map((h) => [h.key, h.version, h.controllers.join(','), h.mountpoint, h.root]),
    [
      ['', 2, 'cpu,memory,pids', '/sys/fs/cgroup', '/'],
      ['mem', 1, 'memory', '/mnt/mem', '/pod a'],
    ],
    'the unified hierarchy at /sys/fs/cgroup has the key ""; its second mount counts once; octal escapes are read',
  );
});

t.test("cgroupsPath: absolute from each root, relative under the runtime's own cgroup, default the id", async (t) => {
  const hs = hybridHost();
  const abs = resolveCgroupPaths('/default/web', 'web', hs, OWN);
  t.equal(abs['memory'], '/sys/fs/cgroup/memory/default/web');
  t.equal(abs['cpu,cpuacct'], '/sys/fs/cgroup/cpu,cpuacct/default/web');
  t.equal(abs['unified'], '/sys/fs/cgroup/unified/default/web');
  t.equal(abs['systemd'], '/sys/fs/cgroup/systemd/default/web');
  const rel = resolveCgroupPaths('pods/web', 'web', hs, OWN);
  t.equal(rel['memory'], '/sys/fs/cgroup/memory/sess/pods/web');
  t.equal(rel['unified'], '/sys/fs/cgroup/unified/user.slice/pods/web');
  t.equal(rel['systemd'], '/sys/fs/cgroup/systemd/user.slice/session-1.scope/pods/web');
  const dflt = resolveCgroupPaths(undefined, 'web', hs, OWN);
  t.equal(dflt['pids'], '/sys/fs/cgroup/pids/sess/web');
  const escape = resolveCgroupPaths('../../etc', 'web', hs, OWN);
  t.equal(escape['memory'], '/sys/fs/cgroup/memory/sess/etc', 'a relative path cannot climb out of the runtime cgroup');
});

t.test('v1 files', async (t) => {
  const hs = hybridHost();
  const w = resourceWrites(
    {
      memory: { limit: 1000, reservation: 500, swap: 2000, swappiness: 10 },
      cpu: { shares: 512, quota: 20000, period: 100000 },
      pids: { limit: 0 },
    },
    hs,
  );
  const files = Object.fromEntries(w.map((x) => [x.file, x.value]));
  t.equal(files['memory.limit_in_bytes'], '1000');
  t.equal(files['memory.memsw.limit_in_bytes'], '2000');
  t.equal(files['memory.soft_limit_in_bytes'], '500');
  t.equal(files['cpu.shares'], '512');
  t.equal(files['cpu.cfs_quota_us'], '20000');
  t.equal(files['pids.max'], undefined, 'a limit of 0 leaves pids.max as it is (runc)');
  t.equal(
    Object.fromEntries(resourceWrites({ pids: { limit: -1 } }, hs).map((x) => [x.file, x.value]))['pids.max'],
    'max',
    '-1 is no limit',
  );
});

t.test('update on v1: unlimited memory, cpu period and quota (runc)', async (t) => {
  const hs = hybridHost();
  const unlimited = resourceWrites({ memory: { limit: -1 } }, hs);
  t.same(
    unlimited.map((w) => [w.file, w.value, w.ifExists === true]),
    [
      ['memory.memsw.limit_in_bytes', '-1', true],
      ['memory.limit_in_bytes', '-1', false],
    ],
    'memory -1 without swap: memory+swap unlimited first (where swap is accounted), so that a memsw limit cannot refuse it',
  );
  t.same(
    resourceWrites({ memory: { limit: 64 << 20 } }, hs).map((w) => w.file),
    ['memory.limit_in_bytes'],
    'a limit alone: no swap write',
  );
  t.same(
    resourceWrites({ cpu: { period: 10000, quota: 3000 } }, hs).map((w) => `${w.file}=${w.value}`),
    ['cpu.cfs_period_us=10000', 'cpu.cfs_quota_us=3000'],
    'period, then quota (a period the kernel refuses under a parent quota is retried after the quota: applyWrites)',
  );
});

t.test('update on v2: unlimited memory leaves swap unlimited, a quota alone keeps the period (runc)', async (t) => {
  const hs = v2only(['cpu', 'memory', 'pids']);
  const files = (r: Parameters<typeof resourceWrites>[0]): string[] =>
    resourceWrites(r, hs).map((w) => `${w.file}=${w.value}${w.ifExists === true ? ' (if present)' : ''}`);
  t.same(files({ memory: { limit: -1 } }), ['memory.max=max', 'memory.swap.max=max (if present)']);
  t.same(files({ cpu: { quota: 30000 } }), ['cpu.max=30000']);
  t.same(files({ cpu: { quota: -1, period: 900000 } }), ['cpu.max=max 900000']);
  t.same(
    files({ cpu: { quota: 0, period: 0, shares: 0 } }),
    [],
    'docker update\'s 0s are unset (not "max 0", which is EINVAL)',
  );
  t.same(files({ cpu: { quota: 0, period: 50000 } }), ['cpu.max=max 50000']);
  t.same(
    resourceWrites({ cpu: { quota: 0, period: 0 } }, [
      { key: 'cpu', mountpoint: '/x', version: 1, controllers: ['cpu'], root: '/' },
    ]),
    [],
    'v1 too',
  );
});

t.test('v2 files with runc conversions', async (t) => {
  const hs = v2only(['cpu', 'memory', 'pids', 'io', 'hugetlb', 'cpuset']);
  const w = resourceWrites(
    {
      memory: { limit: 1000, swap: 3000, reservation: -1 },
      cpu: { shares: 1024, quota: -1, period: 50000, cpus: '0-1' },
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 100 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 4096 }],
      unified: { 'memory.high': '900' },
    },
    hs,
  );
  const files = w.map((x) => `${x.file}=${x.value}`);
  t.ok(files.includes('memory.max=1000'));
  t.ok(files.includes('memory.swap.max=2000'), 'v1 swap (memory+swap) becomes swap alone');
  t.ok(files.includes('memory.low=max'));
  t.ok(files.includes(`cpu.weight=${sharesToWeight(1024)}`));
  t.equal(sharesToWeight(1024), 39);
  t.equal(sharesToWeight(2), 1);
  t.equal(sharesToWeight(262144), 10000);
  t.ok(files.includes('cpu.max=max 50000'));
  t.ok(files.includes('cpuset.cpus=0-1'));
  t.ok(files.includes(`io.weight=default ${blkioToIoWeight(500)}`));
  t.equal(blkioToIoWeight(10), 1);
  t.equal(blkioToIoWeight(1000), 10000);
  t.ok(files.includes('io.max=8:0 rbps=100'));
  t.ok(files.includes('hugetlb.2MB.max=4096'));
  t.ok(files.includes('memory.high=900'));
});

t.test('what v2 cannot do is refused with pointers', async (t) => {
  const hs = v2only(['cpu', 'memory', 'pids']);
  try {
    resourceWrites(
      {
        memory: { swappiness: 10, kernel: 1, swap: 10 },
        cpu: { realtimeRuntime: 5 },
        network: { classID: 1 },
        unified: { 'rdma.max': 'x', '../x': '1' },
      },
      hs,
    );
    t.fail('should throw');
  } catch (err) {
    t.type(err, ConfigError);
    const pointers = (err as ConfigError).problems.map((p) => p.pointer).sort();
    // (memory.kernel is ignored, as runc 1.1 does, with a warning at validation.)
    t.same(pointers, [
      '/linux/resources/cpu/realtimeRuntime',
      '/linux/resources/memory/swap',
      '/linux/resources/memory/swappiness',
      '/linux/resources/network/classID',
      '/linux/resources/unified/..~1x',
      '/linux/resources/unified/rdma.max',
    ]);
  }
});

t.test(
  "what create finds at the container's cgroup paths: a freezer holding it (its own or an ancestor's), processes already in it",
  async (t) => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-cg-'));
    t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
    const write = (file: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(base, file)), { recursive: true });
      fs.writeFileSync(path.join(base, file), text);
    };
    const hs: CgroupHierarchy[] = [
      { key: 'freezer', mountpoint: path.join(base, 'freezer'), version: 1, controllers: ['freezer'], root: '/' },
      { key: 'unified', mountpoint: path.join(base, 'unified'), version: 2, controllers: [], root: '/' },
    ];
    const paths = { freezer: path.join(base, 'freezer/pod/c1'), unified: path.join(base, 'unified/pod/c1') };
    write('freezer/freezer.state', 'THAWED\n'); // (never read: the root cannot be frozen)
    write('freezer/pod/freezer.state', 'THAWED\n');
    write('unified/pod/cgroup.events', 'populated 0\nfrozen 0\n');
    t.same(inspectExistingCgroups(paths, hs), { frozen: undefined, pids: [] }, 'nothing there yet, nothing frozen');
    write('freezer/pod/freezer.state', 'FROZEN\n');
    t.equal(
      inspectExistingCgroups(paths, hs).frozen,
      `${path.join(base, 'freezer/pod/freezer.state')}: FROZEN`,
      'the parent is frozen: the cgroup made below it would be too',
    );
    write('freezer/pod/freezer.state', 'THAWED\n');
    write('unified/pod/c1/cgroup.events', 'populated 1\nfrozen 1\n');
    write('unified/pod/c1/cgroup.procs', '12\n');
    write('unified/pod/c1/sub/cgroup.procs', '13\n14\n');
    write('freezer/pod/c1/cgroup.procs', '12\n');
    const found = inspectExistingCgroups(paths, hs);
    t.equal(found.frozen, `${path.join(base, 'unified/pod/c1/cgroup.events')}: frozen 1`, 'v2: cgroup.events');
    t.same(found.pids, [12, 13, 14], 'every process below it, counted once');
  },
);

t.test("v1 blkio weights go to BFQ's files where CFQ's are absent, as runc chooses", async (t) => {
  const hs = hybridHost(
    [],
    [
      ...HYBRID_MOUNTINFO.split('\n'),
      '38 30 0:34 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,blkio',
    ].join('\n'),
  );
  const writes = resourceWrites(
    {
      blockIO: {
        weight: 300,
        weightDevice: [{ major: 8, minor: 0, weight: 200 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }],
      },
    },
    hs,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-blkio-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // (regular files stand for a cgroup directory: only the files the kernel shows are there)
  const show = (files: string[]): void => {
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
    for (const f of files) fs.writeFileSync(path.join(dir, f), '');
  };
  show(['blkio.bfq.weight', 'blkio.bfq.weight_device', 'blkio.throttle.read_bps_device']);
  t.same(
    writes.map((w) => writeTarget(w, dir)),
    ['blkio.bfq.weight', 'blkio.bfq.weight_device', 'blkio.throttle.read_bps_device'],
    'BFQ (no blkio.weight)',
  );
  applyWrites(writes, { blkio: dir });
  t.equal(fs.readFileSync(path.join(dir, 'blkio.bfq.weight'), 'utf8'), '300');
  t.equal(fs.readFileSync(path.join(dir, 'blkio.bfq.weight_device'), 'utf8'), '8:0 200');
  t.notOk(fs.existsSync(path.join(dir, 'blkio.weight')), 'nothing written to a CFQ file');
  show([
    'blkio.weight',
    'blkio.weight_device',
    'blkio.bfq.weight',
    'blkio.bfq.weight_device',
    'blkio.throttle.read_bps_device',
  ]);
  t.same(
    writes.map((w) => writeTarget(w, dir)),
    ['blkio.weight', 'blkio.weight_device', 'blkio.throttle.read_bps_device'],
    'CFQ where it is there (runc looks for blkio.weight)',
  );
});

t.test('unified resources where the host is cgroup v1 for them: runc\'s "invalid configuration"', async (t) => {
  const problems = (hs: CgroupHierarchy[], unified: Record<string, string>): string[] => {
    try {
      resourceWrites({ unified }, hs);
      return [];
    } catch (err) {
      return (err as ConfigError).problems.map((p) => `${p.pointer}: ${p.message}`);
    }
  };
  const v1only = hybridHost().filter((h) => h.version === 1);
  t.same(problems(v1only, { 'pids.max': '10' }), [
    '/linux/resources/unified/pids.max: invalid configuration: cannot use unified on cgroup v1 (no unified hierarchy on this host)',
  ]);
  const hybrid = hybridHost(['hugetlb']);
  t.same(problems(hybrid, { 'pids.max': '10' }), [
    '/linux/resources/unified/pids.max: invalid configuration: cannot use unified on cgroup v1 (the pids controller is a cgroup v1 hierarchy on this host)',
  ]);
  t.same(
    problems(hybrid, { 'hugetlb.2MB.max': '0', 'cgroup.max.depth': '3' }),
    [],
    'a controller the unified hierarchy of a hybrid host has is written there (runc refuses every unified key on a hybrid host)',
  );
  t.same(
    problems(v2only(['cpu']), { 'io.max': 'x' }),
    ['/linux/resources/unified/io.max: the io controller is not available in the unified hierarchy of this host'],
    'on a pure v2 host: the controller is missing',
  );
});
