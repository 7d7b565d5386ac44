// The driver factory: which driver manages a container's cgroups — for a new container, the
// one the runtime's options choose; for an existing one, the one its record names. The
// systemd driver is refused here and nowhere else: a systemd driver replaces systemdRefused.
import * as fs from 'node:fs';
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
  readonly name: 'cgroupfs' | 'systemd';
  /** What this driver objects to in a non-empty linux.cgroupsPath (each driver reads it its own way), if anything: validation reports it. */
  cgroupsPathProblem(cgroupsPath: string): string | undefined;
  /** The cgroups of new container `id`: paths resolved from linux.cgroupsPath, nothing created yet. */
  forContainer(id: string, cgroupsPath: string | undefined): CgroupManager;
}

const cgroupfs: CgroupDriver = {
  name: 'cgroupfs',
  cgroupsPathProblem: () => undefined,
  forContainer: (id, cgroupsPath) => CgroupfsManager.forContainer(id, cgroupsPath),
};

/**
 * --systemd-cgroup: the cgroupsPath is read as runc's systemd driver reads it (so `validate`
 * and `create` name a malformed one first), then every new container is refused.
 */
const systemdRefused: CgroupDriver = {
  name: 'systemd',
  cgroupsPathProblem: (cgroupsPath) =>
    cgroupsPath.split(':').length === 3
      ? undefined
      : `expected "slice:prefix:name" with --systemd-cgroup, got ${JSON.stringify(cgroupsPath)}`,
  forContainer: (id) => {
    const why = fs.existsSync('/run/systemd/system')
      ? 'the systemd cgroup driver is not implemented yet'
      : 'systemd is not running on this host (no /run/systemd/system)';
    throw new TsruncError('system', `--systemd-cgroup: ${why}; use the cgroupfs driver (omit --systemd-cgroup)`, {
      containerId: id,
    });
  },
};

export function selectCgroupDriver(options: CgroupDriverOptions = {}): CgroupDriver {
  // options.rootless (runc's --rootless) reaches this factory and nothing else; it changes
  // nothing yet: rootless cgroups (permission errors ignored, delegation) are issue 16.
  return options.systemd === true ? systemdRefused : cgroupfs;
}

/** The features document's cgroup section: what the drivers here can do (systemd: refused above). */
export const CGROUP_FEATURES = { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false };

/** An existing container's cgroups, managed by the driver its record names. */
export function containerCgroups(record: CgroupRecordFields, id: string): CgroupManager {
  const driver = record.cgroupDriver ?? 'cgroupfs';
  if (driver !== 'cgroupfs')
    throw new TsruncError(
      'system',
      `the container's cgroups are managed by the ${JSON.stringify(driver)} cgroup driver, which this tsrunc does not have`,
      { containerId: id },
    );
  return CgroupfsManager.fromRecord(record, id);
}
