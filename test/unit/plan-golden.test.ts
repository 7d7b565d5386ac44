// Golden plans (issue 14): the plan create and exec would carry out, for a set of configs and
// host fact sets, as `create --dry-run` prints it (formatPlan) and then step by step as the
// executor gets it, compared with test/unit/golden/NAME.txt. No root, no host: the planners
// take the host as HostFacts, and these are made up here (a fake seccomp compiler included).
// A step reordered, dropped, added or changed fails the case that has it.
//
// After an intended change of plans, regenerate the files and read the diff:
//   UPDATE_GOLDEN=1 npx tap test/unit/plan-golden.test.ts && git diff test/unit/golden
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError } from '../../src/errors';
import { native } from '../../src/native/addon';
import { buildExecPlan } from '../../src/plan/exec-planner';
import type {
  HostCgroupHierarchy,
  HostFacts,
  HostMount,
  ProcessHostFacts,
  SeccompCompiler,
} from '../../src/plan/host-facts';
import { buildNetDeviceReturnPlan } from '../../src/plan/net-device-return';
import { bindSources, buildCreatePlan, type PlanOptions } from '../../src/plan/planner';
import { formatPlan, type Plan } from '../../src/plan/steps';
import { defaultSpec, rootlessSpec } from '../../src/spec/default-spec';
import type { Hook, Process, Seccomp, Spec } from '../../src/spec/types';
import { validateConfig } from '../../src/spec/validate';

const GOLDEN = path.join(__dirname, 'golden');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

// ---- host fact sets ----

const V2: HostCgroupHierarchy[] = [
  { key: '', mountpoint: '/sys/fs/cgroup', version: 2, controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] },
];
const V1: HostCgroupHierarchy[] = [
  { key: 'cpu,cpuacct', mountpoint: '/sys/fs/cgroup/cpu,cpuacct', version: 1, controllers: ['cpu', 'cpuacct'] },
  { key: 'devices', mountpoint: '/sys/fs/cgroup/devices', version: 1, controllers: ['devices'] },
  { key: 'memory', mountpoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'] },
  { key: 'pids', mountpoint: '/sys/fs/cgroup/pids', version: 1, controllers: ['pids'] },
  { key: 'systemd', mountpoint: '/sys/fs/cgroup/systemd', version: 1, controllers: ['name=systemd'] },
];
const HYBRID: HostCgroupHierarchy[] = [
  ...V1,
  { key: 'unified', mountpoint: '/sys/fs/cgroup/unified', version: 2, controllers: [] },
];

/** The host's mounts: its own proc and sysfs, one more of each elsewhere, a proc inside a rootfs, and /bundles (where every bundle lives). */
const MOUNTS: HostMount[] = [
  { mountPoint: '/', fstype: 'ext4' },
  { mountPoint: '/sys', fstype: 'sysfs' },
  { mountPoint: '/proc', fstype: 'proc' },
  { mountPoint: '/dev', fstype: 'devtmpfs' },
  { mountPoint: '/sys/fs/cgroup', fstype: 'cgroup2' },
  { mountPoint: '/proc/sys/fs/binfmt_misc', fstype: 'binfmt_misc' },
  { mountPoint: '/run', fstype: 'tmpfs' },
  { mountPoint: '/srv/jail/proc', fstype: 'proc' },
  { mountPoint: '/bundles', fstype: 'xfs' },
  { mountPoint: '/bundles/no-pivot/rootfs/proc', fstype: 'proc' },
];

/** A stand-in for libseccomp: a program of (rules + 4) instructions; syscall names it "does not know" are those starting with "nosuch". */
const fakeSeccomp: SeccompCompiler = (input) => ({
  program: Buffer.alloc(8 * (input.rules.length + 4)),
  skipped: [...new Set(input.rules.map((r) => r.name).filter((n) => n.startsWith('nosuch')))],
});

const PROCESS_FACTS: ProcessHostFacts = {
  capLastCap: 40,
  selinux: false,
  apparmor: false,
  compileSeccomp: fakeSeccomp,
};

interface FactChanges extends Partial<Omit<HostFacts, 'cgroups' | 'bindSources'>> {
  hierarchies?: HostCgroupHierarchy[];
  /** Bind sources that are files (the rest exist as directories)... */
  files?: string[];
  /** ...or do not exist at all. */
  missing?: string[];
  /** The container has no cgroup (rootless, none delegated). */
  noCgroups?: boolean;
}

function hostFacts(id: string, spec: Spec, bundle: string, changes: FactChanges = {}): HostFacts {
  const { hierarchies = V2, files = [], missing = [], noCgroups = false, ...rest } = changes;
  const sources = new Map<string, 'dir' | 'file'>();
  for (const s of bindSources(spec, bundle))
    if (!missing.includes(s)) sources.set(s, files.includes(s) ? 'file' : 'dir');
  return {
    ...PROCESS_FACTS,
    mounts: MOUNTS,
    bindSources: sources,
    procKcore: true,
    listenFds: 0,
    rootlessEuid: false,
    runtimeInUserNamespace: false,
    cgroups: {
      hierarchies,
      paths: noCgroups ? {} : Object.fromEntries(hierarchies.map((h) => [h.key, `${h.mountpoint}/tsrunc/${id}`])),
    },
    netDevices: new Map(),
    ...rest,
  };
}

/** Host interfaces linux.netDevices may name: tsr0 up with IPv4 and IPv6 addresses, tsr1 down with none. */
const NET_DEVICES = new Map([
  ['tsr0', { index: 7, name: 'tsr0', up: true, addresses: ['10.213.0.2/24', 'fd00:213::2/64'] }],
  ['tsr1', { index: 8, name: 'tsr1', up: false, addresses: [] }],
]);

// ---- configs ----

const SECCOMP = (notify = false): Seccomp => ({
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64'],
  ...(notify ? { listenerPath: '/run/seccomp-agent.sock' } : {}),
  syscalls: [
    { names: ['read', 'write', 'exit_group', 'nosuchcall'], action: 'SCMP_ACT_ALLOW' },
    ...(notify ? [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] : []),
  ],
});

const hook = (name: string, extra: Partial<Hook> = {}): Hook => ({ path: `/usr/libexec/hooks/${name}`, ...extra });

function withUserns(s: Spec): Spec {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  return s;
}

function withoutNs(s: Spec, ...types: string[]): Spec {
  s.linux!.namespaces = s.linux!.namespaces!.filter((n) => !types.includes(n.type));
  return s;
}

function edit(f: (s: Spec) => void): () => Spec {
  return () => {
    const s = defaultSpec();
    f(s);
    return s;
  };
}

interface CreateCase {
  name: string;
  about: string;
  spec: () => Spec;
  opts?: Partial<Pick<PlanOptions, 'noPivot' | 'consoleSocket' | 'preserveFds' | 'noNewKeyring'>>;
  facts?: (bundle: string) => FactChanges;
}

const CREATE: CreateCase[] = [
  {
    name: 'default',
    about: "`tsrunc spec`'s config (a terminal, a read-only root) with a console socket, on a cgroup v2 host",
    spec: defaultSpec,
  },
  {
    name: 'rootless',
    about:
      '`tsrunc spec --rootless` (a user namespace mapping uid 1000, no network namespace, /sys bound from the host)',
    spec: () => rootlessSpec(1000, 1000),
  },
  {
    name: 'rootless-euid',
    about:
      '`tsrunc spec --rootless` run by that ordinary user (uid 1000): the init is dumpable only while the runtime writes its id maps, and its cgroups are those the user may use (here none on a v1 host)',
    spec: () => rootlessSpec(1000, 1000),
    facts: () => ({ rootlessEuid: true, hierarchies: V1, noCgroups: true }),
  },
  {
    name: 'runtime-in-user-namespace',
    about:
      "the default config run by root of a user namespace not the host's (rootless podman's conmon, whose containers share it): devices are bound from the host, no mknod",
    spec: () => {
      const s = defaultSpec();
      s.process!.terminal = false;
      return s;
    },
    facts: () => ({ runtimeInUserNamespace: true, noCgroups: true }),
  },
  {
    name: 'user-namespace',
    about:
      'the default config in a user namespace of its own (devices bound from the host), with a bind mount cloned before the user namespace',
    spec: () =>
      withUserns(
        edit((s) =>
          s.mounts!.push({ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro'] }),
        )(),
      ),
  },
  {
    name: 'idmapped-mounts',
    about:
      "idmapped bind mounts in a user namespace: mappings of the mount's own, ridmap with the container's, and a source inside the rootfs (resolved there); each opened with its mapping before the user namespace",
    spec: () =>
      withUserns(
        edit((s) =>
          s.mounts!.push(
            {
              destination: '/data',
              type: 'bind',
              source: '/srv/data',
              options: ['rbind', 'ro'],
              uidMappings: [{ containerID: 1000, hostID: 100000, size: 65536 }],
              gidMappings: [
                { containerID: 2000, hostID: 100000, size: 1000 },
                { containerID: 5000, hostID: 101000, size: 1000 },
              ],
            },
            { destination: '/shared', type: 'bind', source: '/srv/shared', options: ['rbind', 'ridmap'] },
            { destination: '/inner', type: 'bind', source: 'rootfs/var/inner', options: ['bind', 'idmap'] },
          ),
        )(),
      ),
  },
  {
    name: 'idmapped-mount-no-userns',
    about:
      'an idmapped bind mount in a container without a user namespace (runc 1.2 allows it): only that source is opened early, before any namespace is made; the other binds are cloned where they are mounted',
    spec: edit((s) =>
      s.mounts!.push(
        {
          destination: '/data',
          type: 'bind',
          source: '/srv/data',
          options: ['bind'],
          uidMappings: [{ containerID: 1000, hostID: 0, size: 65536 }],
          gidMappings: [{ containerID: 1000, hostID: 0, size: 65536 }],
        },
        { destination: '/plain', type: 'bind', source: '/srv/plain', options: ['bind'] },
      ),
    ),
  },
  {
    name: 'refused-idmapped-mount-rootless',
    about: 'refused by the planner too (failing closed): an idmapped mount of a container run by an ordinary user',
    spec: () => {
      const s = rootlessSpec(1000, 1000);
      s.mounts!.push({ destination: '/data', type: 'bind', source: '/srv/data', options: ['bind', 'idmap'] });
      return s;
    },
    facts: () => ({ rootlessEuid: true, noCgroups: true }),
  },
  {
    name: 'root-readwrite',
    about: 'the default config with a writable root (the default one is read-only: see default.txt)',
    spec: edit((s) => (s.root!.readonly = false)),
  },
  {
    name: 'no-pivot',
    about:
      "--no-pivot: the host's proc and sysfs mounts outside the rootfs are detached, deepest first, then MS_MOVE and chroot",
    spec: defaultSpec,
    opts: { noPivot: true },
  },
  {
    name: 'no-mount-namespace',
    about: 'no mount namespace: no mounts, chroot into the rootfs, the console not bound',
    spec: edit((s) => {
      withoutNs(s, 'mount');
      s.mounts = [];
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
      s.root!.readonly = false;
    }),
  },
  {
    name: 'seccomp-no-new-privs',
    about: 'seccomp with no_new_privs: the filter goes in last, after start, before the startContainer hooks',
    spec: edit((s) => {
      s.linux!.seccomp = SECCOMP();
      s.hooks = { startContainer: [hook('start')] };
    }),
  },
  {
    name: 'seccomp-privileged',
    about: 'seccomp without no_new_privs: the filter goes in before the capabilities and the uid change',
    spec: edit((s) => {
      s.linux!.seccomp = SECCOMP();
      s.process!.noNewPrivileges = false;
    }),
  },
  {
    name: 'seccomp-notify',
    about:
      'a seccomp filter with SCMP_ACT_NOTIFY: loaded before "ready", which closes the channel the listener travels on',
    spec: edit((s) => (s.linux!.seccomp = SECCOMP(true))),
  },
  {
    name: 'hooks',
    about:
      'all six hook kinds: createContainer and startContainer are steps of the init; prestart and createRuntime run at the "hooks" sync point, poststart and poststop in the runtime',
    spec: edit((s) => {
      s.hooks = {
        prestart: [hook('prestart')],
        createRuntime: [hook('create-runtime', { args: ['create-runtime', '--flag'] })],
        createContainer: [hook('create-container', { env: ['A=1'] }), hook('create-container-2')],
        startContainer: [hook('start-container', { timeout: 5 })],
        poststart: [hook('poststart')],
        poststop: [hook('poststop')],
      };
    }),
  },
  {
    name: 'mounts-bind',
    about: 'bind mounts: a directory, a file (rro), an rbind with rshared propagation, a relative source',
    spec: edit((s) => {
      s.mounts!.push(
        { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rshared', 'ro'] },
        { destination: '/etc/app.conf', type: 'none', source: '/srv/app.conf', options: ['bind', 'nosuid', 'rro'] },
        { destination: '/cache', type: 'bind', source: 'cache', options: ['bind', 'noexec'] },
      );
    }),
    facts: () => ({ files: ['/srv/app.conf'] }),
  },
  {
    name: 'mounts-tmpfs-proc',
    about: 'a tmpfs with tmpcopyup and ro (mounted writable, made read-only once the rootfs is final), a second proc',
    spec: edit((s) => {
      s.mounts!.push(
        { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'ro', 'mode=1777'] },
        { destination: '/run/proc', type: 'proc', source: 'proc' },
      );
    }),
  },
  {
    name: 'dev-readonly',
    about: 'a read-only /dev tmpfs: mounted writable, devices created, made read-only after the pivot',
    spec: edit((s) => s.mounts![1]!.options!.push('ro')),
  },
  {
    name: 'dev-bind',
    about: '/dev bound from the host: no device nodes or /dev symlinks are made',
    spec: edit((s) => (s.mounts![1] = { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] })),
  },
  {
    name: 'sysfs-userns-no-netns',
    about: "sysfs in a user namespace without a network namespace of its own: the host's /sys bound read-only instead",
    spec: () => withoutNs(withUserns(defaultSpec()), 'network'),
  },
  {
    name: 'cgroup-v1',
    about: 'the cgroup mount on a cgroup v1 host: a tmpfs, each hierarchy bound, a symlink per co-mounted controller',
    spec: defaultSpec,
    facts: () => ({ hierarchies: V1 }),
  },
  {
    name: 'cgroup-v1-cgroupns',
    about: 'the cgroup mount on a cgroup v1 host with a cgroup namespace: each hierarchy mounted',
    spec: edit((s) => s.linux!.namespaces!.push({ type: 'cgroup' })),
    facts: () => ({ hierarchies: V1 }),
  },
  {
    name: 'cgroup-hybrid',
    about: 'the cgroup mount on a hybrid host: only the v1 hierarchies are shown',
    spec: defaultSpec,
    facts: () => ({ hierarchies: HYBRID }),
  },
  {
    name: 'cgroup-hybrid-cgroupns',
    about: 'the cgroup mount on a hybrid host with a cgroup namespace',
    spec: edit((s) => s.linux!.namespaces!.push({ type: 'cgroup' })),
    facts: () => ({ hierarchies: HYBRID }),
  },
  {
    name: 'cgroup-v2-cgroupns',
    about:
      'the cgroup mount on a cgroup v2 host with a cgroup namespace: cgroup2 mounted (without one it is bound: default.txt)',
    spec: edit((s) => s.linux!.namespaces!.push({ type: 'cgroup' })),
  },
  {
    name: 'cgroup-v1-writable',
    about: 'a cgroup mount without ro on a v1 host: its tmpfs is not made read-only',
    spec: edit((s) => (s.mounts![6]!.options = ['nosuid', 'noexec', 'nodev'])),
    facts: () => ({ hierarchies: V1 }),
  },
  {
    name: 'console-size',
    about: 'a console of 24x80 and no /proc/kcore on the host (no /dev/core)',
    spec: edit((s) => (s.process!.consoleSize = { height: 24, width: 80 })),
    facts: () => ({ procKcore: false }),
  },
  {
    name: 'no-terminal',
    about: 'no terminal: a new session instead of a console; no console socket passed',
    spec: edit((s) => (s.process!.terminal = false)),
    opts: { consoleSocket: false },
  },
  {
    name: 'rootfs-propagation-shared',
    about:
      'rootfsPropagation shared: the mount holding the rootfs (/bundles) made private for pivot_root, "/" shared after it',
    spec: edit((s) => (s.linux!.rootfsPropagation = 'shared')),
  },
  {
    name: 'rootfs-propagation-runbindable',
    about:
      'rootfsPropagation runbindable: everything private while the rootfs is bound, "/" runbindable after the pivot',
    spec: edit((s) => (s.linux!.rootfsPropagation = 'runbindable')),
  },
  {
    name: 'time-namespace',
    about: 'a time namespace with offsets and no pid namespace: the offsets written, then a fork',
    spec: edit((s) => {
      withoutNs(s, 'pid');
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: 5 }, boottime: { secs: 1, nanosecs: 2 } };
    }),
  },
  {
    name: 'joined-namespaces',
    about: 'namespaces joined by path, listed out of order: joined user first, mount last',
    spec: edit((s) => {
      s.linux!.namespaces = [
        { type: 'mount', path: '/proc/42/ns/mnt' },
        { type: 'network', path: '/run/netns/a' },
        { type: 'uts' },
        { type: 'pid', path: '/proc/42/ns/pid' },
        { type: 'ipc', path: '/proc/42/ns/ipc' },
        { type: 'user', path: '/proc/42/ns/user' },
      ];
    }),
  },
  {
    name: 'devices',
    about: 'linux.devices: /dev/null replaced in place, /dev/fuse added after the defaults',
    spec: edit((s) => {
      s.linux!.devices = [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, uid: 5, gid: 6 },
        { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600 },
      ];
    }),
  },
  {
    name: 'process-attributes',
    about:
      'sysctl, domainname, oom_score_adj, scheduler, I/O priority, personality, rlimits, umask, groups, a cwd to create, HOME given, no capabilities',
    spec: edit((s) => {
      const p = s.process as Process;
      s.domainname = 'example.org';
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '8192' };
      s.linux!.personality = { domain: 'LINUX32' };
      p.oomScoreAdj = 100;
      p.scheduler = { policy: 'SCHED_BATCH', nice: 3, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
      p.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
      p.rlimits!.push({ type: 'RLIMIT_CORE', soft: 4096, hard: 8192 });
      p.user = { uid: 1000, gid: 1000, umask: 0o027, additionalGids: [5, 6] };
      p.cwd = '/home/app';
      p.env!.push('HOME=/home/app');
      delete p.capabilities;
      p.terminal = false;
    }),
    opts: { consoleSocket: false },
  },
  {
    name: 'memory-policy',
    about: 'linux.memoryPolicy: set_mempolicy with the mode, its flags and the nodes, after the personality, as runc',
    spec: edit((s) => {
      s.linux!.personality = { domain: 'LINUX' };
      s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0,2-3', flags: ['MPOL_F_STATIC_NODES'] };
    }),
  },
  {
    name: 'labels',
    about: 'an AppArmor profile and SELinux labels on a host that has both',
    spec: edit((s) => {
      s.process!.apparmorProfile = 'tsrunc-default';
      s.process!.selinuxLabel = 'system_u:system_r:container_t:s0';
      s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0';
    }),
    facts: () => ({ apparmor: true, selinux: true }),
  },
  {
    name: 'mount-label-cgroup-v1',
    about:
      "linux.mountLabel as runc applies it: context= on tmpfs and devpts (and the cgroup v1 tmpfs), mqueue's root labelled, masked directories' tmpfs too; never proc, sysfs or a bind",
    spec: edit((s) => {
      s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2';
      s.mounts!.push({ destination: '/srv', type: 'bind', source: '/srv', options: ['rbind'] });
    }),
    facts: () => ({ selinux: true, hierarchies: V1 }),
  },
  {
    name: 'listen-fds',
    about:
      'LISTEN_FDS=2 given to the runtime, --preserve-fds 1, --no-new-keyring: 3 fds kept, LISTEN_FDS/LISTEN_PID in the env, no session keyring',
    spec: defaultSpec,
    opts: { preserveFds: 1, noNewKeyring: true },
    facts: () => ({ listenFds: 2 }),
  },
  {
    name: 'net-devices',
    about:
      "linux.netDevices: the host's tsr0 moved in as eth0 and tsr1 (kept name) by the parent once the new network namespace is made (before mounts and hooks); the init gives each its permanent global addresses (read on the host) and sets it up",
    spec: edit((s) => {
      s.linux!.netDevices = { tsr0: { name: 'eth0' }, tsr1: {} };
      s.hooks = { prestart: [hook('prestart')] };
    }),
    facts: () => ({ netDevices: NET_DEVICES }),
  },
  {
    name: 'net-devices-user-namespace-joined-netns',
    about:
      "linux.netDevices into a joined network namespace, from a container with a user namespace of its own: moved and set up as soon as it is joined, while the init has the runtime's capabilities over it; named by a template inside",
    spec: () =>
      withUserns(
        edit((s) => {
          s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
            n.type === 'network' ? { type: 'network', path: '/run/netns/pod' } : n,
          );
          s.linux!.netDevices = { tsr1: { name: 'net%d' } };
        })(),
      ),
    facts: () => ({ netDevices: NET_DEVICES }),
  },
  // refused
  {
    name: 'refused-net-devices-not-on-host',
    about:
      'refused: linux.netDevices naming an interface the host does not have, and one by an alternative name of another',
    spec: edit((s) => (s.linux!.netDevices = { nosuch0: { name: 'eth0' }, altname1: {} })),
    facts: () => ({ netDevices: new Map([['altname1', { index: 9, name: 'enp1s0', up: true, addresses: [] }]]) }),
  },
  {
    name: 'refused-net-devices-runtime-in-user-namespace',
    about:
      'refused: linux.netDevices with the runtime in a user namespace (what runc treats as rootless cgroups, and refuses)',
    spec: edit((s) => (s.linux!.netDevices = { tsr0: {} })),
    facts: () => ({ runtimeInUserNamespace: true, netDevices: NET_DEVICES }),
  },
  {
    name: 'refused-terminal-without-socket',
    about: 'refused: a terminal and no console socket',
    spec: defaultSpec,
    opts: { consoleSocket: false },
  },
  {
    name: 'refused-missing-bind-source',
    about: 'refused: a bind source that does not exist',
    spec: edit((s) => s.mounts!.push({ destination: '/data', type: 'bind', source: '/srv/none', options: ['bind'] })),
    facts: () => ({ missing: ['/srv/none'] }),
  },
  {
    name: 'refused-labels-without-lsm',
    about: 'refused: an AppArmor profile and SELinux labels on a host with neither',
    spec: edit((s) => {
      s.process!.apparmorProfile = 'tsrunc-default';
      s.process!.selinuxLabel = 'system_u:system_r:container_t:s0';
      s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0';
    }),
  },
  {
    name: 'refused-mount-label-quote',
    about:
      'refused: a mount label with a quote, which would end context="..." and add mount options of its own (mode=0666 on /dev/pts)',
    spec: edit((s) => (s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0",uid=0,gid=0,mode=0666,"')),
    facts: () => ({ selinux: true }),
  },
  {
    name: 'refused-memory-policy-nodes',
    about: "refused: a memory policy whose mode needs nodes (MPOL_BIND) without any, runc's rule",
    spec: edit((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '' })),
  },
  {
    name: 'refused-memory-policy-local-nodes',
    about: 'refused: MPOL_LOCAL with nodes',
    spec: edit((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_LOCAL', nodes: '0' })),
  },
  {
    name: 'refused-mounts-without-mount-namespace',
    about: 'refused: mounts, masked paths and a read-only root without a mount namespace',
    spec: edit((s) => withoutNs(s, 'mount')),
  },
];

interface ExecCase {
  name: string;
  about: string;
  spec?: () => Spec;
  process: (p: Process) => void;
  namespaces?: string[];
  consoleSocket?: boolean;
  preserveFds?: number;
}

const INIT_NS: Record<string, string> = {
  pid: '/proc/4242/ns/pid',
  network: '/proc/4242/ns/net',
  ipc: '/proc/4242/ns/ipc',
  uts: '/proc/4242/ns/uts',
  mount: '/proc/4242/ns/mnt',
  user: '/proc/4242/ns/user',
  cgroup: '/proc/4242/ns/cgroup',
  time: '/proc/4242/ns/time',
};
const noTerminal = (p: Process): void => void (p.terminal = false);

const EXEC: ExecCase[] = [
  {
    name: 'exec-pid-namespace',
    about:
      "exec into the default container: its namespaces joined through fds (user first, mount last), privileges set, then a fork into its pid namespace; oom_score_adj written through the host's /proc first",
    process: (p) => {
      p.terminal = false;
      p.oomScoreAdj = 10;
    },
    namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'user', 'cgroup'],
  },
  {
    name: 'exec-cpu-affinity',
    about:
      "exec with execCPUAffinity: the initial CPUs before the process joins the container's cgroup (joining a cpuset resets them), the final ones after",
    process: (p) => {
      p.terminal = false;
      p.execCPUAffinity = { initial: '0-1', final: '1' };
    },
    namespaces: ['pid', 'mount'],
  },
  {
    name: 'exec-joined-netns-new-userns',
    about:
      "exec into a container that joined a network namespace before making its user namespace: that namespace is joined first, while the process still has the runtime's capabilities over it (the container's root has none there)",
    spec: edit((s) => {
      s.linux!.namespaces = [
        { type: 'pid' },
        { type: 'network', path: '/run/netns/pod' },
        { type: 'mount' },
        { type: 'user' },
      ];
      delete s.hostname;
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    }),
    process: noTerminal,
    namespaces: ['pid', 'network', 'mount', 'user'],
  },
  {
    name: 'exec-memory-policy',
    about: "exec into a container with linux.memoryPolicy: the exec'd process gets it too (runc's setns init)",
    spec: edit((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_PREFERRED', nodes: '' })),
    process: noTerminal,
    namespaces: ['pid', 'mount'],
  },
  {
    name: 'exec-no-pid-namespace',
    about: 'exec into a container without a pid namespace: no fork',
    process: noTerminal,
    namespaces: ['network', 'mount'],
    preserveFds: 2,
  },
  {
    name: 'exec-terminal',
    about: 'exec -t: the pty made before the fork, attached after it',
    process: (p) => (p.consoleSize = { height: 40, width: 120 }),
    consoleSocket: true,
  },
  {
    name: 'exec-seccomp-notify',
    about: 'exec into a container with a notify filter: loaded before the fork, the listener handed to the parent',
    spec: edit((s) => (s.linux!.seccomp = SECCOMP(true))),
    process: noTerminal,
  },
  {
    name: 'exec-seccomp-no-new-privs',
    about: 'exec into a container with a filter and no_new_privs: the filter last before the fork',
    spec: edit((s) => (s.linux!.seccomp = SECCOMP())),
    process: noTerminal,
  },
  {
    name: 'exec-refused-terminal-without-socket',
    about: 'refused: exec -t without a console socket',
    process: () => undefined,
  },
];

// ---- rendering ----

function render(about: string, result: Plan | Error): string {
  const lines = [`# ${about}`];
  if (result instanceof Error) {
    lines.push(`refused (${result.constructor.name}):`);
    if (result instanceof ConfigError) for (const p of result.problems) lines.push(`  ${p.pointer}: ${p.message}`);
    else lines.push(`  ${result.message}`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(formatPlan(result).trimEnd(), '--- the steps as the executor gets them');
  // (a Buffer reaches the replacer as its toJSON(): { type: 'Buffer', data })
  const bytes = (v: unknown): unknown =>
    typeof v === 'object' && v !== null && 'type' in v && v.type === 'Buffer' && 'data' in v && Array.isArray(v.data)
      ? `<${v.data.length} bytes>`
      : v;
  result.steps.forEach((step, i) =>
    lines.push(`${String(i + 1).padStart(3)}. ${JSON.stringify(step, (_key, v: unknown) => bytes(v))}`),
  );
  return `${lines.join('\n')}\n`;
}

function attempt(f: () => Plan): Plan | Error {
  try {
    return f();
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
}

/** The config as create would have it: validated (schema and semantics; the host is not looked at). */
function validated(spec: Spec, bundle: string): Spec {
  return validateConfig(structuredClone(spec), { bundle, checkHost: false }).spec;
}

function planCreate(c: CreateCase): Plan | Error {
  const bundle = `/bundles/${c.name}`;
  const id = c.name;
  const spec = validated(c.spec(), bundle);
  return attempt(() =>
    buildCreatePlan(
      { id, bundle, spec, noPivot: false, consoleSocket: true, preserveFds: 0, noNewKeyring: false, ...c.opts },
      hostFacts(id, spec, bundle, c.facts?.(bundle)),
    ),
  );
}

function planExec(c: ExecCase): Plan | Error {
  const spec = validated((c.spec ?? defaultSpec)(), `/bundles/${c.name}`);
  const proc = structuredClone(spec.process as Process);
  c.process(proc);
  const namespaces = c.namespaces ?? ['pid', 'network', 'ipc', 'uts', 'mount'];
  return attempt(() =>
    buildExecPlan(
      {
        id: c.name,
        rootfs: `/bundles/${c.name}/rootfs`,
        spec,
        namespacePaths: Object.fromEntries(namespaces.map((n) => [n, INIT_NS[n] as string])),
        process: proc,
        consoleSocket: c.consoleSocket ?? false,
        preserveFds: c.preserveFds ?? 0,
      },
      PROCESS_FACTS,
    ),
  );
}

// ---- the tests ----

function compare(t: Test, name: string, actual: string): void {
  const file = path.join(GOLDEN, `${name}.txt`);
  if (UPDATE) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, actual);
    t.pass(`wrote ${path.relative(process.cwd(), file)}`);
    return;
  }
  const expected = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `(no ${file}: run with UPDATE_GOLDEN=1)`;
  t.equal(
    actual,
    expected,
    `${name}: the plan is test/unit/golden/${name}.txt's (UPDATE_GOLDEN=1 rewrites it after an intended change)`,
  );
}

t.test('create plans', async (t) => {
  for (const c of CREATE) compare(t, c.name, render(c.about, planCreate(c)));
});

t.test('exec plans', async (t) => {
  for (const c of EXEC) compare(t, c.name, render(c.about, planExec(c)));
});

// The helper a failed create starts to move a network device back out (src/lifecycle/net-devices.ts).
const NET_DEVICE_RETURN = {
  name: 'net-device-return',
  about:
    "the helper a failed create starts for each network device it moved in: it joins the container's network namespace by the runtime's fd and moves the device (found by its host index, else its name) back to the runtime's namespace under its host name",
};

t.test('the network device return helper plan', async (t) => {
  compare(
    t,
    NET_DEVICE_RETURN.name,
    render(
      NET_DEVICE_RETURN.about,
      buildNetDeviceReturnPlan('net-devices', { name: 'eth0', hostName: 'tsr0', index: 7 }),
    ),
  );
});

t.test('every golden file has its case', async (t) => {
  const names = new Set([...CREATE, ...EXEC, NET_DEVICE_RETURN].map((c) => c.name));
  t.equal(names.size, CREATE.length + EXEC.length + 1, 'case names are unique');
  const files = fs.existsSync(GOLDEN) ? fs.readdirSync(GOLDEN).filter((f) => f.endsWith('.txt')) : [];
  t.same(
    files.filter((f) => !names.has(f.slice(0, -4))),
    [],
    'no file without a case (remove it when its case goes)',
  );
});

t.test('the refused cases are refused, the others planned', async (t) => {
  for (const c of CREATE) t.equal(planCreate(c) instanceof Error, c.name.startsWith('refused-'), c.name);
  for (const c of EXEC) t.equal(planExec(c) instanceof Error, c.name.startsWith('exec-refused-'), c.name);
});

t.test('the real seccomp compiler (the addon, no root needed) can stand in for the fake', async (t) => {
  const c = CREATE.find((x) => x.name === 'seccomp-no-new-privs') as CreateCase;
  const bundle = `/bundles/${c.name}`;
  const spec = validated(c.spec(), bundle);
  const plan = buildCreatePlan(
    { id: c.name, bundle, spec, noPivot: false, consoleSocket: true, preserveFds: 0, noNewKeyring: false },
    { ...hostFacts(c.name, spec, bundle), compileSeccomp: (input) => native().compileSeccomp(input) },
  );
  const step = plan.steps.find((s) => s.op === 'seccomp');
  if (step?.op !== 'seccomp') return t.fail('no seccomp step');
  t.ok(
    step.program.length > 0 && step.program.length % 8 === 0,
    `a BPF program (${step.program.length / 8} instructions)`,
  );
  t.same(step.skipped, ['nosuchcall'], 'the name libseccomp does not know is reported');
  t.same(
    plan.steps.map((s) => s.op),
    planCreate(c) instanceof Error ? [] : (planCreate(c) as Plan).steps.map((s) => s.op),
    'the same steps as with the fake',
  );
});
