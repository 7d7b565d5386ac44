// Lowers plan steps to the executor's instruction form: {op, s: strings, n: numbers}, and
// encodes a whole plan in the bytes tsrunc-init reads. The opcode numbers, argument layouts and
// the byte layout are those of native/ops.h (test/unit/wire.test.ts checks that they agree).
import * as path from 'node:path';
import { TsruncError } from '../errors';
import { NAMESPACES, capabilityNumber } from '../spec/linux-names';
import { idMapText } from '../spec/mounts';
import { describeStep, type Plan, type PlanStep, type StepIdmap, type StepOp } from './steps';

export const OPCODES: Record<StepOp, number> = {
  sync: 1,
  setns: 2,
  unshare: 3,
  'write-file': 4,
  fork: 5,
  'become-root': 6,
  'root-propagation': 7,
  'bind-rootfs': 8,
  mount: 9,
  mkdir: 10,
  mknod: 11,
  'bind-device': 12,
  symlink: 13,
  'pivot-root': 14,
  'move-root': 15,
  chroot: 16,
  'mask-path': 17,
  'readonly-path': 18,
  'remount-root-ro': 19,
  sethostname: 20,
  setdomainname: 21,
  console: 22,
  setsid: 23,
  rlimit: 24,
  chdir: 25,
  umask: 26,
  user: 27,
  caps: 28,
  'no-new-privs': 29,
  hook: 30,
  'find-exec': 31,
  ready: 32,
  'wait-start': 33,
  exec: 34,
  'close-fds': 35,
  dumpable: 36,
  personality: 37,
  scheduler: 38,
  ioprio: 39,
  'session-keyring': 40,
  seccomp: 41,
  'open-proc': 42,
  'console-attach': 43,
  home: 44,
  'open-tree': 45,
  'detach-host-mount': 46,
  'cpu-affinity': 47,
  'memory-policy': 48,
  'net-device': 49,
  'net-device-return': 50,
  'loopback-up': 51,
  'reopen-dev-null': 52,
};

/** A step as the addon reads it; null in `s` separates lists (argv from env). */
export interface WireStep {
  op: number;
  s: (string | null)[];
  n: number[];
  /** Binary payload (a BPF program). */
  b?: Buffer;
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

function capMask(names: string[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const name of names) {
    const bit = capabilityNumber(name);
    if (bit === undefined) continue; // unknown names were warned about at validation
    if (bit < 32) lo = (lo | (1 << bit)) >>> 0;
    else hi = (hi | (1 << (bit - 32))) >>> 0;
  }
  return [lo, hi];
}

/**
 * Each opcode's arguments by name, in order: its strings (s) and its numbers (n). A step may carry
 * a list after them (a hook's and exec's argv and env, separated by a null; mount's propagation
 * flags; user's additional gids). native/ops.h names the same positions (OP_S_FIELD, OP_N_FIELD),
 * and the executor reads them by those names; test/unit/wire.test.ts fails when the two differ.
 */
export const FIELDS = {
  sync: { s: ['tag'], n: [] },
  setns: { s: ['path'], n: ['nstype', 'fd_slot'] },
  unshare: { s: [], n: ['flags'] },
  'write-file': { s: ['path', 'content'], n: [] },
  fork: { s: [], n: [] },
  'become-root': { s: [], n: [] },
  'root-propagation': { s: ['path'], n: ['flags'] },
  'bind-rootfs': { s: ['rootfs'], n: [] },
  mount: {
    s: ['source', 'destination', 'fstype', 'data', 'label'],
    n: ['flags', 'bind', 'attr_set', 'attr_clear', 'dest_kind', 'real_dir', 'copy_up', 'keep_mode', 'tree', 'idmap'],
  },
  mkdir: { s: ['path'], n: ['mode'] },
  mknod: { s: ['path'], n: ['mode', 'major', 'minor', 'uid', 'gid'] },
  'bind-device': { s: ['path', 'host_path'], n: [] },
  symlink: { s: ['target', 'path'], n: [] },
  'pivot-root': { s: [], n: [] },
  'move-root': { s: [], n: [] },
  chroot: { s: ['rootfs'], n: [] },
  'mask-path': { s: ['path', 'label'], n: [] },
  'readonly-path': { s: ['path'], n: ['in_place'] },
  'remount-root-ro': { s: [], n: [] },
  sethostname: { s: ['name'], n: [] },
  setdomainname: { s: ['name'], n: [] },
  console: { s: [], n: ['socket_slot', 'rows', 'cols', 'bind_console', 'uid', 'attach_later'] },
  setsid: { s: [], n: [] },
  rlimit: { s: [], n: ['resource', 'soft', 'hard'] },
  chdir: { s: ['path'], n: ['phase'] },
  umask: { s: [], n: ['mask'] },
  user: { s: [], n: ['uid', 'gid'] },
  caps: {
    s: [],
    n: [
      'bounding_lo',
      'bounding_hi',
      'effective_lo',
      'effective_hi',
      'permitted_lo',
      'permitted_hi',
      'inheritable_lo',
      'inheritable_hi',
      'ambient_lo',
      'ambient_hi',
      'phase',
      'last_cap',
    ],
  },
  'no-new-privs': { s: [], n: [] },
  hook: { s: ['kind', 'path'], n: ['argc', 'envc', 'timeout', 'state_index', 'in_rootfs', 'index'] },
  'find-exec': { s: ['name', 'search_path'], n: [] },
  ready: { s: [], n: ['until_exec'] },
  'wait-start': { s: [], n: ['fifo_slot'] },
  exec: { s: [], n: ['argc'] },
  'close-fds': { s: [], n: ['from'] },
  dumpable: { s: [], n: ['on'] },
  personality: { s: [], n: ['persona'] },
  scheduler: { s: [], n: ['policy', 'priority', 'nice', 'flags', 'runtime', 'deadline', 'period'] },
  ioprio: { s: [], n: ['value'] },
  'session-keyring': { s: ['name'], n: [] },
  seccomp: { s: [], n: ['flags'] },
  'open-proc': { s: [], n: [] },
  'console-attach': { s: [], n: [] },
  home: { s: [], n: ['uid'] },
  'open-tree': {
    s: ['source', 'root', 'uid_map', 'gid_map'],
    n: ['index', 'flags', 'attr_set', 'attr_clear', 'idmap'],
  },
  'detach-host-mount': { s: ['path'], n: [] },
  'cpu-affinity': { s: [], n: [] },
  'memory-policy': { s: [], n: ['mode'] },
  'loopback-up': { s: [], n: [] },
  'reopen-dev-null': { s: [], n: [] },
  'net-device': { s: ['name'], n: ['index'] },
  'net-device-return': { s: ['name', 'host_name'], n: ['index', 'ns_slot'] },
} as const satisfies Record<StepOp, { s: readonly string[]; n: readonly string[] }>;

type Fields = typeof FIELDS;
type StringsOf<O extends StepOp> = { [K in Fields[O]['s'][number]]: string };
type NumbersOf<O extends StepOp> = { [K in Fields[O]['n'][number]]: number };

/** A step in the executor's form, from its arguments by name (and the list that follows them). */
function named<O extends StepOp>(
  op: O,
  s: StringsOf<O>,
  n: NumbersOf<O>,
  rest: { s?: (string | null)[]; n?: number[]; b?: Buffer } = {},
): WireStep {
  const f: { s: readonly string[]; n: readonly string[] } = FIELDS[op];
  const strings = s as Record<string, string>;
  const numbers = n as Record<string, number>;
  const out: WireStep = {
    op: OPCODES[op],
    s: [...f.s.map((k) => strings[k] as string), ...(rest.s ?? [])],
    n: [...f.n.map((k) => numbers[k] as number), ...(rest.n ?? [])],
  };
  if (rest.b !== undefined) out.b = rest.b;
  return out;
}

const NONE = {} as const;

/** native/ops.h IDMAP_*: none, the top mount, every mount of the tree. */
function idmapMode(idmap: StepIdmap | undefined): number {
  return idmap === undefined ? 0 : idmap.recursive ? 2 : 1;
}

export function lowerStep(step: PlanStep): WireStep {
  switch (step.op) {
    case 'sync':
      return named(step.op, { tag: step.tag }, NONE);
    case 'setns':
      return named(step.op, { path: step.path }, { nstype: NAMESPACES[step.ns].flag, fd_slot: step.fdSlot ?? -1 });
    case 'unshare':
      return named(step.op, NONE, { flags: step.namespaces.reduce((f, ns) => f | NAMESPACES[ns].flag, 0) });
    case 'write-file':
      return named(step.op, { path: step.path, content: step.content }, NONE);
    case 'root-propagation':
      return named(step.op, { path: step.path ?? '/' }, { flags: step.flags });
    case 'bind-rootfs':
    case 'chroot':
      return named(step.op, { rootfs: step.rootfs }, NONE);
    case 'mount':
      // (an idmapped mount without its tree would be cloned at mount time, without the mapping)
      if (step.idmap !== undefined && step.tree === undefined)
        throw new TsruncError('config', `${describeStep(step)}: an idmapped mount without the tree opened for it`, {
          step: step.op,
        });
      return named(
        step.op,
        {
          source: step.source,
          destination: step.destination,
          fstype: step.fstype,
          data: step.data,
          label: step.label ?? '',
        },
        {
          flags: step.flags,
          bind: step.bind ? 1 : 0,
          attr_set: step.attrSet,
          attr_clear: step.attrClear,
          dest_kind: step.destKind === 'file' ? 1 : 0,
          real_dir: step.realDir ? 1 : 0,
          copy_up: step.copyUp === true ? 1 : 0,
          keep_mode: step.keepMode === true ? 1 : 0,
          tree: step.tree ?? -1,
          idmap: idmapMode(step.idmap),
        },
        { n: step.propagation },
      );
    case 'open-tree':
      return named(
        step.op,
        {
          // (a source inside the rootfs: its path there, resolved by the init as if the rootfs were /)
          source: step.inRootfs === undefined ? step.source : path.posix.relative(step.inRootfs, step.source) || '.',
          root: step.inRootfs ?? '',
          uid_map: idMapText(step.idmap?.uidMappings ?? []),
          gid_map: idMapText(step.idmap?.gidMappings ?? []),
        },
        {
          index: step.index,
          flags: step.flags,
          attr_set: step.attrSet,
          attr_clear: step.attrClear,
          idmap: idmapMode(step.idmap),
        },
      );
    case 'cpu-affinity':
      return named(step.op, NONE, NONE, { n: step.cpus });
    case 'memory-policy':
      return named(step.op, NONE, { mode: step.value }, { n: step.nodes });
    case 'net-device':
      return named(step.op, { name: step.name }, { index: step.index }, { s: step.addresses });
    case 'net-device-return':
      return named(step.op, { name: step.name, host_name: step.hostName }, { index: step.index, ns_slot: step.nsSlot });
    case 'detach-host-mount':
      return named(step.op, { path: step.path }, NONE);
    case 'mask-path':
      return named(step.op, { path: step.path, label: step.label ?? '' }, NONE);
    case 'mkdir':
      return named(step.op, { path: step.path }, { mode: step.mode });
    case 'mknod': {
      const type = step.type === 'c' ? S_IFCHR : step.type === 'b' ? S_IFBLK : S_IFIFO;
      return named(
        step.op,
        { path: step.path },
        { mode: type | (step.mode & 0o7777), major: step.major, minor: step.minor, uid: step.uid, gid: step.gid },
      );
    }
    case 'bind-device':
      return named(step.op, { path: step.path, host_path: step.hostPath }, NONE);
    case 'symlink':
      return named(step.op, { target: step.target, path: step.path }, NONE);
    case 'readonly-path':
      return named(step.op, { path: step.path }, { in_place: step.inPlace ? 1 : 0 });
    case 'chdir':
      return named(step.op, { path: step.path }, { phase: step.phase === 'as-root' ? 1 : 2 });
    case 'home':
      return named(step.op, NONE, { uid: step.uid });
    case 'sethostname':
    case 'setdomainname':
    case 'session-keyring':
      return named(step.op, { name: step.name }, NONE);
    case 'console':
      return named(step.op, NONE, {
        socket_slot: step.socketSlot,
        rows: step.rows,
        cols: step.cols,
        bind_console: step.bindConsole ? 1 : 0,
        uid: step.uid,
        attach_later: step.attachLater ? 1 : 0,
      });
    case 'rlimit':
      return named(step.op, NONE, { resource: step.resource, soft: step.soft, hard: step.hard });
    case 'umask':
      return named(step.op, NONE, { mask: step.mask });
    case 'user':
      return named(step.op, NONE, { uid: step.uid, gid: step.gid }, { n: step.additionalGids });
    case 'caps': {
      const [boundingLo, boundingHi] = capMask(step.bounding);
      const [effectiveLo, effectiveHi] = capMask(step.effective);
      const [permittedLo, permittedHi] = capMask(step.permitted);
      const [inheritableLo, inheritableHi] = capMask(step.inheritable);
      const [ambientLo, ambientHi] = capMask(step.ambient);
      return named(step.op, NONE, {
        bounding_lo: boundingLo,
        bounding_hi: boundingHi,
        effective_lo: effectiveLo,
        effective_hi: effectiveHi,
        permitted_lo: permittedLo,
        permitted_hi: permittedHi,
        inheritable_lo: inheritableLo,
        inheritable_hi: inheritableHi,
        ambient_lo: ambientLo,
        ambient_hi: ambientHi,
        phase: step.phase === 'bounding' ? 1 : 2,
        last_cap: step.lastCap,
      });
    }
    case 'hook': {
      const argv = step.args.length > 0 ? step.args : [step.path];
      return named(
        step.op,
        { kind: step.hook, path: step.path },
        {
          argc: argv.length,
          envc: step.env.length,
          timeout: step.timeout,
          state_index: step.stateIndex,
          in_rootfs: step.inRootfs === true ? 1 : 0,
          index: step.index,
        },
        { s: [...argv, null, ...step.env] },
      );
    }
    case 'find-exec':
      return named(step.op, { name: step.name, search_path: step.searchPath }, NONE);
    case 'wait-start':
      return named(step.op, NONE, { fifo_slot: step.fifoSlot });
    case 'exec':
      return named(step.op, NONE, { argc: step.args.length }, { s: [...step.args, null, ...step.env] });
    case 'close-fds':
      return named(step.op, NONE, { from: step.from });
    case 'dumpable':
      return named(step.op, NONE, { on: step.on ? 1 : 0 });
    case 'personality':
      return named(step.op, NONE, { persona: step.persona });
    case 'scheduler':
      return named(step.op, NONE, {
        policy: step.policyValue,
        priority: step.priority,
        nice: step.nice,
        flags: step.flags,
        runtime: step.runtime,
        deadline: step.deadline,
        period: step.period,
      });
    case 'ioprio':
      return named(step.op, NONE, { value: step.value });
    case 'seccomp':
      return named(step.op, NONE, { flags: step.flags }, { b: step.program });
    case 'ready':
      return named(step.op, NONE, { until_exec: step.untilExec === true ? 1 : 0 });
    case 'fork':
    case 'become-root':
    case 'pivot-root':
    case 'move-root':
    case 'remount-root-ro':
    case 'setsid':
    case 'no-new-privs':
    case 'open-proc':
    case 'console-attach':
    case 'loopback-up':
    case 'reopen-dev-null':
      return named(step.op, NONE, NONE);
  }
}

/** native/ops.h: PLAN_MAGIC, PLAN_VERSION, PLAN_NULL_STRING. */
export const PLAN_MAGIC = 'TSRUNCPL';
export const PLAN_VERSION = 3;
const NULL_STRING = 0xffffffff;

/**
 * The plan as tsrunc-init reads it from its plan fd. Fails closed on what C would read
 * differently from what TypeScript checked: a string with a NUL (C would cut it there) or a
 * number that is not an exact integer (C would truncate or wrap it).
 */
export function encodePlan(plan: Plan): Buffer {
  const chunks: Buffer[] = [];
  const u32 = (v: number): void => {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v);
    chunks.push(b);
  };
  chunks.push(Buffer.from(PLAN_MAGIC, 'latin1'));
  u32(PLAN_VERSION);
  u32(3 + plan.preserveFds);
  u32(plan.fds.length);
  u32(plan.steps.length);
  plan.steps.forEach((step, index) => {
    const wire = lowerStep(step);
    const bad = (what: string): TsruncError =>
      new TsruncError('config', `plan step ${index + 1} (${describeStep(step)}): ${what}`, { step: step.op });
    const strings = wire.s.map((str) => {
      if (str === null) return null;
      if (str.includes('\0')) throw bad(`${JSON.stringify(str)} contains a NUL character`);
      return Buffer.from(str, 'utf8');
    });
    for (const n of wire.n) if (!Number.isSafeInteger(n)) throw bad(`the number ${n} is not an exact integer`);
    const blob = wire.b ?? Buffer.alloc(0);
    u32(wire.op);
    u32(strings.length);
    u32(wire.n.length);
    u32(blob.length);
    for (const str of strings) {
      if (str === null) u32(NULL_STRING);
      else {
        u32(str.length);
        chunks.push(str);
      }
    }
    if (wire.n.length > 0) {
      const nums = Buffer.allocUnsafe(8 * wire.n.length);
      wire.n.forEach((n, i) => nums.writeBigInt64LE(BigInt(n), 8 * i));
      chunks.push(nums);
    }
    chunks.push(blob);
  });
  return Buffer.concat(chunks);
}
