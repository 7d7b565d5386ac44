// The steps that turn the executor's child into the configured process — limits, scheduling,
// labels, privileges, user, directory, the executable lookup — shared by the container's
// init (create) and by processes joined to a running container (exec).
import { ConfigError, type Problem } from '../errors';
import { seccompInput } from '../seccomp/profile';
import { RLIMITS } from '../spec/linux-names';
import type { Process, Spec } from '../spec/types';
import type { ProcessHostFacts } from './host-facts';
import type { FdRole, PlanStep } from './steps';
import { parseCpuList } from '../spec/cpu-list';

/** glibc's cpu_set_t: CPUs 0..1023 (tsrunc-init's sched_setaffinity takes that). */
export const CPU_SETSIZE = 1024;

const SCHED_POLICIES: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const PERSONALITIES: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };
/** set_mempolicy's modes and mode flags (linux/mempolicy.h), as runtime-spec 1.3 names them. */
export const MEMORY_POLICY_MODES: Record<string, number> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};
export const MEMORY_POLICY_FLAGS: Record<string, number> = {
  MPOL_F_NUMA_BALANCING: 1 << 13,
  MPOL_F_RELATIVE_NODES: 1 << 14,
  MPOL_F_STATIC_NODES: 1 << 15,
};
/** The kernel's largest node number (MAX_NUMNODES with NODES_SHIFT 10). */
const MAX_NODE = 1023;
/** The kernel's limit on a seccomp program (linux/bpf_common.h). */
const BPF_MAXINSNS = 4096;
const RLIM_INFINITY_THRESHOLD = 2 ** 63;

export interface ProcessStepOptions {
  /** Where the process's fields live in the input, for error pointers ("/process" or ""). */
  pointer: string;
  preserveFds: number;
  /** create: a new session keyring named after the container (unless --no-new-keyring). */
  sessionKeyring?: string;
  /** create: the umask defaults to 0022 as with runc; exec keeps the runtime's unless set. */
  defaultUmask?: number;
}

export interface ProcessSteps {
  steps: PlanStep[];
  problems: Problem[];
  /** With no_new_privs the filter goes in last, right before execve (the caller places it). */
  lateSeccomp?: PlanStep;
}

type SeccompStep = Extract<PlanStep, { op: 'seccomp' }>;

/** linux.seccomp compiled by the runtime (the child only loads the program); undefined when there is none or it is refused. */
function seccompStep(spec: Spec, problems: Problem[], host: ProcessHostFacts): SeccompStep | undefined {
  const profile = spec.linux?.seccomp;
  if (profile === undefined) return undefined;
  let input;
  try {
    input = seccompInput(profile);
  } catch (err) {
    if (err instanceof ConfigError) {
      problems.push(...err.problems);
      return undefined;
    }
    throw err;
  }
  const { program, skipped } = host.compileSeccomp(input);
  const instructions = program.length / 8;
  if (instructions > BPF_MAXINSNS) {
    problems.push({
      pointer: '/linux/seccomp',
      message: `compiles to ${instructions} BPF instructions, more than the kernel loads (${BPF_MAXINSNS})`,
    });
    return undefined;
  }
  return { op: 'seccomp', program, flags: input.loadFlags, rules: input.rules.length, skipped, notify: input.notify };
}

/**
 * The console of a process with `terminal: true`: its pty master goes to the console socket,
 * so a process without one in `fds` is refused, by create and exec alike (at `pointer`).
 */
export function consoleStep(
  proc: Process,
  fds: readonly FdRole[],
  pointer: string,
  how: { bindConsole: boolean; attachLater: boolean },
): Extract<PlanStep, { op: 'console' }> | Problem {
  const socketSlot = fds.indexOf('console-socket');
  if (socketSlot < 0) return { pointer, message: 'a terminal needs --console-socket (to receive the pty master)' };
  return {
    op: 'console',
    socketSlot,
    rows: proc.consoleSize?.height ?? 0,
    cols: proc.consoleSize?.width ?? 0,
    bindConsole: how.bindConsole,
    uid: proc.user.uid,
    attachLater: how.attachLater,
  };
}

/** linux.memoryPolicy as a step, with runc's rules on how many nodes a mode takes; undefined after a problem. */
function memoryPolicyStep(
  mpol: NonNullable<NonNullable<Spec['linux']>['memoryPolicy']>,
  problems: Problem[],
): PlanStep | undefined {
  const at = '/linux/memoryPolicy';
  const mode = MEMORY_POLICY_MODES[mpol.mode];
  if (mode === undefined) {
    problems.push({ pointer: `${at}/mode`, message: `invalid memory policy mode ${JSON.stringify(mpol.mode)}` });
    return undefined;
  }
  let value = mode;
  const flags = mpol.flags ?? [];
  for (const [i, flag] of flags.entries()) {
    const bit = MEMORY_POLICY_FLAGS[flag];
    if (bit === undefined) {
      problems.push({ pointer: `${at}/flags/${i}`, message: `invalid memory policy flag ${JSON.stringify(flag)}` });
      return undefined;
    }
    value |= bit;
  }
  let nodes: number[];
  try {
    nodes = [...new Set(parseCpuList(mpol.nodes ?? '', MAX_NODE, 'node'))].sort((a, b) => a - b);
  } catch (err) {
    problems.push({
      pointer: `${at}/nodes`,
      message: `invalid memory policy nodes ${JSON.stringify(mpol.nodes)}: ${(err as Error).message}`,
    });
    return undefined;
  }
  if ((mpol.mode === 'MPOL_DEFAULT' || mpol.mode === 'MPOL_LOCAL') && nodes.length > 0) {
    problems.push({
      pointer: `${at}/nodes`,
      message: `memory policy mode ${mpol.mode} requires 0 nodes but got ${nodes.length}`,
    });
    return undefined;
  }
  if (
    mpol.mode !== 'MPOL_PREFERRED' &&
    mpol.mode !== 'MPOL_DEFAULT' &&
    mpol.mode !== 'MPOL_LOCAL' &&
    nodes.length === 0
  ) {
    problems.push({
      pointer: `${at}/nodes`,
      message: `memory policy mode ${mpol.mode} requires at least one node but got 0`,
    });
    return undefined;
  }
  return { op: 'memory-policy', mode: mpol.mode, flags, value, nodes };
}

export function processSteps(
  proc: Process,
  spec: Spec,
  opts: ProcessStepOptions,
  host: ProcessHostFacts,
): ProcessSteps {
  const steps: PlanStep[] = [];
  const problems: Problem[] = [];
  const at = opts.pointer;
  for (const r of proc.rlimits ?? []) {
    const resource = RLIMITS[r.type];
    if (resource === undefined) continue;
    steps.push({ op: 'rlimit', name: r.type, resource, soft: limit(r.soft), hard: limit(r.hard) });
  }
  if (proc.oomScoreAdj !== undefined) {
    steps.push({
      op: 'write-file',
      path: '/proc/self/oom_score_adj',
      content: String(proc.oomScoreAdj),
      what: 'setting oom_score_adj',
    });
  }
  const pers = spec.linux?.personality;
  if (pers !== undefined) {
    const persona = PERSONALITIES[pers.domain];
    if (persona === undefined)
      problems.push({ pointer: '/linux/personality/domain', message: `unsupported personality ${pers.domain}` });
    else steps.push({ op: 'personality', persona, domain: pers.domain });
  }
  // After the personality, as runc: the init's and every exec'd process's.
  const mpol = spec.linux?.memoryPolicy;
  if (mpol !== undefined) {
    const step = memoryPolicyStep(mpol, problems);
    if (step !== undefined) steps.push(step);
  }
  const sched = proc.scheduler;
  if (sched !== undefined) {
    const flags = (sched.flags ?? []).reduce((f, name) => f | (SCHED_FLAGS[name] ?? 0), 0);
    steps.push({
      op: 'scheduler',
      policy: sched.policy,
      policyValue: SCHED_POLICIES[sched.policy] ?? 0,
      priority: sched.priority ?? 0,
      nice: sched.nice ?? 0,
      flags,
      runtime: sched.runtime ?? 0,
      deadline: sched.deadline ?? 0,
      period: sched.period ?? 0,
    });
  }
  const io = proc.ioPriority;
  if (io !== undefined) {
    const cls = IOPRIO_CLASSES[io.class] ?? 0;
    steps.push({ op: 'ioprio', class: io.class, priority: io.priority, value: (cls << 13) | io.priority });
  }
  if (proc.apparmorProfile) {
    if (!host.apparmor)
      problems.push({ pointer: `${at}/apparmorProfile`, message: 'AppArmor is not enabled on this host' });
    else
      steps.push({
        op: 'write-file',
        path: '/proc/self/attr/apparmor/exec',
        content: `exec ${proc.apparmorProfile}`,
        what: 'setting the AppArmor profile',
      });
  }
  if (proc.selinuxLabel) {
    if (!host.selinux) problems.push({ pointer: `${at}/selinuxLabel`, message: 'SELinux is not enabled on this host' });
    else
      steps.push({
        op: 'write-file',
        path: '/proc/self/attr/exec',
        content: proc.selinuxLabel,
        what: 'setting the SELinux label',
      });
  }
  // (execCPUAffinity is for exec'd processes only, not the init: checked here, applied by the exec plan)
  for (const when of ['initial', 'final'] as const) {
    const list = proc.execCPUAffinity?.[when];
    if (list === undefined || list === '') continue;
    try {
      if (parseCpuList(list, CPU_SETSIZE - 1).length === 0) throw new Error(`no CPU in ${JSON.stringify(list)}`);
    } catch (err) {
      problems.push({ pointer: `${at}/execCPUAffinity/${when}`, message: (err as Error).message });
    }
  }
  if (opts.sessionKeyring !== undefined) steps.push({ op: 'session-keyring', name: opts.sessionKeyring });
  if (proc.noNewPrivileges === true) steps.push({ op: 'no-new-privs' });
  steps.push({ op: 'close-fds', from: 3 + opts.preserveFds });
  // As runc: without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it goes in
  // before the capabilities and the uid change; with it, as late as possible.
  const seccomp = seccompStep(spec, problems, host);
  if (seccomp !== undefined && proc.noNewPrivileges !== true) steps.push(seccomp);
  // As runc, the working directory is entered as root first (EACCES/EPERM: again as the user).
  steps.push({ op: 'chdir', path: proc.cwd, phase: 'as-root' });
  // As runc: without HOME (or with an empty one) in the env, HOME comes from the container's
  // /etc/passwd for the process's uid, "/" when it has none.
  if (!(proc.env ?? []).some((e) => e.startsWith('HOME=') && e.length > 5))
    steps.push({ op: 'home', uid: proc.user.uid });
  // No capabilities object means no capabilities (as runc), never "keep the runtime's".
  const caps = proc.capabilities;
  const sets = {
    bounding: caps?.bounding ?? [],
    effective: caps?.effective ?? [],
    permitted: caps?.permitted ?? [],
    inheritable: caps?.inheritable ?? [],
    ambient: caps?.ambient ?? [],
    lastCap: host.capLastCap,
  };
  // The bounding set is dropped while still root; the other sets once the uid has changed.
  steps.push({ op: 'caps', phase: 'bounding', ...sets });
  steps.push({ op: 'user', uid: proc.user.uid, gid: proc.user.gid, additionalGids: proc.user.additionalGids ?? [] });
  steps.push({ op: 'caps', phase: 'sets', ...sets });
  const umask = proc.user.umask ?? opts.defaultUmask;
  if (umask !== undefined) steps.push({ op: 'umask', mask: umask });
  steps.push({ op: 'chdir', path: proc.cwd, phase: 'as-user' });
  const env = proc.env ?? [];
  const args = proc.args ?? [];
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
  steps.push({ op: 'find-exec', name: args[0] ?? '', searchPath: pathVar });
  // A notify listener travels to the parent over the sync socket, so that filter is loaded
  // before "ready" closes it.
  if (seccomp !== undefined && proc.noNewPrivileges === true) {
    if (seccomp.notify) steps.push(seccomp);
    else return { steps, problems, lateSeccomp: seccomp };
  }
  return { steps, problems };
}

/**
 * An rlimit value for the executor (-1: RLIM_INFINITY). Validation (processProblems) lets
 * through safe integers and 2^64 only, the JSON 18446744073709551615: anything else here is a
 * bug, refused rather than made "unlimited" (as any value from 2^63 was).
 */
function limit(v: number): number {
  if (Number.isSafeInteger(v) && v >= 0) return v;
  if (v === 2 * RLIM_INFINITY_THRESHOLD) return -1;
  throw new RangeError(
    `rlimit value ${v} is neither an integer from 0 to ${Number.MAX_SAFE_INTEGER} nor 18446744073709551615 (unlimited)`,
  );
}
