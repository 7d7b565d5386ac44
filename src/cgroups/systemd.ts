// The systemd driver (runc's --systemd-cgroup): a container's cgroup is a transient unit of
// systemd's — "prefix-name.scope" in a slice — created over D-Bus with the init's pid in it,
// its limits as unit properties where systemd has one. Everything that is not systemd's to do
// (the limits written to the files as well, as runc does; the device filter; the freezer;
// statistics; the pids; exec joining the cgroup) goes through the cgroupfs driver on the
// unit's directories, so both drivers share that code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError } from '../errors';
import { native, type SystemdProperty, type SystemdScope } from '../native/addon';
import type { Resources, Spec } from '../spec/types';
import type { Stats } from './stats';
import { CgroupfsManager } from './cgroupfs';
import { detectHierarchies, type CgroupHierarchy, type CgroupPaths } from './hierarchy';
import type { CgroupManager, CgroupRecordFields, CgroupSetup, ExistingCgroups, RecordedCgroups } from './manager';
import { containerDeviceState } from './resources';
import {
  annotationProperties,
  deviceProperties,
  parseProcDevices,
  parseSystemdVersion,
  resourceProperties,
  systemdUnit,
  unitProperties,
  type SystemdUnit,
} from './systemd-properties';

/** How long a unit's start or stop job may take (runc waits 30 s too). */
const JOB_TIMEOUT_MS = 30_000;

/** What the driver asks of systemd: the manager's D-Bus methods (the addon's sd-bus, or a test's fake). */
export interface SystemdBus {
  startTransientUnit(unit: string, properties: SystemdProperty[]): void;
  /** false: there was no such unit. */
  stopUnit(unit: string): boolean;
  setUnitProperties(unit: string, properties: SystemdProperty[]): void;
  resetFailedUnit(unit: string): void;
  /** ActiveState of a loaded unit; undefined when none is loaded. */
  activeState(unit: string): string | undefined;
  /** The manager's version number ("252.39-1~deb12u1" → 252; 0 when it says none). */
  version(): number;
  /** The manager's own cgroup ("/" for the system's; "/user.slice/user-1000.slice/user@1000.service" for a user's). */
  controlGroup(): string;
}

/** The addon's sd-bus, on the system's manager (or the user's, rootless). */
export function nativeSystemdBus(scope: SystemdScope = 'system'): SystemdBus {
  let version: number | undefined;
  return {
    startTransientUnit: (unit, props) => native().systemdStartTransientUnit(scope, unit, props, JOB_TIMEOUT_MS),
    stopUnit: (unit) => native().systemdStopUnit(scope, unit, JOB_TIMEOUT_MS),
    setUnitProperties: (unit, props) => native().systemdSetUnitProperties(scope, unit, props),
    resetFailedUnit: (unit) => native().systemdResetFailedUnit(scope, unit),
    activeState: (unit) => native().systemdUnitProperty(scope, unit, 'ActiveState'),
    version: () => (version ??= parseSystemdVersion(native().systemdManagerProperty(scope, 'Version'))),
    controlGroup: () => native().systemdManagerProperty(scope, 'ControlGroup') || '/',
  };
}

/** The host facts the properties depend on: /proc/devices' groups, and whether a /dev/char path resolves. */
export interface DeviceFacts {
  groupOf(type: 'b' | 'c', major: number): string | undefined;
  exists(devicePath: string): boolean;
}

export function hostDeviceFacts(): DeviceFacts {
  let groups: ReturnType<typeof parseProcDevices> | undefined;
  return {
    groupOf: (type, major) => {
      groups ??= parseProcDevices(fs.readFileSync('/proc/devices', 'utf8'));
      return groups(type, major);
    },
    exists: (p) => fs.existsSync(p) || fs.existsSync(`/sys${p}`),
  };
}

/** What SystemdManager.prepare found: the unit's properties for its limits, and cgroupfs's setup for the files. */
class SystemdSetup implements CgroupSetup {
  readonly driver = 'systemd';

  constructor(
    readonly properties: SystemdProperty[],
    readonly files: CgroupSetup,
  ) {}
}

/** The version of the hierarchy systemd's units live in (v1 on a legacy host, else v2). */
function cgroupVersion(hierarchies: CgroupHierarchy[]): 1 | 2 {
  return hierarchies.some((h) => h.version === 1 && h.controllers.some((c) => !c.startsWith('name='))) ? 1 : 2;
}

/** The unit's directory in each hierarchy: its cgroup below the hierarchy's root. */
function unitPaths(cgroup: string, hierarchies: CgroupHierarchy[]): CgroupPaths {
  const out: CgroupPaths = {};
  for (const h of hierarchies) {
    // (a mount that shows a subtree: the cgroup relative to what it shows)
    const rel = h.root !== '/' && cgroup.startsWith(`${h.root}/`) ? cgroup.slice(h.root.length) : cgroup;
    out[h.key] = path.join(h.mountpoint, rel);
  }
  return out;
}

export class SystemdManager implements CgroupManager {
  readonly driver = 'systemd';
  /** create's setup, until join starts the unit with the init in it. */
  private pending: SystemdSetup | undefined;
  /**
   * Whether the unit is this container's: read from its record, or started here. A create that
   * failed before its unit started (another's has the name) must not stop or kill that one.
   */
  private owned: boolean;

  constructor(
    readonly id: string,
    /** The unit, e.g. "docker-abc.scope". */
    readonly unit: string,
    /** Where it is (or is to be): its slice and name; empty for a unit read from a record. */
    private readonly where: SystemdUnit,
    private readonly files: CgroupfsManager,
    private readonly bus: SystemdBus,
    private readonly devices: DeviceFacts = hostDeviceFacts(),
    owned = false,
  ) {
    this.owned = owned;
  }

  static forContainer(
    id: string,
    cgroupsPath: string | undefined,
    bus: SystemdBus = nativeSystemdBus(),
    hierarchies: CgroupHierarchy[] = detectHierarchies(),
    devices?: DeviceFacts,
    /** Rootless: the unit is the user's manager's (`bus` is the user's), in its user.slice by default. */
    rootless = false,
  ): SystemdManager {
    let u: SystemdUnit;
    try {
      u = systemdUnit(cgroupsPath, id, rootless);
    } catch (err) {
      throw new TsruncError('config', `/linux/cgroupsPath: ${(err as Error).message}`, { containerId: id });
    }
    if (rootless && !(hierarchies.length === 1 && hierarchies[0]?.version === 2))
      throw new TsruncError(
        'system',
        '--systemd-cgroup without root needs a pure cgroup v2 host (systemd delegates cgroup v1 to no user), as runc; omit --systemd-cgroup to run without a cgroup',
        { containerId: id },
      );
    // (a user manager's units are below its own cgroup, user@UID.service)
    let cgroup = u.cgroup;
    if (rootless) {
      let base: string;
      try {
        base = bus.controlGroup();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new TsruncError(
          'system',
          `--systemd-cgroup without root: asking the user's systemd for its cgroup: ${e.message} (is there a user manager, user@UID.service, and $XDG_RUNTIME_DIR/bus?)`,
          { containerId: id, cause: err, ...(typeof e.code === 'string' ? { errno: e.code } : {}) },
        );
      }
      cgroup = path.posix.join(base, u.cgroup);
    }
    // (rootless, device rules the user cannot set — the v2 filter needs CAP_BPF — are left, as cgroupfs's)
    const files = new CgroupfsManager(
      id,
      hierarchies,
      unitPaths(cgroup, hierarchies),
      rootless ? { without: new Map(), deviceRulesOptional: true } : undefined,
    );
    return new SystemdManager(id, u.unit, u, files, bus, devices);
  }

  /** A container's unit from its record: the cgroups it names, the unit their last component. */
  static fromRecord(
    record: CgroupRecordFields,
    id: string,
    bus: SystemdBus = nativeSystemdBus(),
    hierarchies: CgroupHierarchy[] = detectHierarchies(),
  ): SystemdManager {
    const cgroups = record.cgroups ?? {};
    const units = new Set(Object.values(cgroups).map((c) => path.posix.basename(c)));
    const unit = [...units][0];
    if (units.size !== 1 || unit === undefined || !/\.(scope|slice)$/.test(unit))
      throw new TsruncError(
        'system',
        `the container's record names no systemd unit (cgroups ${JSON.stringify(cgroups)})`,
        { containerId: id },
      );
    return new SystemdManager(
      id,
      unit,
      { slice: '', unit, name: '', cgroup: '' },
      CgroupfsManager.fromRecord(record, id, hierarchies),
      bus,
      undefined,
      true,
    );
  }

  get hierarchies(): CgroupHierarchy[] {
    return this.files.hierarchies;
  }

  get shownPaths(): CgroupPaths {
    return this.files.shownPaths;
  }

  get paths(): CgroupPaths {
    return this.files.paths;
  }

  recorded(): RecordedCgroups {
    return { cgroupDriver: 'systemd', cgroups: this.files.recorded().cgroups };
  }

  prepare(spec: Spec): SystemdSetup {
    // (the files' checks first: a limit the cgroups cannot hold is refused with its pointer)
    const files = this.files.prepare(spec);
    const version = cgroupVersion(this.hierarchies);
    const properties = [
      ...resourceProperties(spec.linux?.resources, version),
      ...deviceProperties(containerDeviceState(spec), this.devices, this.bus.version(), version),
      ...annotationProperties(spec),
    ];
    return new SystemdSetup(properties, files);
  }

  inspect(): ExistingCgroups {
    return this.files.inspect();
  }

  create(setup: CgroupSetup): void {
    if (!(setup instanceof SystemdSetup))
      throw new TsruncError('system', `a cgroup setup of the ${setup.driver} driver given to the systemd driver`, {
        containerId: this.id,
      });
    // systemd makes a scope only with a process in it: join starts the unit with the init.
    this.pending = setup;
  }

  join(pid: number): void {
    const setup = this.pending;
    if (setup === undefined) {
      // exec: into the existing unit's cgroups, as runc does (not through systemd)
      this.files.join(pid);
      return;
    }
    this.pending = undefined;
    this.startUnit(pid, setup.properties);
    // Then, as runc: the limits in the files (those systemd has no property for, and the same
    // values again), the device filter, and the hierarchies systemd does not manage (v1).
    this.files.create(setup.files);
    this.files.join(pid);
  }

  private startUnit(pid: number, resources: SystemdProperty[]): void {
    const props = [...unitProperties(this.where, pid, cgroupVersion(this.hierarchies)), ...resources];
    try {
      this.bus.startTransientUnit(this.unit, props);
      this.owned = true;
      return;
    } catch (err) {
      if (dbusName(err) !== 'org.freedesktop.systemd1.UnitExists') throw this.failure('creating', err);
    }
    // A unit of that name is loaded: a live one is another container's; a failed or inactive
    // one (left by a crash) is reset and the start tried once more, as runc does.
    const state = this.bus.activeState(this.unit);
    if (state === 'active' || state === 'activating' || state === 'reloading')
      throw new TsruncError('system', `systemd unit ${this.unit} already exists and is ${state}`, {
        containerId: this.id,
      });
    this.bus.resetFailedUnit(this.unit);
    try {
      this.bus.startTransientUnit(this.unit, props);
      this.owned = true;
    } catch (err) {
      throw this.failure('creating', err);
    }
  }

  private failure(what: string, err: unknown): TsruncError {
    const e = err as NodeJS.ErrnoException;
    return new TsruncError('system', `${what} systemd unit ${this.unit}: ${e.message}`, {
      containerId: this.id,
      cause: err,
      ...(typeof e.code === 'string' ? { errno: e.code } : {}),
    });
  }

  update(resources: Resources, spec: Spec): void {
    const version = cgroupVersion(this.hierarchies);
    const props = resourceProperties(resources, version);
    if (props.length === 0) {
      this.files.update(resources, spec);
      return;
    }
    // On v1, systemd applies all of a unit's cgroup settings again when any property changes,
    // the device list included: devices.list becomes its own (DevicePolicy=auto: "a *:* rwm",
    // every device allowed; strict: deny-all, then its DeviceAllow), replacing the container's
    // rules until the files' update below writes them again. As runc's legacy manager does, the
    // container is frozen meanwhile (unless it is paused already, or there is no freezer), and
    // it is thawed only once the files, device rules included, are the container's again.
    const freeze = version === 1 && this.files.canFreeze() && !this.files.isFrozen();
    if (freeze) this.files.freeze();
    try {
      try {
        this.bus.setUnitProperties(this.unit, props);
      } catch (err) {
        throw this.failure('updating', err);
      }
      this.files.update(resources, spec);
    } finally {
      if (freeze) this.files.thaw();
    }
  }

  subCgroups(args: string[]): CgroupManager {
    return this.files.subCgroups(args);
  }

  freeze(): void {
    this.files.freeze();
  }

  thaw(): void {
    this.files.thaw();
  }

  isFrozen(): boolean {
    return this.files.isFrozen();
  }

  canFreeze(): boolean {
    return this.files.canFreeze();
  }

  stats(): Stats {
    return this.files.stats();
  }

  oomKills(): number {
    return this.files.oomKills();
  }

  pids(): number[] {
    return this.files.pids();
  }

  remove(kill: (pid: number) => void): void {
    if (!this.owned) return;
    // What is left in the cgroups is killed first (delete kills a stopped container's
    // leftovers too), then the unit is stopped and any failed state cleared, so that the name
    // can be used again; the directories systemd does not own (v1) go as cgroupfs's do.
    for (const pid of this.files.pids()) kill(pid);
    try {
      this.bus.stopUnit(this.unit);
    } catch (err) {
      throw this.failure('stopping', err);
    }
    try {
      this.bus.resetFailedUnit(this.unit);
    } catch {
      // (nothing to reset)
    }
    this.files.remove(kill);
  }
}

function dbusName(err: unknown): string | undefined {
  const name = (err as { dbusName?: unknown } | undefined)?.dbusName;
  return typeof name === 'string' ? name : undefined;
}
