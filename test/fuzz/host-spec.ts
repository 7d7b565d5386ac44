// Generators of config.json documents that are meant to be valid and to make sense on this
// host (a busybox rootfs, a cgroup under the test's parent, no host namespace paths), but
// otherwise vary every part of the spec the runtime acts on: the process (args, env, cwd,
// user, capabilities, rlimits, scheduler ...), namespaces, mounts, masked and read-only paths,
// sysctls, cgroup resources and device rules, seccomp, hooks, propagation. Some choices fail on
// purpose at create (a missing program, a missing cwd ...): create must then fail cleanly.
// And generators of OCI process documents (exec --process) and LinuxResources (update).
import fc from 'fast-check';
import { defaultSpec } from '../../src/spec/default-spec';
import { CAPABILITIES, RLIMITS } from '../../src/spec/linux-names';
import type { Mount, NamespaceType, Process, Resources, Spec } from '../../src/spec/types';
import { userNamespace } from '../helpers/container';
import { weirdString } from './json-mutate';

const text = fc.oneof(
  fc.constantFrom('x', 'hello world', 'é', '\ud83d\ude00', '$HOME', '"q"', "'", '\\', ''),
  fc.string({ maxLength: 12 }),
);
const envName = fc.oneof(
  fc.constantFrom('A', 'FOO_BAR', 'PATH', 'HOME', 'LD_PRELOAD_X', 'é', 'lower'),
  fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/),
);

export const processArgs: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<string[]>(['sleep', '1000']) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<string[]>(
      ['true'],
      ['false'],
      ['sh', '-c', 'exit 3'],
      ['/bin/busybox', 'sleep', '1000'],
      ['cat', '/proc/self/status'],
    ),
  },
  { weight: 1, arbitrary: text.map((s) => ['echo', s]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string[]>(['no-such-program'], ['/bin/no-such-program'], ['/etc/passwd'], ['/bin']),
  },
);

const capSet = fc.oneof(
  { weight: 5, arbitrary: fc.subarray([...CAPABILITIES]) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('CAP_BOGUS', 'CAP_KILL', 'CAP_LAST_CAP'), { maxLength: 2 }) },
);
// Mostly one set for all (what clients send); sometimes five unrelated sets, which capset(2)
// may refuse (effective beyond permitted): create must then fail cleanly.
const capabilities = fc.oneof(
  {
    weight: 3,
    arbitrary: capSet.map((set) => ({ bounding: set, effective: set, permitted: set, inheritable: set, ambient: set })),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { bounding: capSet, effective: capSet, permitted: capSet, inheritable: capSet, ambient: capSet },
      { requiredKeys: [] },
    ),
  },
);

const rlimit = fc
  .tuple(
    fc.constantFrom(...Object.keys(RLIMITS)),
    fc.integer({ min: 0, max: 1 << 14 }),
    fc.integer({ min: 0, max: 1 << 14 }),
  )
  .map(([type, a, b]) => ({ type, soft: Math.min(a, b), hard: Math.max(a, b) }));

const uid = fc.constantFrom(0, 1, 1000, 65534, 4294967294);

/** Present in about one case in four: most generated configs stay close to what runs. */
function rare<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

/** Drops the keys whose value is undefined (the spec's optional fields are absent, not null). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export const hostProcess: fc.Arbitrary<Partial<Process>> = fc
  .record({
    args: processArgs,
    env: rare(
      fc.array(
        fc.tuple(envName, text).map(([k, v]) => `${k}=${v}`),
        { maxLength: 4 },
      ),
    ),
    cwd: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom('/', '/tmp', '/bin', '/proc') },
      { weight: 1, arbitrary: fc.constantFrom('/nonexistent/dir', '/etc/passwd') },
    ),
    user: rare(
      fc.record(
        { uid, gid: uid, additionalGids: fc.array(uid, { maxLength: 3 }), umask: fc.integer({ min: 0, max: 0o777 }) },
        { requiredKeys: ['uid', 'gid'] },
      ),
    ),
    capabilities: rare(capabilities),
    rlimits: rare(fc.uniqueArray(rlimit, { selector: (r) => r.type, maxLength: 4 })),
    noNewPrivileges: fc.boolean(),
    oomScoreAdj: rare(fc.integer({ min: -1000, max: 1000 })),
    scheduler: rare(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            policy: fc.constantFrom('SCHED_OTHER' as const, 'SCHED_BATCH' as const, 'SCHED_IDLE' as const),
            nice: fc.integer({ min: -20, max: 19 }),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            policy: fc.constant('SCHED_FIFO' as const),
            priority: fc.integer({ min: 1, max: 99 }),
          }),
        },
      ),
    ),
    ioPriority: rare(
      fc.record({
        class: fc.constantFrom('IOPRIO_CLASS_RT' as const, 'IOPRIO_CLASS_BE' as const, 'IOPRIO_CLASS_IDLE' as const),
        priority: fc.integer({ min: 0, max: 7 }),
      }),
    ),
  })
  .map((p) => defined(p) as Partial<Process>);

const OPTIONAL_NS: NamespaceType[] = ['pid', 'network', 'ipc', 'uts', 'cgroup'];

/** Where host directories get mounted, and which exist in the busybox rootfs. */
const DESTS = ['/mnt', '/mnt/x', '/tmp', '/tmp/a/b', '/root', '/run/x', '/etc/passwd', '/dev/fuzz', '/proc/sys/x'];

function mountArb(shared: string): fc.Arbitrary<Mount> {
  return fc.oneof(
    fc.record({
      destination: fc.constantFrom(...DESTS),
      type: fc.constant('tmpfs'),
      source: fc.constant('tmpfs'),
      options: fc.subarray(['nosuid', 'nodev', 'noexec', 'ro', 'mode=755', 'size=1m', 'nr_inodes=100']),
    }),
    fc.record({
      destination: fc.constantFrom(...DESTS),
      type: fc.constant('bind'),
      source: fc.constantFrom(shared, shared, shared, `${shared}/nonexistent`, '/dev/null'),
      options: fc
        .tuple(
          fc.constantFrom('bind', 'rbind'),
          fc.subarray(['ro', 'nosuid', 'nodev', 'noexec', 'rprivate', 'rslave', 'private']),
        )
        .map(([b, rest]) => [b, ...rest]),
    }),
    fc.record({
      destination: fc.constantFrom('/mnt', '/tmp'),
      type: fc.constantFrom('proc', 'mqueue', 'sysfs', 'devpts', 'nosuchfs'),
      source: fc.constant('none'),
      options: fc.subarray(['nosuid', 'ro']),
    }),
  );
}

const deviceRule = fc.record(
  {
    allow: fc.boolean(),
    type: fc.constantFrom('a', 'c', 'b'),
    major: fc.integer({ min: 1, max: 255 }),
    minor: fc.integer({ min: 0, max: 255 }),
    access: fc.constantFrom('r', 'w', 'm', 'rw', 'rwm'),
  },
  { requiredKeys: ['allow'] },
);

export const hostResources: fc.Arbitrary<Resources> = fc
  .record({
    memory: rare(
      fc.record(
        {
          limit: fc.oneof(fc.constant(-1), fc.integer({ min: 8 << 20, max: 1 << 30 })),
          reservation: fc.integer({ min: 0, max: 1 << 30 }),
          swappiness: fc.integer({ min: 0, max: 100 }),
          disableOOMKiller: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
    ),
    cpu: rare(
      fc.record(
        {
          shares: fc.integer({ min: 2, max: 262144 }),
          quota: fc.oneof(fc.constant(-1), fc.integer({ min: 1000, max: 1_000_000 })),
          period: fc.integer({ min: 1000, max: 1_000_000 }),
          cpus: fc.constantFrom('0', '0-1', '1', '0,1', '0', '0-1', '1', '0,1', '5'),
          mems: fc.constant('0'),
        },
        { requiredKeys: [] },
      ),
    ),
    pids: rare(fc.record({ limit: fc.oneof(fc.constant(-1), fc.constant(0), fc.integer({ min: 1, max: 100000 })) })),
    blockIO: rare(rare(fc.record({ weight: fc.integer({ min: 10, max: 1000 }) }))),
    devices: fc.array(deviceRule, { maxLength: 4 }).map((rules) => [{ allow: false, access: 'rwm' }, ...rules]),
  })
  .map((r) => defined(r));

const seccomp = fc.record({
  defaultAction: fc.constantFrom('SCMP_ACT_ALLOW' as const, 'SCMP_ACT_LOG' as const),
  architectures: fc.constantFrom<string[]>(
    ['SCMP_ARCH_X86_64'],
    ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    [],
  ),
  syscalls: fc.array(
    fc.record({
      names: fc.subarray(['mkdir', 'chmod', 'unshare', 'mount', 'keyctl', 'ptrace', 'personality', 'nosuchsyscall'], {
        minLength: 1,
      }),
      action: fc.constantFrom('SCMP_ACT_ERRNO' as const, 'SCMP_ACT_KILL' as const, 'SCMP_ACT_LOG' as const),
    }),
    { maxLength: 3 },
  ),
});

export interface HostSpecOptions {
  id: string;
  rootfs: string;
  cgroupsPath: string;
  /** A host directory containers may bind-mount. */
  shared: string;
}

export interface HostSpecChoices {
  process: Partial<Process>;
  dropNamespaces: NamespaceType[];
  addNamespaces: ('user' | 'time')[];
  hostname?: string;
  dropMounts: number[];
  addMounts: Mount[];
  masked: string[];
  readonly: string[];
  rootReadonly: boolean;
  propagation?: string;
  resources?: Resources;
  seccomp?: NonNullable<Spec['linux']>['seccomp'];
  sysctl: boolean;
  devices: boolean;
  hook?: string;
  annotations: Record<string, string>;
}

export function hostSpecChoices(shared: string): fc.Arbitrary<HostSpecChoices> {
  return fc
    .record({
      process: hostProcess,
      dropNamespaces: fc.oneof(
        { weight: 2, arbitrary: fc.constant([] as NamespaceType[]) },
        { weight: 1, arbitrary: fc.subarray(OPTIONAL_NS) },
      ),
      addNamespaces: fc.oneof(
        { weight: 6, arbitrary: fc.constant([] as ('user' | 'time')[]) },
        { weight: 1, arbitrary: fc.subarray(['user', 'time'] as ('user' | 'time')[], { minLength: 1 }) },
      ),
      hostname: fc.oneof(
        fc.constantFrom('tsrunc', 'fuzz-host', 'x'.repeat(64), ''),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
      ),
      dropMounts: fc.oneof(
        { weight: 2, arbitrary: fc.constant([] as number[]) },
        { weight: 1, arbitrary: fc.subarray([0, 1, 2, 3, 4, 5, 6]) },
      ),
      addMounts: fc.oneof(
        { weight: 2, arbitrary: fc.constant([] as Mount[]) },
        { weight: 1, arbitrary: fc.array(mountArb(shared), { minLength: 1, maxLength: 3 }) },
      ),
      masked: fc.subarray(['/proc/kcore', '/proc/keys', '/sys/firmware', '/nonexistent', '/etc/passwd', '/tmp']),
      readonly: fc.subarray(['/proc/sys', '/proc/bus', '/root', '/nonexistent', '/etc', '/bin']),
      rootReadonly: fc.boolean(),
      propagation: rare(fc.constantFrom('rprivate', 'private', 'rslave', 'slave', 'rshared', 'shared', 'unbindable')),
      resources: rare(hostResources),
      seccomp: rare(seccomp),
      sysctl: fc.boolean(),
      devices: fc.boolean(),
      hook: rare(fc.constantFrom('/bin/true', '/bin/true', '/bin/true', '/bin/false')),
      annotations: fc.dictionary(
        fc.stringMatching(/^[a-z.]{1,12}$/),
        weirdString.filter((s) => s.length < 200),
        { maxKeys: 3 },
      ),
    })
    .map((c) => defined(c) as HostSpecChoices);
}

/** A spec from `tsrunc spec` changed by `c`, with the host parts fixed by `o`. */
export function buildHostSpec(c: HostSpecChoices, o: HostSpecOptions): Spec {
  const spec = defaultSpec();
  const proc = spec.process as Process;
  Object.assign(proc, structuredClone(c.process));
  proc.terminal = false;
  if (c.process.env !== undefined)
    proc.env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...c.process.env];
  spec.root = { path: o.rootfs, readonly: c.rootReadonly };
  const linux = spec.linux ?? {};
  spec.linux = linux;
  linux.cgroupsPath = o.cgroupsPath;
  linux.namespaces = (linux.namespaces ?? []).filter((ns) => !c.dropNamespaces.includes(ns.type));
  const has = (t: NamespaceType): boolean => (linux.namespaces ?? []).some((ns) => ns.type === t);
  for (const t of c.addNamespaces) linux.namespaces.push({ type: t });
  if (has('user')) userNamespace(spec);
  if (has('uts') && c.hostname !== undefined) spec.hostname = c.hostname;
  else delete spec.hostname;
  spec.mounts = [...(spec.mounts ?? []).filter((_, i) => !c.dropMounts.includes(i)), ...structuredClone(c.addMounts)];
  linux.maskedPaths = c.masked;
  linux.readonlyPaths = c.readonly;
  if (c.propagation !== undefined) linux.rootfsPropagation = c.propagation;
  if (c.resources !== undefined) linux.resources = structuredClone(c.resources);
  if (c.seccomp !== undefined) linux.seccomp = structuredClone(c.seccomp);
  if (c.sysctl) {
    linux.sysctl = {};
    if (has('network')) linux.sysctl['net.ipv4.ip_forward'] = '1';
    if (has('ipc')) linux.sysctl['kernel.shmmni'] = '2048';
  }
  if (c.devices)
    linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }];
  if (c.hook !== undefined) spec.hooks = { createRuntime: [{ path: c.hook, args: [c.hook.slice(5)] }] };
  spec.annotations = c.annotations;
  return spec;
}

// ---- exec --process and update --resources documents ----------------------------------------------

/** LinuxResources documents: sensible limits and broken ones. */
export const resourcesDoc: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostResources.map((r) => defined({ ...r, devices: undefined })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'memory',
          'cpu',
          'pids',
          'blockIO',
          'hugepageLimits',
          'network',
          'unified',
          'devices',
          'rdma',
          'bogus',
        ),
        fc.constantFrom<unknown>(
          null,
          5,
          -1,
          'x',
          [],
          {},
          { limit: -2 },
          { limit: 'x' },
          { shares: -5 },
          { cpus: 'abc' },
          { weight: 5 },
          { 'memory.max': '1' },
          [{ pageSize: '2MB', limit: 1 }],
          { classID: 1 },
        ),
      )
      .map(([k, v]) => ({ [k]: v })),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
