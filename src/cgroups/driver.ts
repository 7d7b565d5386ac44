// The driver factory: which driver manages a container's cgroups — for a new container, the
// one the runtime's options choose; for an existing one, the one its record names.
import { TsruncError } from '../errors';
import { CgroupfsManager } from './cgroupfs';
import type { CgroupManager, CgroupRecordFields } from './manager';

export interface CgroupDriverOptions {
  /** runc's --systemd-cgroup. */
  systemd?: boolean;
  /** runc's --rootless. */
  rootless?: 'true' | 'false' | 'auto';
}

/** The driver new containers get. */
export interface CgroupDriver {
  readonly name: string;
  /** The cgroups of new container `id`: paths resolved from linux.cgroupsPath, nothing created yet. */
  forContainer(id: string, cgroupsPath: string | undefined): CgroupManager;
}

const cgroupfs: CgroupDriver = {
  name: 'cgroupfs',
  forContainer: (id, cgroupsPath) => CgroupfsManager.forContainer(id, cgroupsPath),
};

export function selectCgroupDriver(_options: CgroupDriverOptions = {}): CgroupDriver {
  return cgroupfs;
}

/** An existing container's cgroups, managed by the driver its record names. */
export function containerCgroups(record: CgroupRecordFields, id: string): CgroupManager {
  const driver = record.cgroupDriver ?? 'cgroupfs';
  if (driver !== 'cgroupfs') throw new TsruncError('system', `the container's cgroups are managed by the ${JSON.stringify(driver)} cgroup driver, which this tsrunc does not have`, { containerId: id });
  return CgroupfsManager.fromRecord(record, id);
}
