// Lowers plan steps to the executor's instruction form: {op, s: strings, n: numbers}, and
// encodes a whole plan in the bytes tsrunc-init reads. The opcode numbers, argument layouts and
// the byte layout are those of native/ops.h (test/unit/wire.test.ts checks that they agree).
import { TsruncError } from '../errors';
import { NAMESPACES, capabilityNumber } from '../spec/linux-names';
import { describeStep, type Plan, type PlanStep, type StepOp } from './steps';

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

export function lowerStep(step: PlanStep): WireStep {
  const op = OPCODES[step.op];
  const w = (s: (string | null)[], n: number[]): WireStep => ({ op, s, n });
  switch (step.op) {
    case 'sync':
      return w([step.tag], []);
    case 'setns':
      return w([step.path], [NAMESPACES[step.ns].flag, step.fdSlot ?? -1]);
    case 'unshare':
      return w([], [step.namespaces.reduce((f, ns) => f | NAMESPACES[ns].flag, 0)]);
    case 'write-file':
      return w([step.path, step.content], []);
    case 'root-propagation':
      return w(step.path === undefined ? [] : [step.path], [step.flags]);
    case 'bind-rootfs':
    case 'chroot':
      return w([step.rootfs], []);
    case 'mount':
      return w(
        [step.source, step.destination, step.fstype, step.data],
        [step.flags, step.bind ? 1 : 0, step.attrSet, step.attrClear, step.destKind === 'file' ? 1 : 0, step.realDir ? 1 : 0, step.copyUp === true ? 1 : 0, step.keepMode === true ? 1 : 0, step.tree ?? -1, ...step.propagation],
      );
    case 'open-tree':
      return w([step.source], [step.index, step.flags, step.attrSet, step.attrClear]);
    case 'detach-host-mount':
      return w([step.path], []);
    case 'mkdir':
      return w([step.path], [step.mode]);
    case 'mknod': {
      const type = step.type === 'c' ? S_IFCHR : step.type === 'b' ? S_IFBLK : S_IFIFO;
      return w([step.path], [type | (step.mode & 0o7777), step.major, step.minor, step.uid, step.gid]);
    }
    case 'bind-device':
      return w([step.path, step.hostPath], []);
    case 'symlink':
      return w([step.target, step.path], []);
    case 'readonly-path':
      return w([step.path], [step.inPlace ? 1 : 0]);
    case 'mask-path':
      return w([step.path], []);
    case 'chdir':
      return w([step.path], [step.phase === 'as-root' ? 1 : 2]);
    case 'home':
      return w([], [step.uid]);
    case 'sethostname':
    case 'setdomainname':
    case 'session-keyring':
      return w([step.name], []);
    case 'console':
      return w([], [step.socketSlot, step.rows, step.cols, step.bindConsole ? 1 : 0, step.uid, step.attachLater ? 1 : 0]);
    case 'rlimit':
      return w([], [step.resource, step.soft, step.hard]);
    case 'umask':
      return w([], [step.mask]);
    case 'user':
      return w([], [step.uid, step.gid, ...step.additionalGids]);
    case 'caps':
      return w([], [...capMask(step.bounding), ...capMask(step.effective), ...capMask(step.permitted), ...capMask(step.inheritable), ...capMask(step.ambient), step.phase === 'bounding' ? 1 : 2, step.lastCap]);
    case 'hook':
      return w([step.hook, step.path, ...(step.args.length > 0 ? step.args : [step.path]), null, ...step.env], [step.args.length > 0 ? step.args.length : 1, step.env.length, step.timeout, step.stateIndex, step.inRootfs === true ? 1 : 0, step.index]);
    case 'find-exec':
      return w([step.name, step.searchPath], []);
    case 'wait-start':
      return w([], [step.fifoSlot]);
    case 'exec':
      return w([...step.args, null, ...step.env], [step.args.length]);
    case 'close-fds':
      return w([], [step.from]);
    case 'dumpable':
      return w([], [step.on ? 1 : 0]);
    case 'personality':
      return w([], [step.persona]);
    case 'scheduler':
      return w([], [step.policyValue, step.priority, step.nice, step.flags, step.runtime, step.deadline, step.period]);
    case 'ioprio':
      return w([], [step.value]);
    case 'seccomp':
      return { op, s: [], n: [step.flags], b: step.program };
    case 'ready':
      return w([], step.untilExec === true ? [1] : []);
    case 'fork':
    case 'become-root':
    case 'pivot-root':
    case 'move-root':
    case 'remount-root-ro':
    case 'setsid':
    case 'no-new-privs':
    case 'open-proc':
    case 'console-attach':
      return w([], []);
  }
}

/** native/ops.h: PLAN_MAGIC, PLAN_VERSION, PLAN_NULL_STRING. */
export const PLAN_MAGIC = 'TSRUNCPL';
export const PLAN_VERSION = 2;
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
    const bad = (what: string): TsruncError => new TsruncError('config', `plan step ${index + 1} (${describeStep(step)}): ${what}`, { step: step.op });
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
