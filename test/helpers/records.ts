// State records written straight into a --root, for tests of what tsrunc makes of a record
// (state, list, kill, the status it computes) without running a container.
import * as path from 'node:path';
import { defaultSpec } from '../../src/spec/default-spec';
import { StateStore, rfc3339Now, type ContainerRecord } from '../../src/state/store';

/**
 * The record of container `id` whose init was `initPid` (0: none), started at `initStartTime`
 * (its /proc stat start time), `started` or not; annotated `org.example.test: <id>`.
 */
export function containerRecord(
  id: string,
  bundle: string,
  initPid: number,
  initStartTime: number,
  started = false,
): ContainerRecord {
  return {
    formatVersion: 1,
    id,
    bundle,
    rootfs: path.join(bundle, 'rootfs'),
    created: rfc3339Now(),
    annotations: { 'org.example.test': id },
    initPid,
    initStartTime,
    started,
    cgroupDriver: 'cgroupfs',
    cgroups: {},
    namespacePaths: {},
    config: defaultSpec(),
  };
}

/** Writes `rec` as its container's record under a state root (a store, or its path), as create does. */
export function writeRecord(store: StateStore | string, rec: ContainerRecord): void {
  const h = (typeof store === 'string' ? new StateStore(store) : store).reserve(rec.id);
  try {
    h.write(rec);
  } finally {
    h.release();
  }
}
