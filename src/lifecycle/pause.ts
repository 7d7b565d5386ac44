// `pause` and `resume`: freeze or thaw every process of the container.
import { TsruncError } from '../errors';
import { requireCgroups } from '../cgroups';
import { computeStatus } from '../state/status';
import type { ContainerHandle } from '../state/store';

export function pauseContainer(handle: ContainerHandle): void {
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  if (status === 'paused') throw new TsruncError('state', 'container already paused', { containerId: record.id });
  if (status !== 'running' && status !== 'created')
    throw new TsruncError('state', 'container not running', { containerId: record.id });
  requireCgroups(record, record.id, 'pause').freeze();
}

export function resumeContainer(handle: ContainerHandle): void {
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  if (status !== 'paused') throw new TsruncError('state', 'container not paused', { containerId: record.id });
  requireCgroups(record, record.id, 'resume').thaw();
}
