// The one interface to a container's cgroups (the shape of runc's cgroups.Manager, youki's
// CgroupManager, crun's libcrun_cgroup_manager): every module outside src/cgroups goes
// through it, by way of index.ts. A driver implements it — cgroupfs.ts, the directories
// themselves — and driver.ts picks one: for a new container from the runtime's options, for
// an existing one from its record.
import type { Resources, Spec } from '../spec/types';
import type { CgroupHierarchy, CgroupPaths } from './hierarchy';
import type { Stats } from './stats';

/** The drivers this build has. */
export type CgroupDriverName = 'cgroupfs' | 'systemd';

/**
 * A container's cgroups as its record keeps them, the same for every driver: the driver, and
 * the cgroup in each hierarchy as /proc/PID/cgroup names it — the hierarchy ("" for cgroup
 * v2, else its v1 controllers: "cpu,cpuacct", "name=systemd") and the path inside it
 * ("/default/web"), not where this host mounts it.
 */
export interface RecordedCgroups {
  cgroupDriver: CgroupDriverName;
  cgroups: Record<string, string>;
}

/** The fields of a container record that say where its cgroups are: RecordedCgroups, or what records had before drivers. */
export interface CgroupRecordFields {
  /** Absent from records written before there were drivers: cgroupfs. */
  cgroupDriver?: string;
  cgroups?: Record<string, string>;
  /** Records written before there were drivers: the directories, by hierarchy key. */
  cgroupPaths?: Record<string, string>;
}

/** What is already at a new container's cgroup paths. */
export interface ExistingCgroups {
  /** Where a freezer holds the cgroup (its own or an ancestor's), if one does. */
  frozen?: string;
  /** Processes already in the cgroup or below it, in any hierarchy. */
  pids: number[];
}

/** A config's limits and device rules as one driver applies them: what its prepare returns, for its create. */
export interface CgroupSetup {
  readonly driver: CgroupDriverName;
}

export interface CgroupManager {
  readonly driver: CgroupDriverName;
  /** The container's id, for errors. */
  readonly id: string;
  /** The cgroup hierarchies of this host: what a cgroup mount in the container shows. */
  readonly hierarchies: CgroupHierarchy[];
  /** Where the container's cgroups are (or will be), per hierarchy. */
  readonly paths: CgroupPaths;
  /**
   * What a cgroup mount in the container shows of each hierarchy: its cgroup, or — rootless,
   * where it has none — the cgroup its init stays in (the runtime's own), as runc's init binds
   * the cgroups it is in.
   */
  readonly shownPaths: CgroupPaths;
  /** These cgroups as the container's record keeps them. */
  recorded(): RecordedCgroups;

  /**
   * The limits and device rules of `spec` as this driver will apply them, checked against
   * this host: a ConfigError (with pointers) for what cannot be applied. Touches nothing.
   */
  prepare(spec: Spec): CgroupSetup;
  /** What is at the paths before create makes them (runc refuses a frozen cgroup, warns about processes in one). */
  inspect(): ExistingCgroups;
  /** Makes the cgroups, with the controllers `setup` needs, and applies its limits and device rules. */
  create(setup: CgroupSetup): void;
  /** Moves `pid` into the cgroups. */
  join(pid: number): void;
  /** New limits for the running container (the device rules of `spec` applied again where they are a list). */
  update(resources: Resources, spec: Spec): void;
  /**
   * The sub-cgroups named by runc's exec --cgroup arguments ("path", or
   * "controller[,controller...]:path", relative to the container's cgroup): what an exec'd
   * process joins. Refused in runc's words when one is not there or not below.
   */
  subCgroups(args: string[]): CgroupManager;

  freeze(): void;
  thaw(): void;
  /** Read live, never from the record. */
  isFrozen(): boolean;
  /** A freezer reaches these cgroups (a v1 freezer or cgroup.freeze). */
  canFreeze(): boolean;

  /** runc's statistics (`events --stats`). */
  stats(): Stats;
  /** The count of OOM kills so far (`events` reports each new one). */
  oomKills(): number;
  /** Host pids in the cgroup. */
  pids(): number[];
  /** Removes the cgroups, deepest first, killing with `kill` what is left in them. */
  remove(kill: (pid: number) => void): void;
}
