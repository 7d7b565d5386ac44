// A corpus of invalid config.json documents, each made from a valid base (tsrunc's default
// spec) by a few edits addressed by JSON pointer, and each with the exact set of pointers the
// validator must report (plus a fragment of each message). Most go through the library's
// validateConfig; a selection also goes through `tsrunc validate` and `tsrunc create`, which
// must exit 1, name the pointer, and leave nothing under --root.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { selectCgroupDriver } from '../../src/cgroups';
import { ConfigError, type Problem } from '../../src/errors';
import { defaultSpec } from '../../src/spec/default-spec';
import { validateConfig, validateConfigText, type ValidateOptions } from '../../src/spec/validate';
import { lastLogEntry, privateRoot, rootEntries, runTsrunc, tempDir, writeBundle } from '../helpers/tsrunc';

// ---- editing JSON by pointer ------------------------------------------------------------

type Container = Record<string, unknown> | unknown[];

type Edit =
  { op: 'set'; ptr: string; value: unknown } | { op: 'del'; ptr: string } | { op: 'push'; ptr: string; value: unknown };

const set = (ptr: string, value: unknown): Edit => ({ op: 'set', ptr, value });
const del = (ptr: string): Edit => ({ op: 'del', ptr });
const push = (ptr: string, value: unknown): Edit => ({ op: 'push', ptr, value });

function tokens(ptr: string): string[] {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) throw new Error(`bad pointer ${ptr}`);
  return ptr
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

/** The parent container of `ptr` and the last token; intermediate objects are created. */
function parentOf(doc: unknown, ptr: string): [Container, string] {
  const toks = tokens(ptr);
  const last = toks.pop();
  if (last === undefined) throw new Error('cannot edit the document root by pointer');
  let cur: unknown = doc;
  for (const tok of toks) {
    if (!isContainer(cur)) throw new Error(`${ptr}: ${tok} is not inside an object or array`);
    const next: unknown = Array.isArray(cur) ? cur[Number(tok)] : cur[tok];
    if (next === undefined) {
      const fresh: Record<string, unknown> = {};
      if (Array.isArray(cur)) cur[Number(tok)] = fresh;
      else cur[tok] = fresh;
      cur = fresh;
    } else {
      cur = next;
    }
  }
  if (!isContainer(cur)) throw new Error(`${ptr}: parent is not an object or array`);
  return [cur, last];
}

function get(doc: unknown, ptr: string): unknown {
  let cur: unknown = doc;
  for (const tok of tokens(ptr)) {
    if (!isContainer(cur)) return undefined;
    cur = Array.isArray(cur) ? cur[Number(tok)] : cur[tok];
  }
  return cur;
}

function apply(doc: unknown, edit: Edit): void {
  if (edit.op === 'push') {
    const arr = get(doc, edit.ptr);
    if (!Array.isArray(arr)) throw new Error(`${edit.ptr} is not an array`);
    arr.push(edit.value);
    return;
  }
  const [parent, key] = parentOf(doc, edit.ptr);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (edit.op === 'set') parent[i] = edit.value;
    else parent.splice(i, 1);
  } else if (edit.op === 'set') {
    parent[key] = edit.value;
  } else {
    if (!(key in parent)) throw new Error(`${edit.ptr} does not exist in the base`);
    delete parent[key];
  }
}

function base(): unknown {
  return structuredClone(defaultSpec());
}

function build(edits: Edit[]): unknown {
  const doc = base();
  for (const e of edits) apply(doc, e);
  return doc;
}

// ---- the corpus ---------------------------------------------------------------------------

interface Case {
  name: string;
  edits: Edit[];
  /** Every pointer the validator must report (exactly these), with a fragment of its message. */
  expect: [pointer: string, fragment: string][];
  options?: Partial<ValidateOptions>;
  /** Also run through the CLI (validate and create). */
  cli?: boolean;
  /** A whole document instead of edits of the base. */
  doc?: () => unknown;
}

// Indexes in defaultSpec(): namespaces pid 0, network 1, ipc 2, uts 3, mount 4;
// mounts /proc 0, /dev 1, /dev/pts 2, /dev/shm 3, /dev/mqueue 4, /sys 5, /sys/fs/cgroup 6;
// env PATH 0, TERM 1; rlimits NOFILE 0.
const NS_NETWORK = '/linux/namespaces/1';
const NS_IPC = '/linux/namespaces/2';
const NS_UTS = '/linux/namespaces/3';
const USERNS = { type: 'user' };
const MAP = (containerID: number, hostID: number, size: number) => ({ containerID, hostID, size });
const IDMAPPED = {
  destination: '/data',
  type: 'bind',
  source: '/srv/data',
  options: ['rbind'],
  uidMappings: [MAP(1000, 100000, 65536)],
  gidMappings: [MAP(1000, 100000, 65536)],
};
const SECCOMP = (syscall: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', ...syscall }],
  ...extra,
});

const corpus: Case[] = [
  // --- wrong types
  {
    name: 'ociVersion is a number',
    edits: [set('/ociVersion', 1)],
    expect: [['/ociVersion', 'must be a string']],
    cli: true,
  },
  {
    name: 'process.args is a string',
    edits: [set('/process/args', 'sh')],
    expect: [['/process/args', 'must be an array']],
  },
  {
    name: 'process.terminal is a string',
    edits: [set('/process/terminal', 'yes')],
    expect: [['/process/terminal', 'must be a boolean']],
  },
  {
    name: 'process.user.uid is a string',
    edits: [set('/process/user/uid', '0')],
    expect: [['/process/user/uid', 'must be an integer']],
    cli: true,
  },
  {
    name: 'process.user.uid is negative',
    edits: [set('/process/user/uid', -1)],
    expect: [['/process/user/uid', 'must be >= 0']],
  },
  {
    name: 'process.user.gid is above uint32',
    edits: [set('/process/user/gid', 4294967296)],
    expect: [['/process/user/gid', 'must be <= 2147483647']],
  },
  {
    name: 'additionalGids holds a string',
    edits: [set('/process/user/additionalGids', [5, '10'])],
    expect: [['/process/user/additionalGids/1', 'must be an integer']],
  },
  { name: 'root is a string', edits: [set('/root', 'rootfs')], expect: [['/root', 'must be an object']] },
  { name: 'mounts is an object', edits: [set('/mounts', {})], expect: [['/mounts', 'must be an array']] },
  {
    name: 'a namespace is a string',
    edits: [set('/linux/namespaces/0', 'pid')],
    expect: [['/linux/namespaces/0', 'must be an object']],
  },
  {
    name: 'an annotation value is a number',
    edits: [set('/annotations', { 'org.example.n': 1 })],
    expect: [['/annotations/org.example.n', 'must be a string']],
  },
  {
    name: 'memory limit below -1',
    edits: [set('/linux/resources/memory', { limit: -2 })],
    expect: [['/linux/resources/memory/limit', 'must be >= -1']],
  },
  { name: 'hostname is a number', edits: [set('/hostname', 5)], expect: [['/hostname', 'must be a string']] },
  {
    name: 'oomScoreAdj is not an integer',
    edits: [set('/process/oomScoreAdj', 1.5)],
    expect: [['/process/oomScoreAdj', 'must be an integer']],
  },
  { name: 'the document is an array', edits: [], doc: () => [base()], expect: [['', 'must be an object']] },

  // --- missing required fields
  { name: 'ociVersion missing', edits: [del('/ociVersion')], expect: [['/ociVersion', 'is required']], cli: true },
  { name: 'process.cwd missing', edits: [del('/process/cwd')], expect: [['/process/cwd', 'is required']] },
  {
    name: 'process.user.uid missing',
    edits: [del('/process/user/uid')],
    expect: [['/process/user/uid', 'is required']],
  },
  { name: 'process.args missing', edits: [del('/process/args')], expect: [['/process/args', 'is required']] },
  {
    name: 'process.args empty',
    edits: [set('/process/args', [])],
    expect: [['/process/args', 'must have at least 1 item']],
  },
  {
    name: 'mounts[].destination missing',
    edits: [del('/mounts/0/destination')],
    expect: [['/mounts/0/destination', 'is required']],
    cli: true,
  },
  { name: 'root.path missing', edits: [del('/root/path')], expect: [['/root/path', 'is required']] },
  { name: 'root.path empty', edits: [set('/root/path', '')], expect: [['/root/path', 'must not be empty']] },
  {
    name: 'rlimit without hard',
    edits: [set('/process/rlimits/0', { type: 'RLIMIT_NOFILE', soft: 10 })],
    expect: [['/process/rlimits/0/hard', 'is required']],
  },
  {
    name: 'seccomp without defaultAction',
    edits: [set('/linux/seccomp', { syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] })],
    expect: [['/linux/seccomp/defaultAction', 'is required']],
  },
  {
    name: 'char device without major and minor',
    edits: [set('/linux/devices', [{ type: 'c', path: '/dev/fuse' }])],
    expect: [
      ['/linux/devices/0/major', 'is required'],
      ['/linux/devices/0/minor', 'is required'],
    ],
  },
  {
    name: 'namespace without type',
    edits: [push('/linux/namespaces', { path: '/proc/1/ns/time' })],
    expect: [['/linux/namespaces/5/type', 'is required']],
  },
  {
    name: 'seccomp rule with no names',
    edits: [set('/linux/seccomp', SECCOMP({ names: [] }))],
    expect: [['/linux/seccomp/syscalls/0/names', 'must have at least 1 item']],
  },
  {
    name: 'mount uidMappings without gidMappings',
    edits: [set('/mounts/0/uidMappings', [MAP(0, 1000, 1)])],
    expect: [['/mounts/0', "must have property 'gidMappings' when 'uidMappings' is set"]],
  },

  // --- bad enums
  {
    name: 'namespace type "net"',
    edits: [set(`${NS_NETWORK}/type`, 'net')],
    expect: [[`${NS_NETWORK}/type`, 'must be one of: "pid", "network"']],
    cli: true,
  },
  {
    name: 'rootfsPropagation "sideways"',
    edits: [set('/linux/rootfsPropagation', 'sideways')],
    expect: [['/linux/rootfsPropagation', 'must be one of']],
  },
  {
    name: 'seccomp defaultAction unknown',
    edits: [set('/linux/seccomp', SECCOMP({}, { defaultAction: 'SCMP_ACT_BOGUS' }))],
    expect: [['/linux/seccomp/defaultAction', 'must be one of']],
    cli: true,
  },
  {
    name: 'seccomp rule action without prefix',
    edits: [set('/linux/seccomp', SECCOMP({ action: 'ALLOW' }))],
    expect: [['/linux/seccomp/syscalls/0/action', '"SCMP_ACT_ALLOW"']],
  },
  {
    name: 'seccomp arch "x86_64"',
    edits: [set('/linux/seccomp', SECCOMP({}, { architectures: ['SCMP_ARCH_X86', 'x86_64'] }))],
    expect: [['/linux/seccomp/architectures/1', '"SCMP_ARCH_X86_64"']],
  },
  {
    name: 'seccomp arg op unknown',
    edits: [set('/linux/seccomp', SECCOMP({ args: [{ index: 0, value: 1, op: 'SCMP_CMP_BOGUS' }] }))],
    expect: [['/linux/seccomp/syscalls/0/args/0/op', '"SCMP_CMP_EQ"']],
  },
  {
    name: 'seccomp flag unknown',
    edits: [set('/linux/seccomp', SECCOMP({}, { flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }))],
    expect: [['/linux/seccomp/flags/0', 'must be one of']],
  },
  {
    name: 'device type "x"',
    edits: [set('/linux/devices', [{ type: 'x', path: '/dev/x', major: 1, minor: 3 }])],
    expect: [['/linux/devices/0/type', '"c", "b", "u", "p"']],
  },
  {
    name: 'device cgroup rule type "x"',
    edits: [set('/linux/resources/devices/0/type', 'x')],
    expect: [['/linux/resources/devices/0/type', '"a", "c", "b"']],
  },
  {
    name: 'device cgroup access "rx"',
    edits: [set('/linux/resources/devices/0/access', 'rx')],
    expect: [['/linux/resources/devices/0/access', 'must match the pattern']],
  },
  {
    name: 'scheduler policy unknown',
    edits: [set('/process/scheduler', { policy: 'SCHED_FAST' })],
    expect: [['/process/scheduler/policy', '"SCHED_OTHER"']],
  },
  {
    name: 'ioPriority class unknown',
    edits: [set('/process/ioPriority', { class: 'IOPRIO_CLASS_NONE', priority: 0 })],
    expect: [['/process/ioPriority/class', '"IOPRIO_CLASS_BE"']],
  },
  {
    name: 'personality domain unknown',
    edits: [set('/linux/personality', { domain: 'BSD' })],
    expect: [['/linux/personality/domain', '"LINUX"']],
  },

  // --- relative paths
  {
    name: 'relative cwd',
    edits: [set('/process/cwd', 'home')],
    expect: [['/process/cwd', 'must be an absolute path, got "home"']],
    cli: true,
  },
  {
    name: 'relative mount destination',
    edits: [set('/mounts/0/destination', 'proc')],
    expect: [['/mounts/0/destination', 'must be an absolute path']],
  },
  {
    name: 'relative hook path',
    edits: [
      set('/hooks', { prestart: [{ path: '/bin/true' }], createRuntime: [{ path: '/bin/true' }, { path: 'hook.sh' }] }),
    ],
    expect: [['/hooks/createRuntime/1/path', 'must be an absolute path']],
    cli: true,
  },
  {
    name: 'relative poststop hook path',
    edits: [set('/hooks/poststop', [{ path: 'bin/cleanup' }])],
    expect: [['/hooks/poststop/0/path', 'must be an absolute path']],
  },
  {
    name: 'relative maskedPaths entry',
    edits: [set('/linux/maskedPaths/2', 'proc/kcore')],
    expect: [['/linux/maskedPaths/2', 'must be an absolute path']],
  },
  {
    name: 'relative readonlyPaths entry',
    edits: [push('/linux/readonlyPaths', 'proc/sys/kernel')],
    expect: [['/linux/readonlyPaths/5', 'must be an absolute path']],
  },
  {
    name: 'relative namespace path',
    edits: [set(`${NS_NETWORK}/path`, 'netns/blue')],
    expect: [[`${NS_NETWORK}/path`, 'must be an absolute path']],
  },
  {
    name: 'device path outside /dev',
    edits: [set('/linux/devices', [{ type: 'c', path: '/tmp/null', major: 1, minor: 3 }])],
    expect: [['/linux/devices/0/path', 'under /dev']],
    cli: true,
  },
  {
    name: 'device path relative',
    edits: [set('/linux/devices', [{ type: 'c', path: 'dev/null', major: 1, minor: 3 }])],
    expect: [['/linux/devices/0/path', 'absolute path under /dev']],
  },
  {
    name: 'device path escapes /dev with ..',
    edits: [set('/linux/devices', [{ type: 'c', path: '/dev/../etc/null', major: 1, minor: 3 }])],
    expect: [['/linux/devices/0/path', 'under /dev']],
  },
  {
    name: 'device path repeated',
    edits: [
      set('/linux/devices', [
        { type: 'c', path: '/dev/fuse', major: 10, minor: 229 },
        { type: 'c', path: '/dev/fuse', major: 10, minor: 229 },
      ]),
    ],
    expect: [['/linux/devices/1/path', 'repeats /linux/devices/0/path']],
  },

  // --- namespaces and id mappings
  {
    name: 'namespace type repeated',
    edits: [push('/linux/namespaces', { type: 'pid' })],
    expect: [['/linux/namespaces/5/type', 'namespace type pid is repeated']],
    cli: true,
  },
  {
    name: 'user namespace without mappings',
    edits: [push('/linux/namespaces', USERNS)],
    expect: [
      ['/linux/uidMappings', 'no uid mappings'],
      ['/linux/gidMappings', 'no gid mappings'],
    ],
  },
  {
    name: 'user namespace with uid mappings only',
    edits: [push('/linux/namespaces', USERNS), set('/linux/uidMappings', [MAP(0, 100000, 65536)])],
    expect: [['/linux/gidMappings', 'no gid mappings']],
  },
  {
    name: 'mappings without a user namespace',
    edits: [set('/linux/uidMappings', [MAP(0, 100000, 65536)]), set('/linux/gidMappings', [MAP(0, 100000, 65536)])],
    expect: [
      ['/linux/uidMappings', 'requires a user namespace'],
      ['/linux/gidMappings', 'requires a user namespace'],
    ],
  },
  {
    name: 'mappings while joining a user namespace by path',
    edits: [
      push('/linux/namespaces', { type: 'user', path: '/proc/1/ns/user' }),
      set('/linux/uidMappings', [MAP(0, 1000, 1)]),
      set('/linux/gidMappings', [MAP(0, 1000, 1)]),
    ],
    expect: [
      ['/linux/uidMappings', 'joining an existing user namespace'],
      ['/linux/gidMappings', 'joining an existing user namespace'],
    ],
  },
  {
    name: 'overlapping uid map ranges',
    edits: [
      push('/linux/namespaces', USERNS),
      set('/linux/uidMappings', [MAP(0, 100000, 100), MAP(10, 300000, 5)]),
      set('/linux/gidMappings', [MAP(0, 100000, 65536)]),
    ],
    expect: [['/linux/uidMappings/1/containerID', 'range overlaps /linux/uidMappings/0']],
    cli: true,
  },
  {
    name: 'gid map of size 0',
    edits: [
      push('/linux/namespaces', USERNS),
      set('/linux/uidMappings', [MAP(0, 100000, 65536)]),
      set('/linux/gidMappings', [MAP(0, 100000, 0)]),
    ],
    expect: [['/linux/gidMappings/0/size', 'must be at least 1']],
  },
  {
    name: 'uid map with a negative hostID',
    edits: [
      push('/linux/namespaces', USERNS),
      set('/linux/uidMappings', [MAP(0, -1, 1)]),
      set('/linux/gidMappings', [MAP(0, 0, 1)]),
    ],
    expect: [['/linux/uidMappings/0/hostID', 'must be >= 0']],
  },

  // --- process details
  {
    name: 'rlimit with an unknown name',
    edits: [set('/process/rlimits/0/type', 'RLIMIT_BOGUS')],
    expect: [['/process/rlimits/0/type', 'unknown rlimit RLIMIT_BOGUS']],
  },
  {
    name: 'rlimit name in lower case',
    edits: [set('/process/rlimits/0/type', 'rlimit_nofile')],
    expect: [['/process/rlimits/0/type', 'must match the pattern']],
  },
  {
    name: 'rlimit repeated',
    edits: [push('/process/rlimits', { type: 'RLIMIT_NOFILE', soft: 10, hard: 10 })],
    expect: [['/process/rlimits/1/type', 'rlimit RLIMIT_NOFILE is repeated']],
    cli: true,
  },
  {
    name: 'rlimit soft above hard',
    edits: [set('/process/rlimits/0/soft', 2048)],
    expect: [['/process/rlimits/0/soft', 'soft limit 2048 is above the hard limit 1024']],
  },
  {
    name: 'oomScoreAdj above 1000',
    edits: [set('/process/oomScoreAdj', 1001)],
    expect: [['/process/oomScoreAdj', 'between -1000 and 1000']],
  },
  {
    name: 'oomScoreAdj below -1000',
    edits: [set('/process/oomScoreAdj', -1001)],
    expect: [['/process/oomScoreAdj', 'between -1000 and 1000']],
  },
  {
    name: 'consoleSize without terminal',
    edits: [set('/process/terminal', false), set('/process/consoleSize', { height: 24, width: 80 })],
    expect: [['/process/consoleSize', 'requires process.terminal']],
  },
  {
    name: 'env entry without "="',
    edits: [push('/process/env', 'DEBUG')],
    expect: [['/process/env/2', 'must be NAME=VALUE, got "DEBUG"']],
    cli: true,
  },
  {
    name: 'env entry with an empty name',
    edits: [push('/process/env', '=1')],
    expect: [['/process/env/2', 'empty variable name']],
  },
  {
    name: 'capability in lower case',
    edits: [set('/process/capabilities/bounding/0', 'cap_audit_write')],
    expect: [['/process/capabilities/bounding/0', 'must match the pattern ^CAP_[A-Z_]+$']],
  },
  {
    name: 'capability without CAP_ prefix',
    edits: [push('/process/capabilities/effective', 'SYS_ADMIN')],
    expect: [['/process/capabilities/effective/3', 'must match the pattern']],
  },
  {
    name: 'scheduler nice out of range',
    edits: [set('/process/scheduler', { policy: 'SCHED_OTHER', nice: 20 })],
    expect: [['/process/scheduler/nice', 'between -20 and 19']],
  },
  {
    name: 'SCHED_FIFO with priority 0',
    edits: [set('/process/scheduler', { policy: 'SCHED_FIFO', priority: 0 })],
    expect: [['/process/scheduler/priority', 'between 1 and 99']],
  },
  {
    name: 'deadline fields without SCHED_DEADLINE',
    edits: [set('/process/scheduler', { policy: 'SCHED_BATCH', runtime: 1000 })],
    expect: [['/process/scheduler/runtime', 'only valid with SCHED_DEADLINE']],
  },
  {
    name: 'ioPriority priority 8',
    edits: [set('/process/ioPriority', { class: 'IOPRIO_CLASS_BE', priority: 8 })],
    expect: [['/process/ioPriority/priority', 'must be <= 7']],
  },

  // --- version
  {
    name: 'ociVersion 2.0.0',
    edits: [set('/ociVersion', '2.0.0')],
    expect: [['/ociVersion', 'unsupported version "2.0.0"']],
    cli: true,
  },
  {
    name: 'ociVersion not semver',
    edits: [set('/ociVersion', 'latest')],
    expect: [['/ociVersion', 'unsupported version']],
  },

  // --- relations between fields
  {
    name: 'hostname without a UTS namespace',
    edits: [del(NS_UTS)],
    expect: [['/hostname', 'without a private UTS namespace']],
    cli: true,
  },
  {
    name: 'domainname without a UTS namespace',
    edits: [del(NS_UTS), del('/hostname'), set('/domainname', 'example.org')],
    expect: [['/domainname', 'without a private UTS namespace']],
  },
  {
    name: 'sysctl not namespaced',
    edits: [set('/linux/sysctl', { 'kernel.panic': '10' })],
    expect: [['/linux/sysctl/kernel.panic', 'not in a separate kernel namespace']],
    cli: true,
  },
  {
    name: 'sysctl key with "/" is escaped in the pointer',
    edits: [set('/linux/sysctl', { 'vm/swappiness': '10' })],
    expect: [['/linux/sysctl/vm~1swappiness', 'not in a separate kernel namespace']],
  },
  {
    name: 'net sysctl without a network namespace',
    edits: [del(NS_NETWORK), set('/linux/sysctl', { 'net.ipv4.ip_forward': '1' })],
    expect: [['/linux/sysctl/net.ipv4.ip_forward', 'requires a network namespace']],
  },
  {
    name: 'ipc sysctl without an ipc namespace',
    edits: [del(NS_IPC), set('/linux/sysctl', { 'fs.mqueue.msg_max': '100', 'kernel.shmmax': '1' })],
    expect: [
      ['/linux/sysctl/fs.mqueue.msg_max', 'requires an ipc namespace'],
      ['/linux/sysctl/kernel.shmmax', 'requires an ipc namespace'],
    ],
  },
  {
    name: 'errnoRet with SCMP_ACT_ALLOW',
    edits: [set('/linux/seccomp', SECCOMP({ errnoRet: 1 }))],
    expect: [
      ['/linux/seccomp/syscalls/0/errnoRet', 'only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW'],
    ],
    cli: true,
  },
  {
    name: 'empty syscall name',
    edits: [set('/linux/seccomp', SECCOMP({ names: ['read', ''] }))],
    expect: [['/linux/seccomp/syscalls/0/names/1', 'must not be empty']],
  },
  {
    name: 'timeOffsets without a time namespace',
    edits: [set('/linux/timeOffsets', { monotonic: { secs: 10, nanosecs: 0 } })],
    expect: [['/linux/timeOffsets', 'requires a new time namespace']],
    cli: true,
  },
  {
    name: 'timeOffsets with a joined time namespace',
    edits: [
      push('/linux/namespaces', { type: 'time', path: '/proc/1/ns/time' }),
      set('/linux/timeOffsets', { boottime: { secs: 1 } }),
    ],
    expect: [['/linux/timeOffsets', 'requires a new time namespace']],
  },
  {
    name: 'bind mount (type) without source',
    edits: [push('/mounts', { destination: '/data', type: 'bind', options: ['rbind', 'ro'] })],
    expect: [['/mounts/7/source', 'is required for a bind mount']],
    cli: true,
  },
  {
    name: 'bind mount (option) with empty source',
    edits: [push('/mounts', { destination: '/data', type: 'none', source: '', options: ['bind'] })],
    expect: [['/mounts/7/source', 'is required for a bind mount']],
  },
  {
    name: 'netDevices without a network namespace',
    edits: [del(NS_NETWORK), set('/linux/netDevices', { eth1: { name: 'eth0' } })],
    expect: [['/linux/netDevices', 'unable to move network devices without a NET namespace']],
    cli: true,
  },
  {
    name: 'netDevices for a rootless container',
    edits: [set('/linux/netDevices', { eth1: {} })],
    options: { rootlessEuid: true },
    expect: [
      ['/linux/netDevices', 'network devices are not supported for rootless containers'],
      ['/linux/namespaces', 'rootless container requires user namespaces'],
    ],
  },
  {
    name: 'netDevices names the kernel refuses (a host name of 16 bytes, "/", ":", whitespace, "..", "%"; an empty one)',
    edits: [
      set('/linux/netDevices', {
        eth0123456789abc: {},
        'a/b': {},
        'eth1:0': {},
        'eth 2': {},
        '..': {},
        'eth%d': {},
        '': {},
      }),
    ],
    expect: [
      ['/linux/netDevices/eth0123456789abc', 'is 16 bytes long, and an interface name has at most 15'],
      ['/linux/netDevices/a~1b', 'invalid network device name "a/b"'],
      ['/linux/netDevices/eth1:0', 'no whitespace, "/" or ":"'],
      ['/linux/netDevices/eth 2', 'no whitespace'],
      ['/linux/netDevices/..', 'an interface cannot be named ".."'],
      ['/linux/netDevices/eth%d', 'a host interface name has no "%"'],
      ['/linux/netDevices/', 'it is empty'],
    ],
    cli: true,
  },
  {
    // (config.json text with such a key is refused as JSON already; a library caller's object gets this)
    name: 'netDevices naming a host interface with a NUL (C would look up the name before it)',
    edits: [set('/linux/netDevices', { 'lo\u0000x': {} })],
    expect: [['/linux/netDevices/lo\u0000x', 'it holds a NUL character']],
  },
  {
    name: 'netDevices names inside the kernel refuses (too long, a tab, a byte 0xa0, a bad template, ".")',
    edits: [
      set('/linux/netDevices', {
        eth1: { name: 'container-eth-one' },
        eth2: { name: 'eth\t2' },
        eth3: { name: 'th\u00e0' },
        eth4: { name: 'net%s' },
        eth5: { name: 'n%d%d' },
        eth6: { name: '.' },
      }),
    ],
    expect: [
      ['/linux/netDevices/eth1/name', 'invalid network device name "container-eth-one": it is 17 bytes long'],
      ['/linux/netDevices/eth2/name', 'no whitespace'],
      ['/linux/netDevices/eth3/name', 'no whitespace'],
      ['/linux/netDevices/eth4/name', 'exactly one "%d"'],
      ['/linux/netDevices/eth5/name', 'exactly one "%d"'],
      ['/linux/netDevices/eth6/name', 'an interface cannot be named "."'],
    ],
  },
  {
    name: 'netDevices giving two devices one name inside, one "lo", and moving the host\'s lo',
    edits: [
      set('/linux/netDevices', {
        eth1: { name: 'eth0' },
        eth0: {},
        eth2: { name: 'net%d' },
        eth3: { name: 'net%d' },
        eth4: { name: 'lo' },
        lo: { name: 'hostlo' },
      }),
    ],
    expect: [
      ['/linux/netDevices/eth0', '/linux/netDevices/eth1 is named "eth0" inside the container too'],
      ['/linux/netDevices/eth4/name', 'every network namespace has its own "lo"'],
      ['/linux/netDevices/lo', 'the loopback interface cannot leave its network namespace'],
    ],
  },
  {
    name: 'hook timeout 0',
    edits: [set('/hooks', { poststop: [{ path: '/bin/true', timeout: 0 }] })],
    expect: [['/hooks/poststop/0/timeout', 'must be >= 1']],
  },
  {
    name: 'cgroupsPath not slice:prefix:name with --systemd-cgroup',
    edits: [set('/linux/cgroupsPath', '/default/abc')],
    expect: [['/linux/cgroupsPath', '"slice:prefix:name"']],
    options: { cgroupDriver: selectCgroupDriver({ systemd: true }) },
  },

  // --- idmapped mounts (runc 1.2's checkIDMapMounts, in its words, plus the kernel's map rules)
  {
    name: 'idmapped mount on a tmpfs',
    edits: [push('/mounts', { ...IDMAPPED, type: 'tmpfs', source: 'tmpfs', options: [] })],
    expect: [['/mounts/7/uidMappings', 'id-mapped mounts are only supported for bind-mounts']],
    cli: true,
  },
  {
    name: 'idmap option on a mount that is not a bind mount',
    edits: [push('/mounts', { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'ridmap'] })],
    expect: [['/mounts/7/options/1', 'id-mapped mounts are only supported for bind-mounts']],
  },
  {
    name: 'idmapped mount with an empty uidMappings',
    edits: [push('/mounts', { ...IDMAPPED, uidMappings: [] })],
    expect: [['/mounts/7/uidMappings', 'id-mapped mounts must have both uid and gid mappings specified']],
  },
  {
    name: 'idmapped mount mapping values the kernel refuses',
    edits: [
      push('/mounts', {
        ...IDMAPPED,
        uidMappings: [MAP(0, 1000, 0), MAP(10, 5000, 10), MAP(15, 9000, 10), MAP(100, 5009, 1)],
        gidMappings: [MAP(0, 4294967200, 96), MAP(4294967295, 0, 1)],
      }),
    ],
    expect: [
      ['/mounts/7/uidMappings/0/size', 'must be at least 1'],
      ['/mounts/7/uidMappings/2/containerID', 'range overlaps /mounts/7/uidMappings/1'],
      ['/mounts/7/uidMappings/3/hostID', 'range overlaps /mounts/7/uidMappings/1'],
      ['/mounts/7/gidMappings/0/hostID', 'hostID + size must be at most 4294967295'],
      ['/mounts/7/gidMappings/1/containerID', 'containerID + size must be at most 4294967295'],
    ],
    cli: true,
  },
  {
    name: 'idmapped mount with more ranges than the kernel takes',
    edits: [push('/mounts', { ...IDMAPPED, uidMappings: Array.from({ length: 341 }, (_, i) => MAP(i * 2, i * 2, 1)) })],
    expect: [['/mounts/7/uidMappings', 'the kernel takes at most 340']],
  },
  {
    name: 'idmap without mappings and without a user namespace',
    edits: [push('/mounts', { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'idmap'] })],
    expect: [['/mounts/7/options/1', 'id-mapped mounts must have both uid and gid mappings specified']],
    cli: true,
  },
  {
    name: 'idmapped mount in a joined user namespace',
    edits: [push('/linux/namespaces', { type: 'user', path: '/proc/1/ns/user' }), push('/mounts', IDMAPPED)],
    expect: [['/mounts/7/uidMappings', 'not supported by tsrunc when the container joins a user namespace']],
  },
  {
    name: 'idmapped mount of a rootless container',
    edits: [
      push('/linux/namespaces', USERNS),
      set('/linux/uidMappings', [MAP(0, 1000, 1)]),
      set('/linux/gidMappings', [MAP(0, 1000, 1), MAP(5, 100005, 1)]),
      push('/mounts', { destination: '/data', type: 'bind', source: '/srv/data', options: ['bind', 'idmap'] }),
    ],
    expect: [['/mounts/7/options/1', 'id-mapped mounts are not supported for rootless containers']],
    options: { rootlessEuid: true },
  },
  {
    name: "crun's idmap=uids= syntax",
    edits: [
      push('/mounts', { destination: '/data', type: 'bind', source: '/srv', options: ['bind', 'idmap=uids=0-1-10'] }),
    ],
    expect: [['/mounts/7/options/1', "crun's syntax"]],
  },
];

/** Valid configs with idmapped mounts: as runc 1.2 takes them. */
const IDMAPPED_VALID: { name: string; edits: Edit[] }[] = [
  { name: 'mappings without a user namespace', edits: [push('/mounts', IDMAPPED)] },
  {
    name: 'idmap and ridmap with the mappings of the container',
    edits: [
      push('/linux/namespaces', USERNS),
      set('/linux/uidMappings', [MAP(0, 100000, 65536)]),
      set('/linux/gidMappings', [MAP(0, 100000, 65536)]),
      push('/mounts', { destination: '/a', type: 'bind', source: '/srv/a', options: ['bind', 'idmap'] }),
      push('/mounts', { destination: '/b', type: 'bind', source: '/srv/b', options: ['rbind', 'ridmap'] }),
    ],
  },
  {
    name: "mappings other than the container's, with ridmap, ranges reaching 4294967294",
    edits: [
      push('/linux/namespaces', USERNS),
      set('/linux/uidMappings', [MAP(0, 100000, 65536)]),
      set('/linux/gidMappings', [MAP(0, 100000, 65536)]),
      push('/mounts', {
        ...IDMAPPED,
        options: ['rbind', 'ridmap'],
        uidMappings: [MAP(0, 200000, 10), MAP(10, 100000, 10)],
        gidMappings: [MAP(4294967285, 0, 10)],
      }),
    ],
  },
];

function docFor(c: Case): unknown {
  return c.doc !== undefined ? c.doc() : build(c.edits);
}

function problemsOf(doc: unknown, options: Partial<ValidateOptions> = {}): Problem[] | undefined {
  try {
    validateConfig(doc, { bundle: '/nonexistent-bundle', checkHost: false, ...options });
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

t.test('the base document is valid', async (t) => {
  t.equal(problemsOf(base()), undefined, 'defaultSpec() validates');
  t.equal(
    problemsOf(base(), { cgroupDriver: selectCgroupDriver({ systemd: true }) }),
    undefined,
    'with --systemd-cgroup too',
  );
});

t.test('corpus size', async (t) => {
  t.ok(corpus.length >= 45, `${corpus.length} invalid documents`);
  t.ok(corpus.filter((c) => c.cli === true).length >= 8, 'at least 8 go through the CLI');
  const names = new Set(corpus.map((c) => c.name));
  t.equal(names.size, corpus.length, 'case names are unique');
});

for (const c of corpus) {
  t.test(`invalid: ${c.name}`, async (t) => {
    const problems = problemsOf(docFor(c), c.options);
    if (problems === undefined) {
      t.fail('validateConfig accepted the document');
      return;
    }
    const got = problems.map((p) => p.pointer).sort();
    const want = c.expect.map(([p]) => p).sort();
    t.same(got, want, `reports exactly ${want.join(', ')}`, { problems });
    for (const [pointer, fragment] of c.expect) {
      const messages = problems.filter((p) => p.pointer === pointer).map((p) => p.message);
      t.ok(
        messages.some((m) => m.includes(fragment)),
        `${pointer}: message contains ${JSON.stringify(fragment)}`,
        { messages },
      );
    }
  });
}

for (const c of IDMAPPED_VALID) {
  t.test(`valid: idmapped mount, ${c.name}`, async (t) => {
    t.equal(problemsOf(build(c.edits)), undefined, 'validates');
  });
}

t.test('every problem is reported at once', async (t) => {
  t.test('three semantic problems', async (t) => {
    const doc = build([
      set('/process/cwd', 'work'),
      push('/linux/namespaces', { type: 'ipc' }),
      set('/hooks', { poststart: [{ path: 'notify' }] }),
    ]);
    const problems = problemsOf(doc) ?? [];
    t.same(problems.map((p) => p.pointer).sort(), [
      '/hooks/poststart/0/path',
      '/linux/namespaces/5/type',
      '/process/cwd',
    ]);
  });
  t.test('three schema problems', async (t) => {
    const doc = build([
      del('/process/cwd'),
      set('/linux/namespaces/0/type', 'pidns'),
      set('/process/user/gid', 'wheel'),
    ]);
    const problems = problemsOf(doc) ?? [];
    t.same(problems.map((p) => p.pointer).sort(), ['/linux/namespaces/0/type', '/process/cwd', '/process/user/gid']);
  });
  t.test('the error message lists them one per line, file and pointer first', async (t) => {
    const doc = build([set('/process/cwd', 'work'), push('/process/env', 'X'), set('/ociVersion', '0.9.0')]);
    try {
      validateConfig(doc, { bundle: '/nonexistent-bundle', checkHost: false, file: 'config.json' });
      t.fail('accepted');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      t.equal(err.kind, 'config');
      t.equal(err.exitCode, 1);
      t.same(err.lines().sort(), [
        'config.json: /ociVersion: unsupported version "0.9.0": tsrunc supports runtime-spec 1.x (e.g. "1.2.0")',
        'config.json: /process/cwd: must be an absolute path, got "work"',
        'config.json: /process/env/2: must be NAME=VALUE, got "X"',
      ]);
    }
  });
});

t.test('text that is not JSON', async (t) => {
  try {
    validateConfigText('{"ociVersion": "1.2.0",', { bundle: '/nonexistent-bundle', checkHost: false });
    t.fail('accepted');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    t.equal(err.problems.length, 1);
    t.equal(err.problems[0]?.pointer, '');
    t.match(err.problems[0]?.message ?? '', /invalid JSON/);
  }
});

t.test('host checks (checkHost: true)', async (t) => {
  const dir = tempDir(t, 'tsrunc-hostcheck');
  const check = (rootPath: string): Problem[] | undefined => {
    try {
      validateConfig({ ...defaultSpec(), root: { path: rootPath } }, { bundle: dir, checkHost: true });
      return undefined;
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };
  fs.mkdirSync(path.join(dir, 'rootfs'));
  fs.writeFileSync(path.join(dir, 'file'), '');
  fs.symlinkSync('rootfs', path.join(dir, 'link'));
  t.equal(check('rootfs'), undefined, 'an existing directory is accepted');
  t.equal(check(path.join(dir, 'rootfs')), undefined, 'absolute root.path too');
  t.match(check('missing'), [{ pointer: '/root/path', message: /does not exist/ }]);
  t.match(check('file'), [{ pointer: '/root/path', message: /not a directory/ }]);
  t.match(check('link'), [{ pointer: '/root/path', message: /symlink/ }]);
});

// ---- through the CLI ----------------------------------------------------------------------

t.test('through the CLI: exit 1, the pointer named, nothing left under --root', async (t) => {
  const cliCases = corpus.filter((c) => c.cli === true);
  for (const c of cliCases) {
    t.test(c.name, async (t) => {
      const dir = tempDir(t, 'tsrunc-corpus');
      const bundle = writeBundle(path.join(dir, 'bundle'), docFor(c));
      const pointers = c.expect.map(([p]) => p);

      const v = runTsrunc(['validate', '--bundle', bundle]);
      t.equal(v.status, 1, 'validate exits 1');
      t.equal(v.stdout, '', 'validate prints nothing on stdout');
      for (const p of pointers) t.match(v.stderr, `config.json: ${p}: `, `validate names ${p} on stderr`);

      // create without --log: the error goes to stderr as a text log line
      const root = privateRoot(t);
      const cr = runTsrunc(['--root', root, 'create', '--bundle', bundle, 'ctr1']);
      t.equal(cr.status, 1, 'create exits 1');
      for (const p of pointers) t.match(cr.stderr, `${p}: `, `create names ${p} on stderr`);
      t.notMatch(cr.stderr, /not implemented/, 'validation fails before anything else');
      t.same(rootEntries(root), [], 'no container directory under --root');

      // create as containerd's shim calls it: --log FILE --log-format json
      const log = path.join(dir, 'log.json');
      const cj = runTsrunc([
        '--root',
        root,
        '--log',
        log,
        '--log-format',
        'json',
        'create',
        '--bundle',
        bundle,
        '--pid-file',
        path.join(dir, 'pid'),
        'ctr1',
      ]);
      t.equal(cj.status, 1, 'create (json log) exits 1');
      const entry = lastLogEntry(log);
      t.equal(entry?.['level'], 'error', 'last log line is an error');
      const msg = String(entry?.['msg'] ?? '');
      for (const p of pointers) t.match(msg, `config.json: ${p}: `, `log msg names ${p}`);
      for (const p of pointers) t.match(cj.stderr, `${p}: `, `stderr names ${p} too`);
      t.same(rootEntries(root), [], 'still no container directory under --root');
      t.notOk(fs.existsSync(path.join(dir, 'pid')), 'no pid file');
    });
  }

  t.test('three problems at once through validate', async (t) => {
    const dir = tempDir(t, 'tsrunc-corpus');
    const bundle = writeBundle(
      path.join(dir, 'bundle'),
      build([
        set('/process/cwd', 'work'),
        push('/linux/namespaces', { type: 'ipc' }),
        set('/mounts/2/destination', 'dev/pts'),
      ]),
    );
    const v = runTsrunc(['validate', '--bundle', bundle]);
    t.equal(v.status, 1);
    for (const p of ['/process/cwd', '/linux/namespaces/5/type', '/mounts/2/destination'])
      t.match(v.stderr, `config.json: ${p}: `);
  });

  t.test('a missing rootfs is reported by validate and create', async (t) => {
    const dir = tempDir(t, 'tsrunc-corpus');
    const bundle = writeBundle(path.join(dir, 'bundle'), defaultSpec(), { rootfs: false });
    const v = runTsrunc(['validate', '--bundle', bundle]);
    t.equal(v.status, 1);
    t.match(v.stderr, /\/root\/path: rootfs .* does not exist/);
    const root = privateRoot(t);
    const cr = runTsrunc(['--root', root, 'create', '--bundle', bundle, 'ctr1']);
    t.equal(cr.status, 1);
    t.match(cr.stderr, /\/root\/path: rootfs .* does not exist/);
    t.same(rootEntries(root), []);
  });

  t.test('a bundle without config.json', async (t) => {
    const dir = tempDir(t, 'tsrunc-corpus');
    const root = privateRoot(t);
    const cr = runTsrunc(['--root', root, 'create', '--bundle', dir, 'ctr1']);
    t.equal(cr.status, 1);
    t.match(cr.stderr, /config\.json not found/);
    t.same(rootEntries(root), []);
  });

  t.test('run validates first too', async (t) => {
    const dir = tempDir(t, 'tsrunc-corpus');
    const bundle = writeBundle(path.join(dir, 'bundle'), build([set('/process/cwd', 'rel')]));
    const root = privateRoot(t);
    const r = runTsrunc(['--root', root, 'run', '--bundle', bundle, 'ctr1']);
    t.equal(r.status, 1);
    t.match(r.stderr, '/process/cwd: must be an absolute path');
    t.same(rootEntries(root), []);
  });
});
