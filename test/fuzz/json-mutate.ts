// Generators of broken (and sometimes still valid) JSON documents for the fuzz tests: JSON
// pointers (RFC 6901) to check where an error points, mutations of a document at random
// places (delete, replace, retype, insert, duplicate) or at places the OCI spec gives a
// meaning (namespaces, capabilities, mounts, paths, limits ...), and mutations of the JSON text
// itself (truncated, garbage, deep nesting). Everything is deterministic given fast-check's
// values, so a seed replays a case.
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// ---- pointers ------------------------------------------------------------------------------

/** The tokens of a pointer, or undefined when it is not a well-formed RFC 6901 pointer. */
export function parsePointer(ptr: string): string[] | undefined {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) return undefined;
  const raw = ptr.slice(1).split('/');
  if (raw.some((tok) => /~[^01]|~$/.test(tok))) return undefined;
  return raw.map((tok) => tok.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasOwn(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/** The value a pointer names, if it names one (own properties only; canonical array indexes). */
export function lookup(doc: Json, tokens: readonly string[]): { found: true; value: Json } | { found: false } {
  let cur: Json = doc;
  for (const tok of tokens) {
    if (Array.isArray(cur)) {
      if (!INDEX.test(tok) || Number(tok) >= cur.length) return { found: false };
      cur = cur[Number(tok)] as Json;
    } else if (isObject(cur)) {
      if (!hasOwn(cur, tok)) return { found: false };
      cur = cur[tok] as Json;
    } else {
      return { found: false };
    }
  }
  return { found: true, value: cur };
}

/**
 * Where a reported pointer lands in `doc`: 'exact' when it names a value, 'parent' when it
 * names a missing property of an object that exists (a required field), otherwise a reason.
 */
export function locate(doc: Json, ptr: string): 'exact' | 'parent' | string {
  const tokens = parsePointer(ptr);
  if (tokens === undefined) return `${JSON.stringify(ptr)} is not a JSON pointer`;
  if (lookup(doc, tokens).found) return 'exact';
  if (tokens.length === 0) return 'the root is missing';
  const parent = lookup(doc, tokens.slice(0, -1));
  if (parent.found && isObject(parent.value)) return 'parent';
  return `${JSON.stringify(ptr)} names nothing in the document (nor a missing property of an object in it)`;
}

// ---- walking to a random place -------------------------------------------------------------

function childKeys(v: Json): string[] {
  if (Array.isArray(v)) return v.map((_, i) => String(i));
  if (isObject(v)) return Object.keys(v);
  return [];
}

/** Follows `choices` down from the root (each picks a child modulo the count); stops at a leaf. */
export function walk(doc: Json, choices: readonly number[]): string[] {
  const tokens: string[] = [];
  let cur = doc;
  for (const c of choices) {
    const keys = childKeys(cur);
    if (keys.length === 0) break;
    const key = keys[c % keys.length] as string;
    tokens.push(key);
    cur = (Array.isArray(cur) ? cur[Number(key)] : (cur as JsonObject)[key]) as Json;
  }
  return tokens;
}

function getAt(doc: Json, tokens: readonly string[]): Json | undefined {
  const r = lookup(doc, tokens);
  return r.found ? r.value : undefined;
}

/** Replaces the value at `tokens` (the root when empty); returns the new document. */
function setAt(doc: Json, tokens: readonly string[], value: Json): Json {
  if (tokens.length === 0) return value;
  const parent = getAt(doc, tokens.slice(0, -1));
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) parent[Number(key)] = value;
  else if (isObject(parent)) defineOwn(parent, key, value);
  return doc;
}

/** Sets an own property even for "__proto__" (as JSON.parse makes it). */
function defineOwn(o: JsonObject, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function deleteAt(doc: Json, tokens: readonly string[]): Json {
  if (tokens.length === 0) return {};
  const parent = getAt(doc, tokens.slice(0, -1));
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (isObject(parent)) delete parent[key];
  return doc;
}

/**
 * Sets the value at a pointer, creating missing objects (or arrays, before a "-") on the way;
 * a final "-" appends. `undefined` deletes. Stops quietly where a scalar is in the way.
 */
export function putAt(doc: Json, ptr: string, value: Json | undefined): Json {
  const tokens = parsePointer(ptr);
  if (tokens === undefined || tokens.length === 0) return value ?? doc;
  if (value === undefined) return deleteAt(doc, tokens);
  let cur: Json = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const tok = tokens[i] as string;
    const nextIsAppend = tokens[i + 1] === '-';
    let next: Json | undefined = Array.isArray(cur)
      ? cur[Number(tok)]
      : isObject(cur) && hasOwn(cur, tok)
        ? cur[tok]
        : undefined;
    if (next === undefined || next === null || typeof next !== 'object') {
      next = nextIsAppend ? [] : {};
      if (Array.isArray(cur)) {
        if (tok === '-') cur.push(next);
        else cur[Number(tok)] = next;
      } else if (isObject(cur)) defineOwn(cur, tok, next);
      else return doc;
    }
    cur = next;
  }
  const last = tokens[tokens.length - 1] as string;
  if (Array.isArray(cur)) {
    if (last === '-') cur.push(value);
    else if (INDEX.test(last)) cur[Math.min(Number(last), cur.length)] = value;
  } else if (isObject(cur)) defineOwn(cur, last, value);
  return doc;
}

// ---- nasty values ----------------------------------------------------------------------------

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  -2,
  0.5,
  -0.5,
  1e-7,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 63,
  -(2 ** 63),
  2 ** 64,
  1e21,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  4294967295,
  4294967296,
  65535,
  65536,
  1024,
  99,
  100,
  1000,
  -1000,
  -1001,
];

const STRINGS = [
  '',
  ' ',
  '\t',
  '\n',
  '0',
  '-1',
  'true',
  'null',
  '{}',
  '[]',
  '/',
  '//',
  '.',
  '..',
  '../..',
  '../../../etc/passwd',
  '/..',
  '/../../etc',
  '/dev/../etc/shadow',
  'relative/path',
  './x',
  '~',
  '~/x',
  '/a\u0000b',
  '\u0000',
  '/proc/self/ns/net',
  '/proc/1/ns/pid',
  '/proc/self/fd/0',
  '/sys/fs/cgroup',
  '/dev/null',
  'é',
  'ß',
  '\u00a0',
  '\u200b',
  '\u202e',
  '\ufeff',
  '\ud83d\ude00',
  '\ud800',
  '\udfff',
  'Ω≈ç√∫',
  '中文',
  'ÄÖÜ',
  '$(reboot)',
  '`id`',
  '; rm -rf /',
  '%s%n',
  '\\',
  '"',
  "'",
  'a=b',
  '=',
  '=x',
  'PATH',
  'CAP_SYS_ADMIN',
  'cap_sys_admin',
  'CAP_BOGUS',
  'SYS_ADMIN',
  'SIGKILL',
  'SIGBOGUS',
  'RLIMIT_NOFILE',
  'RLIMIT_BOGUS',
  'net',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_BOGUS',
  'SCMP_ARCH_BOGUS',
  'bind',
  'rbind',
  'rprivate',
  'shared',
  'ro',
  'rw',
  'nosuid',
  'mode=0777',
  'size=-1',
  'tmpfs',
  'proc',
  '1.0.2',
  '1.2.0',
  '2.0.0',
  '1.0.0-rc1',
  '0.1',
  'v1',
  '1.0.2.3',
  'rwm',
  'rwx',
  'a',
  'c',
  'b',
  'u',
  'p',
  '*',
  'user',
  'pid',
  'network',
  'mount',
  'time',
];

/** Strings that stress lengths: 1 KiB to 256 KiB of one (possibly multi-byte) unit. */
export const longString: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('a', '/', 'é', '\ud83d\ude00', '\u0000', '../', '%', 'x/'),
    fc.integer({ min: 1024, max: 256 * 1024 }),
  )
  .map(([unit, n]) => (n % 2 === 0 ? '/' : '') + unit.repeat(Math.ceil(n / unit.length)).slice(0, n));

/** An array or object nested `depth` deep around `leaf`. */
export function nested(depth: number, leaf: Json, asObject: boolean): Json {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
}

// fast-check prints a counterexample recursively: a deep value describes itself instead.
const deepValue: fc.Arbitrary<Json> = fc.tuple(fc.integer({ min: 16, max: 1000 }), fc.boolean()).map(([d, o]) => {
  const v = nested(d, 'deep', o) as Json[] | JsonObject;
  Object.defineProperty(v, fc.toStringMethod, { value: () => `nested(${d}, 'deep', ${o})`, enumerable: false });
  return v;
});

export const weirdString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => `/${s}`) },
  { weight: 1, arbitrary: longString },
);

export const weirdNumber: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer({ min: -1100, max: 1100 }) },
);

/** A value of any JSON type that a config field is unlikely to expect. */
export const nastyValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: weirdNumber },
  { weight: 4, arbitrary: weirdString },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Json>(
      null,
      true,
      false,
      [],
      {},
      [null],
      [''],
      { '': '' },
      JSON.parse('{"__proto__":{"type":"user"}}') as Json,
    ),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: fc.array(weirdString, { maxLength: 6 }) },
);

const bogusKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    '',
    ' ',
    'bogus',
    'type',
    'path',
    'Path',
    'PROCESS',
    'linux',
    'x-extra',
    '~',
    '/',
    '~1',
    '0',
    '-',
  ),
  fc.string({ maxLength: 10 }),
);

// ---- domain values (what the spec gives a meaning) -------------------------------------------

const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
const CAPS = [
  'CAP_CHOWN',
  'CAP_KILL',
  'CAP_NET_ADMIN',
  'CAP_SYS_ADMIN',
  'CAP_AUDIT_WRITE',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETUID',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
  'CAP_LAST_CAP',
];
const CAP_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'];
const RLIMITS = [
  'RLIMIT_NOFILE',
  'RLIMIT_NPROC',
  'RLIMIT_CORE',
  'RLIMIT_AS',
  'RLIMIT_STACK',
  'RLIMIT_RTPRIO',
  'RLIMIT_MEMLOCK',
];
const HOOKS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

export const pathLike: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '/',
    '/tmp',
    '/mnt/x',
    '/dev/null',
    '/dev/fuse',
    '/proc/kcore',
    '/sys/firmware',
    'rel',
    '../up',
    '/a/../b',
    '/dev/../etc',
    '',
    '/x\u0000y',
    '/\ud83d\ude00',
  ),
  fc
    .array(fc.constantFrom('a', 'b', '..', '.', 'dev', 'proc', 'é', ' '), { minLength: 1, maxLength: 6 })
    .map((p) => `/${p.join('/')}`),
  weirdString,
);

const capName = fc.oneof(fc.constantFrom(...CAPS), weirdString);
const namespace = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...NAMESPACE_TYPES), weirdString),
    path: fc.oneof(pathLike, fc.constantFrom('/proc/self/ns/net', '/proc/1/ns/uts')),
  },
  { requiredKeys: ['type'] },
);
const rlimit = fc.record(
  { type: fc.oneof(fc.constantFrom(...RLIMITS), weirdString), soft: weirdNumber, hard: weirdNumber },
  { requiredKeys: [] },
);
const mount = fc.record(
  {
    destination: pathLike,
    type: fc.oneof(fc.constantFrom('bind', 'tmpfs', 'proc', 'none', 'nosuchfs'), weirdString),
    source: pathLike,
    options: fc.array(
      fc.oneof(
        fc.constantFrom('bind', 'rbind', 'ro', 'nosuid', 'mode=755', 'size=1k', 'rprivate', 'idmap'),
        weirdString,
      ),
      { maxLength: 4 },
    ),
  },
  { requiredKeys: [] },
);
const idMapping = fc.record({ containerID: weirdNumber, hostID: weirdNumber, size: weirdNumber }, { requiredKeys: [] });
const device = fc.record(
  {
    type: fc.constantFrom('c', 'b', 'u', 'p', 'x', ''),
    path: pathLike,
    major: weirdNumber,
    minor: weirdNumber,
    fileMode: weirdNumber,
    uid: weirdNumber,
    gid: weirdNumber,
  },
  { requiredKeys: [] },
);
const deviceRule = fc.record(
  {
    allow: fc.boolean(),
    type: fc.constantFrom('a', 'c', 'b', 'x'),
    major: weirdNumber,
    minor: weirdNumber,
    access: fc.constantFrom('rwm', 'r', '', 'rwx', 'mmm'),
  },
  { requiredKeys: [] },
);
const hook = fc.record(
  {
    path: pathLike,
    args: fc.array(weirdString, { maxLength: 3 }),
    env: fc.array(weirdString, { maxLength: 2 }),
    timeout: weirdNumber,
  },
  { requiredKeys: [] },
);
const sysctlKey = fc.oneof(
  fc.constantFrom(
    'net.ipv4.ip_forward',
    'kernel.shmmax',
    'fs.mqueue.msg_max',
    'kernel.hostname',
    'kernel.pid_max',
    'vm.swappiness',
    'net/ipv4/ip_forward',
    'net.',
    '',
  ),
  weirdString,
);
const seccomp = fc.record(
  {
    defaultAction: fc.constantFrom(
      'SCMP_ACT_ALLOW',
      'SCMP_ACT_ERRNO',
      'SCMP_ACT_KILL',
      'SCMP_ACT_LOG',
      'SCMP_ACT_BOGUS',
    ),
    defaultErrnoRet: weirdNumber,
    architectures: fc.array(fc.constantFrom('SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64', 'x86_64'), {
      maxLength: 3,
    }),
    flags: fc.array(fc.constantFrom('SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'BOGUS'), {
      maxLength: 2,
    }),
    syscalls: fc.array(
      fc.record(
        {
          names: fc.array(fc.oneof(fc.constantFrom('read', 'write', 'mkdir', 'nosuchsyscall', ''), weirdString), {
            maxLength: 3,
          }),
          action: fc.constantFrom(
            'SCMP_ACT_ALLOW',
            'SCMP_ACT_ERRNO',
            'SCMP_ACT_TRACE',
            'SCMP_ACT_KILL_PROCESS',
            'ALLOW',
          ),
          errnoRet: weirdNumber,
          args: fc.array(
            fc.record(
              {
                index: weirdNumber,
                value: weirdNumber,
                valueTwo: weirdNumber,
                op: fc.constantFrom('SCMP_CMP_EQ', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_BOGUS'),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 2 },
          ),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

/** A pointer the spec gives a meaning, with a value that may or may not make sense there. */
export const domainEdit: fc.Arbitrary<[string, Json | undefined]> = fc.oneof(
  fc.tuple(fc.constant('/linux/namespaces/-'), namespace),
  fc.tuple(
    fc.constantFrom(...CAP_SETS).map((s) => `/process/capabilities/${s}/-`),
    capName,
  ),
  fc.tuple(
    fc.constantFrom(...CAP_SETS, 'bogus', '__proto__').map((s) => `/process/capabilities/${s}`),
    fc.oneof(fc.array(capName, { maxLength: 4 }), nastyValue),
  ),
  fc.tuple(fc.constant('/process/rlimits/-'), rlimit),
  fc.tuple(fc.constant('/mounts/-'), mount),
  fc.tuple(fc.constant('/linux/devices/-'), device),
  fc.tuple(fc.constant('/linux/resources/devices/-'), deviceRule),
  fc.tuple(fc.constantFrom('/linux/uidMappings/-', '/linux/gidMappings/-', '/mounts/0/uidMappings/-'), idMapping),
  fc.tuple(
    sysctlKey.map((k) => `/linux/sysctl/${escapeToken(k)}`),
    fc.oneof(weirdString, nastyValue),
  ),
  fc.tuple(fc.constant('/linux/seccomp'), seccomp),
  fc.tuple(
    fc.constantFrom(...HOOKS, 'bogusHook').map((h) => `/hooks/${h}/-`),
    hook,
  ),
  fc.tuple(
    fc.constantFrom(
      '/process/cwd',
      '/root/path',
      '/linux/maskedPaths/-',
      '/linux/readonlyPaths/-',
      '/linux/cgroupsPath',
      '/linux/namespaces/0/path',
      '/mounts/0/destination',
      '/mounts/0/source',
    ),
    pathLike,
  ),
  fc.tuple(fc.constantFrom('/process/env/-', '/process/args/-', '/process/args/0'), weirdString),
  fc.tuple(
    fc.constantFrom(
      '/process/user/uid',
      '/process/user/gid',
      '/process/user/additionalGids/-',
      '/process/user/umask',
      '/process/oomScoreAdj',
      '/linux/resources/memory/limit',
      '/linux/resources/memory/swap',
      '/linux/resources/memory/swappiness',
      '/linux/resources/cpu/shares',
      '/linux/resources/cpu/quota',
      '/linux/resources/cpu/period',
      '/linux/resources/pids/limit',
      '/linux/resources/blockIO/weight',
      '/process/consoleSize/height',
      '/process/scheduler/nice',
      '/process/scheduler/priority',
      '/process/rlimits/0/soft',
      '/process/rlimits/0/hard',
      '/process/ioPriority/priority',
      '/linux/timeOffsets/monotonic/secs',
    ),
    weirdNumber,
  ),
  fc.tuple(
    fc.constantFrom(
      '/hostname',
      '/domainname',
      '/ociVersion',
      '/linux/rootfsPropagation',
      '/linux/mountLabel',
      '/process/apparmorProfile',
      '/process/selinuxLabel',
      '/process/scheduler/policy',
      '/linux/personality/domain',
      '/linux/resources/cpu/cpus',
    ),
    weirdString,
  ),
  fc.tuple(
    fc.constantFrom(
      '/process/terminal',
      '/process/noNewPrivileges',
      '/root/readonly',
      '/linux/resources/memory/disableOOMKiller',
    ),
    fc.oneof(fc.boolean(), nastyValue),
  ),
  fc.tuple(
    fc.constantFrom(
      '/linux/intelRdt',
      '/linux/netDevices',
      '/linux/timeOffsets',
      '/linux/personality',
      '/process/consoleSize',
      '/linux/memoryPolicy',
      '/vm',
      '/windows',
      '/solaris',
    ),
    fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>),
  ),
  fc.tuple(
    weirdString.map((k) => `/annotations/${escapeToken(k)}`),
    fc.oneof(weirdString, nastyValue),
  ),
  fc.tuple(
    fc.constantFrom(
      '/process',
      '/root',
      '/linux',
      '/mounts',
      '/hooks',
      '/process/user',
      '/process/args',
      '/linux/namespaces',
      '/linux/resources',
      '/process/capabilities',
      '/ociVersion',
    ),
    fc.constant(undefined),
  ),
);

// ---- structural mutations ----------------------------------------------------------------------

const choices = fc.array(fc.nat(), { maxLength: 8 });

export type Mutation =
  | { op: 'delete'; at: number[] }
  | { op: 'replace'; at: number[]; value: Json }
  | { op: 'retype'; at: number[]; variant: number }
  | { op: 'insert'; at: number[]; key: string; value: Json }
  | { op: 'duplicate'; at: number[]; pick: number }
  | { op: 'domain'; ptr: string; value: Json | undefined };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: choices }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('replace' as const), at: choices, value: nastyValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('retype' as const), at: choices, variant: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('insert' as const), at: choices, key: bogusKey, value: nastyValue }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: choices, pick: fc.nat() }) },
  { weight: 4, arbitrary: domainEdit.map(([ptr, value]): Mutation => ({ op: 'domain', ptr, value })) },
);

function retype(v: Json, variant: number): Json {
  const pick = <T>(options: T[]): T => options[variant % options.length] as T;
  if (typeof v === 'string') return pick<Json>([Number(v) || v.length, [v], { [v]: v }, v === '', null]);
  if (typeof v === 'number') return pick<Json>([String(v), -v - 1, [v], v !== 0, v * 2 ** 40, v + 0.5]);
  if (typeof v === 'boolean') return pick<Json>([String(v), v ? 1 : 0, [v]]);
  if (v === null) return pick<Json>([{}, [], 0, 'null']);
  if (Array.isArray(v))
    return pick<Json>([
      Object.fromEntries(v.map((x, i) => [String(i), x])) as Json,
      v[0] ?? null,
      v.length,
      JSON.stringify(v),
      [v],
    ]);
  return pick<Json>([Object.values(v), JSON.stringify(v), Object.keys(v).length, null, [v]]);
}

/** Applies `m` to `doc` (mutated in place where possible); returns the new document. */
export function applyMutation(doc: Json, m: Mutation): Json {
  switch (m.op) {
    case 'delete':
      return deleteAt(doc, walk(doc, m.at));
    case 'replace':
      return setAt(doc, walk(doc, m.at), structuredClone(m.value));
    case 'retype': {
      const at = walk(doc, m.at);
      return setAt(doc, at, retype(getAt(doc, at) ?? null, m.variant));
    }
    case 'insert': {
      const at = walk(doc, m.at);
      const target = getAt(doc, at);
      if (Array.isArray(target)) target.splice(m.key.length % (target.length + 1), 0, structuredClone(m.value));
      else if (isObject(target)) defineOwn(target, m.key, structuredClone(m.value));
      else return setAt(doc, at, { [m.key]: structuredClone(m.value) });
      return doc;
    }
    case 'duplicate': {
      // The nearest array at or above the place: repeat one of its items (namespaces, mounts ...).
      const at = walk(doc, m.at);
      for (let n = at.length; n >= 0; n--) {
        const target = getAt(doc, at.slice(0, n));
        if (Array.isArray(target) && target.length > 0) {
          const item = target[m.pick % target.length] as Json;
          target.splice(m.pick % (target.length + 1), 0, structuredClone(item));
          return doc;
        }
      }
      return doc;
    }
    case 'domain':
      return putAt(doc, m.ptr, m.value === undefined ? undefined : structuredClone(m.value));
  }
}

/** A copy of `base` with `mutations` applied in order. */
export function mutate(base: Json, mutations: readonly Mutation[]): Json {
  let doc = structuredClone(base);
  for (const m of mutations) doc = applyMutation(doc, m);
  return doc;
}

// ---- text mutations ----------------------------------------------------------------------------

const garbage: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '\u0000',
    '\ufeff',
    '\ud800',
    '}',
    ']',
    '{',
    '[',
    ',',
    ':',
    '"',
    '\\',
    'NaN',
    'Infinity',
    '-Infinity',
    '-',
    '1e400',
    '-1e400',
    '0x10',
    '01',
    '//c',
    '/*',
    "'",
    'undefined',
    'true',
    '\n',
    '\u2028',
    '\u00ff',
    ',,',
    '"\\u12"',
    '"\\ud800"',
    '1'.repeat(400),
  ),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.integer({ min: 1000, max: 100_000 }).map((n) => '['.repeat(n)),
  fc.integer({ min: 1000, max: 100_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 1000, max: 50_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
);

export type TextMutation =
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'cut'; at: number; len: number }
  | { op: 'replace'; at: number; text: string }
  | { op: 'duplicateKey'; key: string; value: string }
  | { op: 'wrap'; before: string; after: string };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: garbage }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), text: garbage }),
  fc.record({
    op: fc.constant('duplicateKey' as const),
    key: fc.constantFrom('ociVersion', 'process', 'root', 'linux', 'mounts', '__proto__'),
    value: fc.constantFrom('5', 'null', '"1.0.2"', '{}', '[]', '{"path":"rootfs"}'),
  }),
  fc.record({
    op: fc.constant('wrap' as const),
    before: fc.constantFrom('', '\ufeff', '[', ' \n', '\u0000', '{"a":'),
    after: fc.constantFrom('', ']', '}', '\u0000', ' x', '\n{}', ','),
  }),
);

export function applyTextMutation(text: string, m: TextMutation): string {
  const pos = (n: number): number => n % (text.length + 1);
  switch (m.op) {
    case 'truncate':
      return text.slice(0, pos(m.at));
    case 'insert':
      return text.slice(0, pos(m.at)) + m.text + text.slice(pos(m.at));
    case 'cut':
      return text.slice(0, pos(m.at)) + text.slice(pos(m.at) + m.len);
    case 'replace':
      return text.slice(0, pos(m.at)) + m.text + text.slice(pos(m.at) + m.text.length);
    case 'duplicateKey': {
      // Before the last "}": JSON.parse keeps the later of two equal keys, so this one wins.
      const at = text.lastIndexOf('}');
      return at < 0 ? text : `${text.slice(0, at)},"${m.key}":${m.value}${text.slice(at)}`;
    }
    case 'wrap':
      return m.before + text + m.after;
  }
}
