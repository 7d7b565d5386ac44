// The plan of `exec`: join the running container — its cgroups, then its namespaces (user
// first, mount last; a fork after joining a pid or time namespace) — and become the given
// process. The namespace paths are the ones recorded at create.

import { ConfigError } from '../errors';
import { NAMESPACE_JOIN_ORDER } from '../spec/linux-names';
import type { NamespaceType, Process, Spec } from '../spec/types';
import type { ProcessHostFacts } from './host-facts';
import { parseCpuList } from '../spec/cpu-list';
import { CPU_SETSIZE, consoleStep, processSteps } from './process-steps';
import type { FdRole, Plan, PlanStep } from './steps';

/**
 * The order `exec` joins the container's namespaces in: user first, mount last — except that a
 * container with a new user namespace joined the namespaces of its config's paths before making
 * it (the planner's order), so they belong to an outer user namespace where the container's root
 * has no capability: they are joined first, while this process still has the runtime's (as
 * runc's nsexec joins what it can before the user namespace). A joined network namespace failed
 * exec with EPERM otherwise.
 */
export function execJoinOrder(spec: Spec): NamespaceType[] {
  const namespaces = spec.linux?.namespaces ?? [];
  const newUser = namespaces.some((n) => n.type === 'user' && !n.path);
  const outer = new Set(newUser ? namespaces.filter((n) => n.type !== 'user' && n.path).map((n) => n.type) : []);
  return [
    ...NAMESPACE_JOIN_ORDER.filter((ns) => outer.has(ns)),
    ...NAMESPACE_JOIN_ORDER.filter((ns) => !outer.has(ns)),
  ];
}

export interface ExecPlanOptions {
  id: string;
  rootfs: string;
  spec: Spec;
  /** type → /proc/INIT/ns/... (or the path the container joined). */
  namespacePaths: Record<string, string>;
  process: Process;
  consoleSocket: boolean;
  preserveFds: number;
}

export function buildExecPlan(opts: ExecPlanOptions, host: ProcessHostFacts): Plan {
  const fds: FdRole[] = ['sync'];
  if (opts.consoleSocket) fds.push('console-socket');
  const proc = opts.process;
  // The container's seccomp profile applies to every process in it.
  const {
    steps: procSteps,
    problems,
    lateSeccomp,
  } = processSteps(proc, opts.spec, { pointer: '', preserveFds: opts.preserveFds }, host);
  if (problems.length > 0) throw new ConfigError('process', problems);
  // This process stays outside the container's pid namespace until its fork (below), so the
  // container's /proc has no "self" for it: what it writes under /proc/self (oom_score_adj, the
  // labels for its next execve, all inherited by the fork) is written through the host's /proc,
  // before the mount namespace is joined.
  const ownProc = procSteps.filter((s) => s.op === 'write-file' && s.path.startsWith('/proc/self/'));
  // execCPUAffinity (the exec document's, else the container's process's), as runc: the initial
  // CPUs before the process joins the container's cgroup (joining a cpuset resets affinity),
  // the final ones after it.
  const affinity = proc.execCPUAffinity ?? opts.spec.process?.execCPUAffinity;
  const cpus = (when: 'initial' | 'final'): PlanStep[] => {
    const list = affinity?.[when];
    return list === undefined || list === ''
      ? []
      : [{ op: 'cpu-affinity', when, cpus: parseCpuList(list, CPU_SETSIZE - 1) }];
  };
  const steps: PlanStep[] = [...cpus('initial'), { op: 'sync', tag: 'cgroup' }, ...cpus('final'), ...ownProc];
  // The namespaces are joined through fds the runtime opened while it knew the init was the
  // container's: a pid reused since cannot lead into another process's namespaces.
  for (const ns of execJoinOrder(opts.spec)) {
    const p = opts.namespacePaths[ns];
    if (p === undefined) continue;
    fds.push(`ns-${ns}`);
    steps.push({ op: 'setns', ns, path: p, fdSlot: fds.length - 1 });
  }
  if (proc.terminal === true) {
    const pty = consoleStep(proc, fds, '/terminal', { bindConsole: false, attachLater: true });
    if (!('op' in pty)) throw new ConfigError('process', [pty]);
    steps.push(pty);
  }
  // Everything that needs privilege happens before the fork into the container's pid namespace:
  // the process a container can see (and, with CAP_SYS_PTRACE, take over) already has the
  // exec'd program's user, capabilities and seccomp filter, and only attaches its terminal,
  // reports and execs.
  steps.push(...procSteps.filter((s) => !ownProc.includes(s)));
  if (lateSeccomp !== undefined) steps.push(lateSeccomp);
  if (opts.namespacePaths['pid'] !== undefined || opts.namespacePaths['time'] !== undefined) steps.push({ op: 'fork' });
  // A session of its own, as runc starts every process: without it a process with no terminal
  // of its own keeps the caller's controlling terminal, where TIOCSTI types into the caller's
  // shell (an attack ran commands outside the container so). With a terminal, console-attach
  // makes the session.
  if (proc.terminal === true) steps.push({ op: 'console-attach' });
  else steps.push({ op: 'setsid' });
  steps.push({ op: 'ready', untilExec: true });
  steps.push({ op: 'exec', args: proc.args ?? [], env: proc.env ?? [] });
  return { containerId: opts.id, rootfs: opts.rootfs, preserveFds: opts.preserveFds, fds, steps };
}
