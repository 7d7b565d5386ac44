// What tsrunc asks CRIU for (src/lifecycle/criu-request.ts), decided without root or criu, and
// the RPC codec against criu's own rpc.proto (where the criu package installed it).
import * as fs from 'node:fs';
import t from 'tap';
import type { CgroupHierarchy } from '../../src/cgroups';
import { criuCodec, rpcProtoCandidates } from '../../src/lifecycle/criu';
import {
  cgroupRoots,
  cgroupsMode,
  checkParentPath,
  commonOptions,
  criuConfigFile,
  dumpExternalNamespaces,
  emptyNsMask,
  externalMounts,
  lsmOptions,
  pageServer,
  restoreNamespaces,
  stdioInherit,
  type CgroupView,
} from '../../src/lifecycle/criu-request';
import type { Spec } from '../../src/spec/types';

const v2: CgroupView = {
  hierarchies: [{ key: '', mountpoint: '/sys/fs/cgroup', version: 2, controllers: ['memory'], root: '/' }],
  paths: { '': '/sys/fs/cgroup/ctr' },
};
const hybrid: CgroupView = {
  hierarchies: [
    { key: 'memory', mountpoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'], root: '/' },
    {
      key: 'cpu,cpuacct',
      mountpoint: '/sys/fs/cgroup/cpu,cpuacct',
      version: 1,
      controllers: ['cpu', 'cpuacct'],
      root: '/',
    },
    { key: 'unified', mountpoint: '/sys/fs/cgroup/unified', version: 2, controllers: [], root: '/' },
  ] as CgroupHierarchy[],
  paths: {
    memory: '/sys/fs/cgroup/memory/ctr',
    'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/ctr',
    unified: '/sys/fs/cgroup/unified/ctr',
  },
};

function spec(extra: Partial<Spec> = {}, namespaces: { type: string; path?: string }[] = []): Spec {
  return {
    ociVersion: '1.0.2',
    root: { path: 'rootfs' },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/data', type: 'bind', source: 'data', options: ['rbind'] },
      { destination: '/etc/hosts/', type: 'none', source: '/etc/hosts', options: ['bind', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' },
    ],
    linux: { namespaces, maskedPaths: ['/proc/kcore', '/proc/acpi'] },
    ...extra,
  } as Spec;
}

const devices = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'];

t.test('flags as runc maps them, refused in its words', async (t) => {
  t.equal(cgroupsMode(undefined), undefined);
  t.equal(cgroupsMode('soft'), 'SOFT');
  t.equal(cgroupsMode('full'), 'FULL');
  t.equal(cgroupsMode('strict'), 'STRICT');
  t.equal(cgroupsMode('ignore'), 'IGNORE');
  t.throws(() => cgroupsMode('props'), /Invalid manage cgroups mode/);
  t.equal(emptyNsMask([]), 0);
  t.equal(emptyNsMask(['network']), 0x40000000);
  t.equal(emptyNsMask(['network', 'ipc']), (0x40000000 | 0x08000000) >>> 0);
  t.throws(() => emptyNsMask(['net']), /namespace "net" is not supported/);
  t.same(pageServer('10.0.0.1:27'), { address: '10.0.0.1', port: 27 });
  t.equal(pageServer(undefined), undefined);
  t.throws(() => pageServer('10.0.0.1'), /--page-server ADDRESS:PORT/);
  t.throws(() => pageServer('a:b:c'), /--page-server ADDRESS:PORT/);
  t.throws(() => pageServer('a:x'), /Invalid port number/);
  t.throws(() => pageServer('a:70000'), /Invalid port number/);
  t.equal(checkParentPath('../pre'), '../pre');
  t.throws(() => checkParentPath('/abs'), /--parent-path must be relative/);
  const opts = commonOptions({ shellJob: true, manageCgroupsMode: 'full', emptyNs: ['network'] }, 7, 'dump.log');
  t.match(opts, {
    images_dir_fd: 7,
    log_level: 4,
    log_file: 'dump.log',
    manage_cgroups: true,
    notify_scripts: true,
    shell_job: true,
    ext_unix_sk: false,
    tcp_established: false,
    orphan_pts_master: true,
    manage_cgroups_mode: 'FULL',
    empty_ns: 0x40000000,
  });
  t.notOk('manage_cgroups_mode' in commonOptions({}, 7, 'x'), 'no mode unless one is given (criu: soft)');
});

t.test('the criu config file: the org.criu.config annotation, else runc.conf where there is one', async (t) => {
  t.equal(
    criuConfigFile(spec(), () => true),
    '/etc/criu/runc.conf',
  );
  t.equal(
    criuConfigFile(spec(), () => false),
    undefined,
  );
  t.equal(
    criuConfigFile(spec({ annotations: { 'org.criu.config': '/x.conf' } }), () => true),
    '/x.conf',
  );
  t.equal(
    criuConfigFile(spec({ annotations: { 'org.criu.config': '' } }), () => true),
    undefined,
    '"" means none',
  );
});

t.test('external mounts: binds, masked files, devices; a namespaced cgroup mount is not one', async (t) => {
  const s = spec({}, [{ type: 'mount' }, { type: 'cgroup' }]);
  const dump = externalMounts(s, '/b', v2, 'dump', (p) => p === '/proc/kcore');
  t.same(
    dump,
    [
      { key: '/data', val: '/data' },
      { key: '/etc/hosts', val: '/etc/hosts' },
      { key: '/proc/kcore', val: '/dev/null' },
      ...devices.map((d) => ({ key: d, val: d })),
    ],
    'a dump names each by its mount point; a masked file as /dev/null; a masked directory is a tmpfs',
  );
  const restore = externalMounts(s, '/b', v2, 'restore');
  t.same(
    restore,
    [
      { key: '/data', val: '/b/data' },
      { key: '/etc/hosts', val: '/etc/hosts' },
      { key: '/dev/null', val: '/dev/null' },
      ...devices.filter((d) => d !== '/dev/null').map((d) => ({ key: d, val: d })),
    ],
    'a restore maps each to its host path (the bundle-relative source resolved)',
  );
});

t.test("a cgroup mount without a cgroup namespace binds the host's cgroups: external", async (t) => {
  const s = spec({}, [{ type: 'mount' }]);
  const find = (list: { key: string; val: string }[], prefix: string) => list.filter((e) => e.key.startsWith(prefix));
  t.same(find(externalMounts(s, '/b', v2, 'restore'), '/sys'), [{ key: '/sys/fs/cgroup', val: '/sys/fs/cgroup/ctr' }]);
  t.same(find(externalMounts(s, '/b', v2, 'dump'), '/sys'), [{ key: '/sys/fs/cgroup', val: '/sys/fs/cgroup' }]);
  t.same(
    find(externalMounts(s, '/b', hybrid, 'restore'), '/sys'),
    [
      { key: '/sys/fs/cgroup/memory', val: '/sys/fs/cgroup/memory/ctr' },
      { key: '/sys/fs/cgroup/cpu,cpuacct', val: '/sys/fs/cgroup/cpu,cpuacct/ctr' },
    ],
    'a hybrid host: each v1 hierarchy the container sees',
  );
});

t.test('namespaces joined by path', async (t) => {
  const s = spec({}, [
    { type: 'network', path: '/run/netns/a' },
    { type: 'pid', path: '/proc/9/ns/pid' },
    { type: 'ipc' },
  ]);
  t.same(
    dumpExternalNamespaces(s, (p) => (p === '/run/netns/a' ? 4026532000 : 4026532001)),
    ['net[4026532000]:extRootNetNS', 'pid[4026532001]:extRootPidNS'],
  );
  t.same(restoreNamespaces(s), [
    { type: 'network', path: '/run/netns/a', key: 'extRootNetNS' },
    { type: 'pid', path: '/proc/9/ns/pid', key: 'extRootPidNS' },
  ]);
  t.throws(
    () => restoreNamespaces(spec({}, [{ type: 'mount' }, { type: 'ipc', path: '/proc/9/ns/ipc' }])),
    /\/linux\/namespaces\/1\/path: a container that joins a ipc namespace cannot be restored/,
  );
});

t.test("the init's stdio: pipes are handed back by key", async (t) => {
  t.same(stdioInherit(['/dev/null', 'pipe:[123]', 'pipe:[456]']), [
    { key: 'pipe:[123]', fd: 1 },
    { key: 'pipe:[456]', fd: 2 },
  ]);
  t.same(stdioInherit(['socket:[1]', '/dev/pts/0', '/dev/null']), []);
});

t.test("a restore's cgroup roots: each line of criu's /proc/PID/cgroup, cgroup v2's as controller \"\"", async (t) => {
  t.same(cgroupRoots('0::/tsrunc/ctr\n'), [{ ctrl: '', path: '/tsrunc/ctr' }], 'cgroup v2: the unified root');
  t.same(
    cgroupRoots('12:cpu,cpuacct:/ctr\n3:name=systemd:/user.slice\n1:memory:/ctr\n0::/unified/ctr\n'),
    [
      { ctrl: 'cpu', path: '/ctr' },
      { ctrl: 'cpuacct', path: '/ctr' },
      { ctrl: 'name=systemd', path: '/user.slice' },
      { ctrl: 'memory', path: '/ctr' },
      { ctrl: '', path: '/unified/ctr' },
    ],
    "cgroup v1 (and hybrid's unified line): one per controller, as runc's ParseCgroupFile",
  );
  t.same(cgroupRoots(''), [], 'nothing read: no roots');
  t.same(cgroupRoots('garbage\n1:memory\n'), [], 'malformed lines are skipped');
});

const proto = rpcProtoCandidates('/usr/sbin/criu').find((f) => fs.existsSync(f));
t.test(
  "the codec speaks criu's rpc.proto",
  { skip: proto === undefined ? 'criu (rpc.proto) is not installed' : false },
  async (t) => {
    const codec = criuCodec('/usr/sbin/criu');
    // criu_req: type (1) = DUMP (1), opts (2) = { images_dir_fd (1) = 5 }
    t.same([...codec.encode({ type: 'DUMP', opts: { images_dir_fd: 5 } })], [0x08, 0x01, 0x12, 0x02, 0x08, 0x05]);
    // notify_success (3) = true
    t.same([...codec.encode({ type: 'NOTIFY', notify_success: true })], [0x08, 0x06, 0x18, 0x01]);
    // criu_resp: type NOTIFY, success, notify (5) = { script (1) "post-restore", pid (2) 42 }
    const script = Buffer.from('post-restore');
    const notify = Buffer.concat([Buffer.from([0x0a, script.length]), script, Buffer.from([0x10, 42])]);
    const resp = codec.decode(Buffer.concat([Buffer.from([0x08, 0x06, 0x10, 0x01, 0x2a, notify.length]), notify]));
    t.match(resp, { type: 'NOTIFY', success: true, notify: { script: 'post-restore', pid: 42 } });
    // a failed DUMP with cr_errno (7) = 2
    t.match(codec.decode(Buffer.from([0x08, 0x01, 0x10, 0x00, 0x38, 0x02])), {
      type: 'DUMP',
      success: false,
      cr_errno: 2,
    });
    t.throws(() => codec.decode(Buffer.from([0xff, 0xff])), /decoding a message of criu/);
    // cg_root (25) = { ctrl (1) "", path (2) "/a" }: an empty ctrl is sent, not dropped (criu
    // reads a missing one as every controller's root, an empty one as cgroup v2's)
    const req = codec.encode({ type: 'RESTORE', opts: { images_dir_fd: 5, cg_root: [{ ctrl: '', path: '/a' }] } });
    t.ok(
      req.includes(Buffer.from([0xca, 0x01, 0x06, 0x0a, 0x00, 0x12, 0x02, 0x2f, 0x61])),
      `cg_root with ctrl "" encoded: ${req.toString('hex')}`,
    );
  },
);

t.test("restore's LSM flags: passed to criu as they are, refused in runc's words before criu 3.16", async (t) => {
  const flags = { lsmProfile: 'apparmor:other', lsmMountContext: 'system_u:object_r:container_file_t:s0:c1,c2' };
  t.same(lsmOptions(flags, 31700), {
    lsm_profile: 'apparmor:other',
    lsm_mount_context: 'system_u:object_r:container_file_t:s0:c1,c2',
  });
  t.same(lsmOptions({}, 31700), {}, 'none given: none sent');
  t.same(lsmOptions({ lsmProfile: '', lsmMountContext: '' }, 31500), {}, 'empty flags are none (no version needed)');
  t.throws(() => lsmOptions({ lsmProfile: 'apparmor:x' }, 31500), /--lsm-profile requires at least CRIU 3\.16/);
  t.throws(
    () => lsmOptions({ lsmMountContext: 'system_u:object_r:x_t:s0' }, 31500),
    /--lsm-mount-context requires at least CRIU 3\.16/,
  );
});
