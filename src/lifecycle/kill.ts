// `kill`: a signal to the init, or with --all to every process of the container's cgroup.
import { TsruncError } from '../errors';
import { containerCgroups } from '../cgroups';
import { native } from '../native/addon';
import { computeStatus } from '../state/status';
import type { ContainerHandle, ContainerRecord } from '../state/store';

function ownPidNamespace(record: ContainerRecord): boolean {
  return (record.config.linux?.namespaces ?? []).some((ns) => ns.type === 'pid' && (ns.path ?? '') === '');
}

export function killContainer(handle: ContainerHandle, signal: number, all: boolean): void {
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  const stopped = status === 'stopped';
  const cgroups = containerCgroups(record, record.id);
  // containerd's shim matches "container not running".
  if (stopped && !all) throw new TsruncError('state', 'container not running', { containerId: record.id });
  // As runc: --all on a stopped container reaches what is left in its cgroup (processes that
  // outlived an init without a pid namespace of its own) and succeeds when nothing is left:
  // containerd's shim runs `kill --all` after every container of a shared pid namespace stops.
  if (stopped && cgroups.pids().length === 0) return;
  const n = native();
  if (all && Object.keys(cgroups.paths).length === 0) {
    // No cgroup to find the processes in (rootless, none delegated): SIGKILL to the init takes
    // down a pid namespace of its own whole; any other signal could reach the init only.
    if (signal !== 9 || !ownPidNamespace(record))
      throw new TsruncError(
        'state',
        `kill --all: the container has no cgroup to find its processes in (it was created rootless, where its user could make none)${signal === 9 ? ' and no pid namespace of its own' : ''}; kill without --all signals its init`,
        { containerId: record.id },
      );
    n.kill(record.initPid, signal);
    return;
  }
  if (all) {
    // Frozen, nothing can fork behind our back while we signal; a paused container's
    // processes act on the signal when thawed (SIGKILL: thawed here so that they die).
    const wasPaused = status === 'paused';
    if (!wasPaused && !stopped && cgroups.canFreeze()) cgroups.freeze();
    try {
      const pids = cgroups.pids();
      // The init's pid only while it lives (no cgroup to list): a stopped one may be reused.
      for (const pid of pids.length > 0 || stopped ? pids : [record.initPid]) n.kill(pid, signal);
    } finally {
      if (!wasPaused || signal === 9) {
        if (cgroups.canFreeze()) cgroups.thaw();
      }
    }
    return;
  }
  if (!n.kill(record.initPid, signal))
    throw new TsruncError('state', 'container not running', { containerId: record.id });
  // A frozen init acts on SIGKILL only once thawed.
  if (status === 'paused' && signal === 9) cgroups.thaw();
}
