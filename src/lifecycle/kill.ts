// `kill`: a signal to the init, or with --all to every process of the container's cgroup.
import { TsruncError } from '../errors';
import { cgroupPids } from '../cgroups/manager';
import { native } from '../native/addon';
import { computeStatus } from '../state/status';
import type { ContainerHandle } from '../state/store';

export function killContainer(handle: ContainerHandle, signal: number, all: boolean): void {
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  // containerd's shim matches "container not running".
  if (status === 'stopped') throw new TsruncError('state', 'container not running', { containerId: record.id });
  const n = native();
  if (all) {
    const pids = cgroupPids(record.cgroupPaths);
    for (const pid of pids.length > 0 ? pids : [record.initPid]) n.kill(pid, signal);
    return;
  }
  if (!n.kill(record.initPid, signal)) throw new TsruncError('state', 'container not running', { containerId: record.id });
}
