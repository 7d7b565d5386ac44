// config.json's linux.seccomp turned into what libseccomp compiles (native/seccomp.cc):
// numeric actions, architecture names, one rule per syscall (and per argument where runc
// splits them), whether runc's -ENOSYS stub goes before the filter and the names it counts
// as known; runc's refusals of SCMP_ACT_NOTIFY. Also what `features` reports.
import { ConfigError, type Problem } from '../errors';
import type { Seccomp } from '../spec/types';

const EPERM = 1;
const ENOSYS = 38;
const SCMP_ACT_ERRNO = 0x00050000;
const SCMP_ACT_TRACE = 0x7ff00000;
const SCMP_ACT_LOG = 0x7ffc0000;
const SCMP_ACT_ALLOW = 0x7fff0000;
const SCMP_ACT_NOTIFY = 0x7fc00000;
/** seccomp(2): return a notification listener fd. */
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
];
export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
];
export const SECCOMP_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};
export const SECCOMP_ARCHS = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_RISCV64',
];

export interface SeccompRule {
  name: string;
  action: number;
  /** [index, op, value, valueTwo] */
  args: [number, number, bigint, bigint][];
}

export interface SeccompProgramInput {
  defaultAction: number;
  archs: string[];
  rules: SeccompRule[];
  /** seccomp(2) flags for loading the program. */
  loadFlags: number;
  /** Some action is SCMP_ACT_NOTIFY: the listener fd goes to listenerPath. */
  notify: boolean;
  /** Prefix libseccomp's program with the -ENOSYS stub (see enosysStubWanted). */
  enosysStub: boolean;
  /** Every syscall name the profile lists, whatever its action: the stub's "known" syscalls. */
  names: string[];
}

/**
 * Whether the program gets runc's -ENOSYS stub: syscall numbers above the highest the profile
 * names (per architecture) answer ENOSYS instead of the default action, so that programs newer
 * than the profile fall back (glibc from clone3 to clone, for one) instead of failing on EPERM.
 * As runc, not when the default action lets the call through (ALLOW, LOG, and TRACE: a tracer
 * is expected to handle new syscalls); and not when the default action already answers ENOSYS,
 * where the stub would change nothing.
 */
export function enosysStubWanted(defaultAction: number): boolean {
  const kind = (defaultAction & 0xffff0000) >>> 0;
  if (kind === SCMP_ACT_ALLOW || kind === SCMP_ACT_LOG || kind === SCMP_ACT_TRACE) return false;
  return defaultAction !== (SCMP_ACT_ERRNO | ENOSYS);
}

function action(name: string, errnoRet: number | undefined, at: string, problems: Problem[]): number {
  switch (name) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return 0x00000000;
    case 'SCMP_ACT_KILL_PROCESS':
      return 0x80000000;
    case 'SCMP_ACT_TRAP':
      return 0x00030000;
    case 'SCMP_ACT_ERRNO':
      return (0x00050000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (0x7ff00000 | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return 0x7fff0000;
    case 'SCMP_ACT_LOG':
      return 0x7ffc0000;
    case 'SCMP_ACT_NOTIFY':
      return SCMP_ACT_NOTIFY;
    default:
      problems.push({ pointer: at, message: `unknown seccomp action ${name}` });
      return 0;
  }
}

const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

/** Normalises linux.seccomp; throws ConfigError with pointers for what cannot be done. */
export function seccompInput(seccomp: Seccomp): SeccompProgramInput {
  const problems: Problem[] = [];
  const base = '/linux/seccomp';
  const defaultAction = action(seccomp.defaultAction, seccomp.defaultErrnoRet, `${base}/defaultAction`, problems);
  // runc refuses these two, with these words (its init writes the listener's number to its
  // parent after loading the filter: a notified write would hang it, and a notified default
  // action may mean a notified write). tsrunc refuses the same, so that a profile is accepted
  // or refused alike by both: runc's list has no other syscall.
  if (defaultAction === SCMP_ACT_NOTIFY)
    problems.push({ pointer: `${base}/defaultAction`, message: 'SCMP_ACT_NOTIFY cannot be used as default action' });
  const archs = (seccomp.architectures ?? []).map((a) => a.replace(/^SCMP_ARCH_/, '').toLowerCase());
  let loadFlags = 0;
  (seccomp.flags ?? []).forEach((f, i) => {
    const bit = SECCOMP_FLAGS[f];
    if (bit === undefined) problems.push({ pointer: `${base}/flags/${i}`, message: `unsupported seccomp flag ${f}` });
    else loadFlags |= bit;
  });
  const rules: SeccompRule[] = [];
  const names: string[] = [];
  (seccomp.syscalls ?? []).forEach((sc, i) => {
    const at = `${base}/syscalls/${i}`;
    const act = action(sc.action, sc.errnoRet, `${at}/action`, problems);
    names.push(...sc.names);
    if (act === SCMP_ACT_NOTIFY) {
      sc.names.forEach((name, j) => {
        if (name === 'write')
          problems.push({
            pointer: `${at}/names/${j}`,
            message: 'SCMP_ACT_NOTIFY cannot be used for the write syscall',
          });
      });
    }
    // libseccomp refuses a rule whose action is the default one; runc skips them too.
    if (act === defaultAction) return;
    const args = (sc.args ?? []).map((a, j): [number, number, bigint, bigint] => {
      const op = OPS[a.op];
      if (op === undefined) problems.push({ pointer: `${at}/args/${j}/op`, message: `unknown operator ${a.op}` });
      return [a.index, op ?? 0, BigInt(a.value), BigInt(a.valueTwo ?? 0)];
    });
    // Conditions on distinct arguments are ANDed in one rule; several on the same argument
    // can only be expressed as one rule each (ORed), as runc does.
    const distinct = new Set(args.map((a) => a[0])).size === args.length;
    for (const name of sc.names) {
      if (distinct) rules.push({ name, action: act, args });
      else for (const a of args) rules.push({ name, action: act, args: [a] });
    }
  });
  const notify = defaultAction === SCMP_ACT_NOTIFY || rules.some((r) => r.action === SCMP_ACT_NOTIFY);
  if (notify) {
    loadFlags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (!seccomp.listenerPath)
      problems.push({ pointer: `${base}/listenerPath`, message: 'is required when an action is SCMP_ACT_NOTIFY' });
  }
  if (problems.length > 0) throw new ConfigError('config.json', problems);
  return {
    defaultAction,
    archs,
    rules,
    loadFlags,
    notify,
    enosysStub: enosysStubWanted(defaultAction),
    names: [...new Set(names)],
  };
}
