// The driver factory: which driver manages a container's cgroups — for a new container, the
// one the runtime's options choose (cgroupfs, or systemd with --systemd-cgroup); for an
// existing one, the one its record names.
import * as fs from 'node:fs';
import { TsruncError } from '../errors';
import { CgroupfsManager } from './cgroupfs';
import { SystemdManager, nativeSystemdBus } from './systemd';
import { systemdCgroupsPathProblem } from './systemd-properties';
import type { CgroupManager, CgroupRecordFields } from './manager';
import { processRootlessFacts, useRootlessCgroups, type RootlessFacts } from '../util/rootless';

// The layout is read once per command; a resident worker's next command reads it again
// (forgetCommandState in src/cli/main.ts).
export { forgetHierarchies } from './hierarchy';

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

/** cgroupfs, with runc's rootless cgroup manager or without. */
function cgroupfs(rootless: () => boolean, deviceRulesOptional: () => boolean): CgroupDriver {
  return {
    name: 'cgroupfs',
    cgroupsPathProblem: () => undefined,
    forContainer: (id, cgroupsPath) =>
      CgroupfsManager.forContainer(id, cgroupsPath, undefined, undefined, rootless(), deviceRulesOptional()),
  };
}

/**
 * --systemd-cgroup: each container's cgroup is a transient unit of systemd's (systemd.ts), its
 * cgroupsPath read as runc's systemd driver reads it ("slice:prefix:name"); refused, in runc's
 * words, where systemd is not the host's init.
 */
function systemd(userManager: () => boolean): CgroupDriver {
  return {
    name: 'systemd',
    cgroupsPathProblem: systemdCgroupsPathProblem,
    forContainer: (id, cgroupsPath) => {
      if (!isRunningSystemd())
        throw new TsruncError(
          'system',
          '--systemd-cgroup: systemd is not running on this host (no /run/systemd/system), cannot use the systemd cgroup manager; use the cgroupfs driver (omit --systemd-cgroup)',
          { containerId: id },
        );
      // Rootless: the unit is the user's manager's, over the user's bus (runc's rootless systemd).
      const rootless = userManager();
      return SystemdManager.forContainer(
        id,
        cgroupsPath,
        nativeSystemdBus(rootless ? 'user' : 'system'),
        undefined,
        undefined,
        rootless,
      );
    },
  };
}

/** The bus an existing container's unit is on: the user's for an ordinary user, as at create. */
function recordBusScope(facts: RootlessFacts): 'user' | 'system' {
  return facts.euid !== 0 ? 'user' : 'system';
}

/** As sd_booted(3): /run/systemd/system is a directory. */
function isRunningSystemd(): boolean {
  try {
    return fs.lstatSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

export function selectCgroupDriver(
  options: CgroupDriverOptions = {},
  facts: RootlessFacts = processRootlessFacts(),
): CgroupDriver {
  // (--rootless reaches this factory and nothing else: runc's rootless cgroup manager. It is
  // decided when a container's cgroups are, not here: every command makes a Runtime, and only
  // create needs it — /proc/self/uid_map is read then, if at all.)
  const rootless = (): boolean => useRootlessCgroups(options.rootless ?? 'auto', facts, options.systemd === true);
  // (the systemd driver is the user manager's for an ordinary user; device rules are left unset
  // only where the container cannot make device nodes either: not for the host's root, even with
  // --rootless true)
  if (options.systemd === true) return systemd(() => rootless() && facts.euid !== 0);
  return cgroupfs(
    () => rootless(),
    () => rootless() && (facts.euid !== 0 || facts.inUserNamespace),
  );
}

/** The features document's cgroup section: what the drivers here can do (systemd: refused above). */
export const CGROUP_FEATURES = { v1: true, v2: true, systemd: true, systemdUser: true, rdma: false };

/**
 * An existing container's cgroups for `command` (pause, ps, ...), refused with a clear error
 * when it has none: a rootless container whose user could make no cgroup runs without one.
 */
export function requireCgroups(record: CgroupRecordFields, id: string, command: string): CgroupManager {
  const cgroups = containerCgroups(record, id);
  if (Object.keys(cgroups.paths).length === 0)
    throw new TsruncError(
      'state',
      `${command}: the container has no cgroup (it was created rootless, where its user could make none; a cgroup delegated to the user gives it one)`,
      { containerId: id },
    );
  return cgroups;
}

/** An existing container's cgroups, managed by the driver its record names. */
export function containerCgroups(record: CgroupRecordFields, id: string): CgroupManager {
  const driver = record.cgroupDriver ?? 'cgroupfs';
  if (driver === 'systemd')
    return SystemdManager.fromRecord(record, id, nativeSystemdBus(recordBusScope(processRootlessFacts())));
  if (driver !== 'cgroupfs')
    throw new TsruncError(
      'system',
      `the container's cgroups are managed by the ${JSON.stringify(driver)} cgroup driver, which this tsrunc does not have`,
      { containerId: id },
    );
  return CgroupfsManager.fromRecord(record, id);
}
