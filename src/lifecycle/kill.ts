// `kill`: a signal to the init, or with --all to every process of the container's cgroup.
import { TsruncError } from '../errors';
import { isFreezable, setFrozen } from '../cgroups/freezer';
import { cgroupPids } from '../cgroups/manager';
import { native } from '../native/addon';
import { computeStatus } from '../state/status';
import type { ContainerHandle } from '../state/store';

export function killContainer(handle: ContainerHandle, signal: number, all: boolean): void {
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  const stopped = status === 'stopped';
  // containerd's shim matches "container not running".
  if (stopped && !all) throw new TsruncError('state', 'container not running', { containerId: record.id });
  // As runc: --all on a stopped container reaches what is left in its cgroup (processes that
  // outlived an init without a pid namespace of its own) and succeeds when nothing is left:
  // containerd's shim runs `kill --all` after every container of a shared pid namespace stops.
  if (stopped && cgroupPids(record.cgroupPaths).length === 0) return;
  const n = native();
  if (all) {
    // Frozen, nothing can fork behind our back while we signal; a paused container's
    // processes act on the signal when thawed (SIGKILL: thawed here so that they die).
    const wasPaused = status === 'paused';
    if (!wasPaused && !stopped && isFreezable(record.cgroupPaths)) setFrozen(record.cgroupPaths, true, record.id);
    try {
      const pids = cgroupPids(record.cgroupPaths);
      // The init's pid only while it lives (no cgroup to list): a stopped one may be reused.
      for (const pid of pids.length > 0 || stopped ? pids : [record.initPid]) n.kill(pid, signal);
    } finally {
      if (!wasPaused || signal === 9) {
        if (isFreezable(record.cgroupPaths)) setFrozen(record.cgroupPaths, false, record.id);
      }
    }
    return;
  }
  if (!n.kill(record.initPid, signal)) throw new TsruncError('state', 'container not running', { containerId: record.id });
  // A frozen init acts on SIGKILL only once thawed.
  if (status === 'paused' && signal === 9) setFrozen(record.cgroupPaths, false, record.id);
}
