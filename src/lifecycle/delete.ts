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

export function deleteContainer(handle: ContainerHandle, force: boolean, log: Logger): void {
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
  cgroups.remove((pid) => native().kill(pid, 9));
  faultPoint('delete:cgroups-removed');
  if (record.initPid > 0)
    runHooks(record.config, 'poststop', stateDocument(record, 'stopped', ownerOf(handle.dir)), log, 'warn');
  handle.remove({ stateRemoved: 'delete:state-removed', renamed: 'delete:renamed' });
}
