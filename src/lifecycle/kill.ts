// `kill`: a signal to the init, or with --all to every process of the container's cgroup.
import { TsruncError } from '../errors';
import { containerCgroups } from '../cgroups';
import { native } from '../native/addon';
import { computeStatus } from '../state/status';
import type { ContainerHandle } from '../state/store';

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
