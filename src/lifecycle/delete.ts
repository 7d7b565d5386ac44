// `delete`: a stopped (or created) container is cleaned up; a running one only with
// --force (SIGKILL first). Cleaning means: processes left in the cgroups killed, cgroup
// directories removed, poststop hooks run, the state directory removed.
import { TsruncError } from '../errors';
import type { Logger } from '../log';
import { containerCgroups } from '../cgroups';
import { native } from '../native/addon';
import { computeStatus, ownerOf, stateDocument } from '../state/status';
import type { ContainerHandle } from '../state/store';
import { waitForExit } from './container';
import { faultPoint } from '../util/faults';
import { runHooks } from './hooks';
import { sleepMs } from '../util/sleep';

export interface DeleteOptions {
  /**
   * checkpoint's clean-up after a dump, as runc's destroy: in a private pid namespace criu's kill
   * of the init ended every process of the container, so what its cgroup holds once they are
   * gone came since — a lazy restore of this very checkpoint into the same cgroup, while the
   * dump served it pages. That is not killed, and the cgroups are left in place (a warning),
   * as runc's rmdir of them fails with EBUSY.
   */
  spareNewcomers?: boolean;
}

/** How long the processes criu killed may take to leave the cgroup (spareNewcomers). */
const LEAVE_MS = 2000;

export function deleteContainer(handle: ContainerHandle, force: boolean, log: Logger, opts: DeleteOptions = {}): void {
  faultPoint('delete:locked');
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  const cgroups = containerCgroups(record, record.id);
  if ((status === 'running' || status === 'paused') && !force) {
    throw new TsruncError('state', `cannot delete container ${record.id} that is not stopped: ${status}`, {
      containerId: record.id,
    });
  }
  if (status !== 'stopped') {
    native().kill(record.initPid, 9);
    // Frozen processes die only once thawed.
    if (status === 'paused') cgroups.thaw();
    if (!waitForExit(record.initPid, record.initStartTime, 30_000)) {
      throw new TsruncError('system', `container init ${record.initPid} did not exit after SIGKILL`, {
        containerId: record.id,
      });
    }
  }
  faultPoint('delete:killed');
  if (opts.spareNewcomers === true && !emptied(cgroups)) {
    log.warn(
      `the cgroup of ${record.id} holds processes that came after its checkpoint (a restore of it): left in place`,
    );
  } else {
    cgroups.remove((pid) => native().kill(pid, 9));
  }
  faultPoint('delete:cgroups-removed');
  if (record.initPid > 0)
    runHooks(record.config, 'poststop', stateDocument(record, 'stopped', ownerOf(handle.dir)), log, 'warn');
  handle.remove({ stateRemoved: 'delete:state-removed', renamed: 'delete:renamed' });
}

/** Whether the cgroups hold no process, waiting LEAVE_MS for the dying to leave. */
function emptied(cgroups: { pids(): number[] }): boolean {
  const deadline = Date.now() + LEAVE_MS;
  for (;;) {
    if (cgroups.pids().length === 0) return true;
    if (Date.now() > deadline) return false;
    sleepMs(20);
  }
}
