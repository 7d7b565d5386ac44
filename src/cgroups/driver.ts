// The driver factory: which driver manages a container's cgroups — for a new container, the
// one the runtime's options choose; for an existing one, the one its record names.
import { CgroupfsManager } from './cgroupfs';
import type { CgroupManager } from './manager';

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

/** The fields of a container record that say where its cgroups are. */
export interface CgroupRecordFields {
  cgroupPaths?: Record<string, string>;
}

/** An existing container's cgroups, managed by the driver its record names. */
export function containerCgroups(record: CgroupRecordFields, id: string): CgroupManager {
  return CgroupfsManager.fromRecord(record, id);
}
