// The cgroupfs driver: a container's cgroups are directories it makes itself in every mounted
// hierarchy — where they are (runc's cgroupsPath rules), creating them, moving a process in,
// limits and device rules (resources.ts, device-rules.ts, device-filter.ts), the freezer
// (freezer.ts), statistics (stats.ts), listing and signalling their processes, removing them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, systemError } from '../errors';
import { native } from '../native/addon';
import type { Resources, Spec } from '../spec/types';
import { sleepMs } from '../util/sleep';
import { deviceFilterProgram } from './device-filter';
import { applyDeviceRulesV1, type DeviceEmulator } from './device-rules';
import { isFreezable, isFrozen, setFrozen } from './freezer';
import { detectHierarchies, hierarchyName, ownCgroup, type CgroupHierarchy, type CgroupPaths } from './hierarchy';
import type { CgroupManager, CgroupRecordFields, CgroupSetup, ExistingCgroups, RecordedCgroups } from './manager';
import { applyWrites, containerDeviceState, controllersNeeded, resourceWrites, type CgroupWrite } from './resources';
import { oomKills, readStats, type Stats } from './stats';

/**
 * runc's cgroupfs rules: an absolute cgroupsPath is taken from each hierarchy's root; a
 * relative one (and the default, the container id) goes under the runtime's own cgroup — on a
 * pure cgroup v2 host under its parent, as runc's fs2 does (the runtime's own cgroup has
 * processes in it, so no controller could be enabled below it).
 */
export function resolveCgroupPaths(
  cgroupsPath: string | undefined,
  id: string,
  hierarchies: CgroupHierarchy[] = detectHierarchies(),
  own: string = fs.readFileSync('/proc/self/cgroup', 'utf8'),
): CgroupPaths {
  const wanted = cgroupsPath === undefined || cgroupsPath === '' ? id : cgroupsPath;
  const cleaned = path.posix.normalize(`/${wanted}`);
  const out: CgroupPaths = {};
  const pureV2 = hierarchies.length === 1 && hierarchies[0]?.version === 2;
  for (const h of hierarchies) {
    const base = pureV2 ? path.posix.dirname(ownCgroup(h, own)) : ownCgroup(h, own);
    const inHierarchy = path.isAbsolute(wanted) ? cleaned : path.posix.join(base, cleaned);
    // The mount may show a subtree (root != "/"): paths are relative to what it shows.
    const rel = h.root !== '/' && inHierarchy.startsWith(h.root) ? inHierarchy.slice(h.root.length) : inHierarchy;
    out[h.key] = path.join(h.mountpoint, rel);
  }
  return out;
}

/**
 * Rootless: why this user could not make `dir` (the nearest existing ancestor is not writable)
 * or move the runtime's child into it (its cgroup.procs, or on cgroup v2 that of the common
 * ancestor with the runtime's own cgroup `ownDir`, is not writable) — undefined if it can.
 * `writable` is access(2) as the caller (a test passes its own); the kernel checks again when
 * create does it.
 */
export function cgroupUnusable(
  dir: string,
  mountpoint: string,
  ownDir?: string,
  writable: (file: string) => string | undefined = accessWritable,
): string | undefined {
  const denied = writable;
  let existing = dir;
  while (!fs.existsSync(existing) && existing !== mountpoint && existing !== '/') existing = path.dirname(existing);
  if (existing !== dir) {
    const why = denied(existing);
    if (why !== undefined) return `creating cgroup ${dir}: ${why.replace(/: ([A-Z]+)$/, ' is not writable ($1)')}`;
  } else {
    const why = denied(path.join(dir, 'cgroup.procs'));
    if (why !== undefined) return `joining cgroup ${dir}: ${why}`;
  }
  if (ownDir !== undefined) {
    let common = ownDir;
    while (common !== mountpoint && common !== '/' && !`${dir}/`.startsWith(`${common}/`))
      common = path.dirname(common);
    const why = denied(path.join(common, 'cgroup.procs'));
    if (why !== undefined) return `moving a process from ${ownDir} to ${dir}: ${why}`;
  }
  return undefined;
}

/** undefined if the caller may write `file`, else its errno's name. */
function accessWritable(file: string): string | undefined {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    return undefined;
  } catch (err) {
    return `${file}: ${(err as NodeJS.ErrnoException).code ?? 'EACCES'}`;
  }
}

/**
 * Creates every directory (and parents); cpuset parents get their parent's cpus and mems, and
 * on v2 every ancestor enables the controllers the container's limits need.
 */
export function createCgroups(
  paths: CgroupPaths,
  hierarchies: CgroupHierarchy[] = detectHierarchies(),
  v2Controllers: string[] = [],
): string[] {
  const created: string[] = [];
  for (const h of hierarchies) {
    const dir = paths[h.key];
    if (dir === undefined) continue;
    const parts = path.relative(h.mountpoint, dir).split(path.sep).filter(Boolean);
    let cur = h.mountpoint;
    for (const part of parts) {
      const parent = cur;
      cur = path.join(cur, part);
      try {
        fs.mkdirSync(cur);
        created.push(cur);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw systemError(`creating cgroup ${cur}`, err);
      }
      if (h.version === 1 && h.controllers.includes('cpuset')) inheritCpuset(parent, cur);
      if (h.version === 2 && v2Controllers.length > 0) enableControllers(parent, v2Controllers);
    }
  }
  return created;
}

/**
 * cgroup v2: enables `controllers` in every ancestor of the container's cgroup (between the
 * hierarchy's root and it), so that a limit `update` sets for the first time has its files.
 */
export function enableV2Controllers(
  paths: CgroupPaths,
  controllers: string[],
  hierarchies: CgroupHierarchy[] = detectHierarchies(),
): void {
  if (controllers.length === 0) return;
  for (const h of hierarchies) {
    const dir = paths[h.key];
    if (h.version !== 2 || dir === undefined) continue;
    const parts = path.relative(h.mountpoint, dir).split(path.sep).filter(Boolean);
    let cur = h.mountpoint;
    for (const part of parts) {
      enableControllers(cur, controllers);
      cur = path.join(cur, part);
    }
  }
}

function enableControllers(dir: string, controllers: string[]): void {
  const file = path.join(dir, 'cgroup.subtree_control');
  const enabled = new Set(fs.readFileSync(file, 'utf8').trim().split(/\s+/));
  const missing = controllers.filter((c) => !enabled.has(c));
  if (missing.length === 0) return;
  try {
    fs.writeFileSync(file, missing.map((c) => `+${c}`).join(' '));
  } catch (err) {
    throw systemError(`enabling ${missing.join(', ')} in ${file}`, err);
  }
}

function inheritCpuset(parent: string, dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const mine = path.join(dir, file);
    if (fs.readFileSync(mine, 'utf8').trim() !== '') continue;
    fs.writeFileSync(mine, fs.readFileSync(path.join(parent, file), 'utf8'));
  }
}

/**
 * runc's checks before it creates a container (libcontainer's factory): a frozen cgroup would
 * freeze the init as it joins, so create would wait for it forever; a cgroup with processes
 * in it is used all the same, with a warning. The nearest existing directory is read in each
 * freezer (v1 freezer.state, v2 cgroup.events), so that a frozen ancestor counts as well.
 */
export function inspectExistingCgroups(
  paths: CgroupPaths,
  hierarchies: CgroupHierarchy[] = detectHierarchies(),
): ExistingCgroups {
  const out: ExistingCgroups = { pids: [] };
  const pids = new Set<number>();
  for (const h of hierarchies) {
    const dir = paths[h.key];
    if (dir === undefined) continue;
    if (out.frozen === undefined) out.frozen = frozenAt(h, dir);
    if (fs.existsSync(dir)) for (const pid of procsBelow(dir)) pids.add(pid);
  }
  out.pids = [...pids].sort((a, b) => a - b);
  return out;
}

function frozenAt(h: CgroupHierarchy, dir: string): string | undefined {
  if (h.version === 1 && !h.controllers.includes('freezer')) return undefined;
  // (the root of a hierarchy cannot be frozen, and has neither file)
  for (let cur = dir; cur.startsWith(`${h.mountpoint}/`); cur = path.dirname(cur)) {
    if (!fs.existsSync(cur)) continue;
    try {
      if (h.version === 1) {
        const state = fs.readFileSync(path.join(cur, 'freezer.state'), 'utf8').trim();
        return state === 'FROZEN' || state === 'FREEZING' ? `${path.join(cur, 'freezer.state')}: ${state}` : undefined;
      }
      return /^frozen 1$/m.test(fs.readFileSync(path.join(cur, 'cgroup.events'), 'utf8'))
        ? `${path.join(cur, 'cgroup.events')}: frozen 1`
        : undefined;
    } catch (err) {
      // (a kernel without the file has no freezer there: nothing can be frozen)
      if (isErrno(err, 'ENOENT')) return undefined;
      throw systemError(`reading the freezer state of ${cur}`, err);
    }
  }
  return undefined;
}

function procsBelow(dir: string): number[] {
  const out = readProcs(dir);
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isDirectory()) out.push(...procsBelow(path.join(dir, e.name)));
  return out;
}

export function joinCgroups(paths: CgroupPaths, pid: number): void {
  for (const dir of Object.values(paths)) {
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      throw systemError(`adding pid ${pid} to cgroup ${dir}`, err);
    }
  }
}

/** Host pids in the container's cgroup (the first hierarchy that answers). */
export function cgroupPids(paths: CgroupPaths): number[] {
  for (const dir of Object.values(paths)) {
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      continue;
    }
  }
  return [];
}

/**
 * Removes the container's cgroup directories, deepest first, after killing what is left in
 * them. Parents created for the container (such as /default of /default/ID) are left: other
 * containers share them, as with runc.
 */
export function removeCgroups(paths: CgroupPaths, kill: (pid: number) => void): void {
  for (const dir of Object.values(paths)) {
    if (!fs.existsSync(dir)) continue;
    removeTree(dir, kill);
  }
}

function removeTree(dir: string, kill: (pid: number) => void): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(path.join(dir, entry.name), kill);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      if (!isErrno(err, 'EBUSY') || attempt >= 200)
        throw new TsruncError('system', `removing cgroup ${dir}: ${(err as Error).message}`, { cause: err });
      for (const pid of readProcs(dir)) kill(pid);
      sleepMs(10);
    }
  }
}

function readProcs(dir: string): number[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The sub-cgroups an exec'd process joins, as runc reads its --cgroup arguments: "path" (every
 * hierarchy; then the only one) or "controller[,controller...]:path"; "/" is the container's
 * own cgroup. The messages carry runc's words ("is not a sub cgroup path", "unknown
 * controller", "invalid --cgroup argument").
 */
function subCgroupPaths(
  paths: CgroupPaths,
  specs: string[],
  hierarchies: CgroupHierarchy[],
  containerId: string,
): CgroupPaths {
  const out: CgroupPaths = { ...paths };
  for (const spec of specs) {
    const parts = spec.split(':');
    if (parts.length > 2) throw new TsruncError('usage', `invalid --cgroup argument: ${spec}`, { containerId });
    if (parts.length === 1 && specs.length !== 1)
      throw new TsruncError('usage', `invalid --cgroup argument: ${spec} (missing <controller>: prefix)`, {
        containerId,
      });
    const controllers = parts.length === 1 ? undefined : (parts[0] as string).split(',');
    const sub = parts.length === 1 ? spec : (parts[1] as string);
    // (relative to the container's cgroup even when written absolute; "" and "/" are that cgroup)
    const rel = path.posix.normalize(sub.replace(/^\/+/, '') || '.').replace(/(.)\/+$/, '$1');
    if (rel === '..' || rel.startsWith('../'))
      throw new TsruncError(
        'usage',
        `exec --cgroup ${spec}: ${sub} is not a sub cgroup path (it must name a sub-cgroup of the container's cgroup)`,
        { containerId },
      );
    const unknown = controllers?.find(
      (c) => !hierarchies.some((h) => paths[h.key] !== undefined && h.controllers.includes(c)),
    );
    if (unknown !== undefined)
      throw new TsruncError(
        'usage',
        `exec --cgroup ${spec}: unknown controller ${unknown} (no cgroup hierarchy of the container has it)`,
        { containerId },
      );
    for (const h of hierarchies) {
      const base = paths[h.key];
      if (base === undefined || (controllers !== undefined && !controllers.some((c) => h.controllers.includes(c))))
        continue;
      const dir = rel === '.' ? base : path.join(base, rel);
      if (!fs.existsSync(path.join(dir, 'cgroup.procs')))
        throw new TsruncError('usage', `exec --cgroup ${spec}: ${dir} does not exist`, { containerId });
      out[h.key] = dir;
    }
  }
  return out;
}

/**
 * The record's form of `paths`: each directory as the path in its hierarchy that
 * /proc/PID/cgroup shows (the mount shows its root at its mount point).
 */
function recordedPaths(paths: CgroupPaths, hierarchies: CgroupHierarchy[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of hierarchies) {
    const dir = paths[h.key];
    if (dir !== undefined) out[hierarchyName(h)] = path.posix.join(h.root, '/', path.relative(h.mountpoint, dir));
  }
  return out;
}

/** The directories of recorded cgroups on this host; a hierarchy not mounted here, or whose mount does not show the path, has none. */
function pathsOfRecorded(cgroups: Record<string, string>, hierarchies: CgroupHierarchy[]): CgroupPaths {
  const out: CgroupPaths = {};
  for (const h of hierarchies) {
    const inHierarchy = cgroups[hierarchyName(h)];
    if (inHierarchy === undefined) continue;
    const rel = path.posix.relative(h.root, inHierarchy);
    if (rel === '..' || rel.startsWith('../') || path.posix.isAbsolute(rel)) continue;
    out[h.key] = path.join(h.mountpoint, rel);
  }
  return out;
}

/** What CgroupfsManager.prepare found: the writes, the v2 controllers they need, the device rules reduced. */
class CgroupfsSetup implements CgroupSetup {
  readonly driver = 'cgroupfs';

  constructor(
    readonly writes: CgroupWrite[],
    readonly v2Controllers: string[],
    readonly devices: DeviceEmulator,
  ) {}
}

/** The cgroupfs driver's CgroupManager: the container's directories in `hierarchies`. */
export class CgroupfsManager implements CgroupManager {
  readonly driver = 'cgroupfs';

  constructor(
    readonly id: string,
    readonly hierarchies: CgroupHierarchy[],
    readonly paths: CgroupPaths,
    /**
     * runc's rootless cgroup manager (--rootless, or auto without root): the hierarchies where
     * this user cannot make or use the container's cgroup, and why (forContainer leaves them
     * out of `paths`); device rules that cannot be set are left, as runc's rootless manager does.
     */
    private readonly rootless:
      { without: Map<string, string>; own?: CgroupPaths; deviceRulesOptional?: boolean } | undefined = undefined,
  ) {}

  get shownPaths(): CgroupPaths {
    return { ...(this.rootless?.own ?? {}), ...this.paths };
  }

  /** A new container's cgroups, by runc's cgroupsPath rules (nothing is created). */
  static forContainer(
    id: string,
    cgroupsPath: string | undefined,
    hierarchies: CgroupHierarchy[] = detectHierarchies(),
    own?: string,
    rootless = false,
    /** Device rules that cannot be set are left (rootless, where the container cannot make device nodes either). */
    deviceRulesOptional = rootless,
  ): CgroupfsManager {
    const ownText = own ?? fs.readFileSync('/proc/self/cgroup', 'utf8');
    const paths = resolveCgroupPaths(cgroupsPath, id, hierarchies, ownText);
    if (!rootless) return new CgroupfsManager(id, hierarchies, paths);
    // As runc's rootless manager: without a cgroupsPath, a cgroup this user may not make (or
    // move a process into) is done without — decided now, before the plan binds the cgroups
    // into the container. A cgroupsPath the user named must be usable (create fails otherwise).
    const without = new Map<string, string>();
    const ownPaths: CgroupPaths = {};
    if (cgroupsPath === undefined || cgroupsPath === '')
      for (const h of hierarchies) {
        const dir = paths[h.key];
        const ownDir = path.join(h.mountpoint, path.posix.relative(h.root, ownCgroup(h, ownText)));
        const why =
          dir === undefined ? undefined : cgroupUnusable(dir, h.mountpoint, h.version === 2 ? ownDir : undefined);
        if (dir === undefined || why === undefined) continue;
        without.set(h.key, why);
        delete paths[h.key];
        ownPaths[h.key] = ownDir;
      }
    return new CgroupfsManager(id, hierarchies, paths, { without, own: ownPaths, deviceRulesOptional });
  }

  /** The cgroups a record names: in the recorded form, or (records older than drivers) as directories by hierarchy key. */
  static fromRecord(
    record: CgroupRecordFields,
    id: string,
    hierarchies: CgroupHierarchy[] = detectHierarchies(),
  ): CgroupfsManager {
    const paths =
      record.cgroups !== undefined ? pathsOfRecorded(record.cgroups, hierarchies) : { ...(record.cgroupPaths ?? {}) };
    return new CgroupfsManager(id, hierarchies, paths);
  }

  recorded(): RecordedCgroups {
    return { cgroupDriver: this.driver, cgroups: recordedPaths(this.paths, this.hierarchies) };
  }

  prepare(spec: Spec): CgroupfsSetup {
    // (device rules a cgroup cannot hold are refused first, before anything exists)
    const devices = containerDeviceState(spec);
    const writes = resourceWrites(spec.linux?.resources, this.hierarchies);
    for (const w of writes) {
      const why = this.rootless?.without.get(w.hierarchy);
      if (why !== undefined)
        throw new TsruncError(
          'config',
          `${w.pointer}: cannot set ${w.file.replace(/\..*$/, '')} limit: container could not join or create cgroup: ${why} (rootless: limits need a cgroup delegated to the user, or no limits)`,
          { containerId: this.id },
        );
    }
    return new CgroupfsSetup(writes, controllersNeeded(writes, this.hierarchies), devices);
  }

  inspect(): ExistingCgroups {
    return inspectExistingCgroups(this.paths, this.hierarchies);
  }

  create(setup: CgroupSetup): void {
    if (!(setup instanceof CgroupfsSetup))
      throw new TsruncError('system', `a cgroup setup of the ${setup.driver} driver given to the cgroupfs driver`, {
        containerId: this.id,
      });
    createCgroups(this.paths, this.hierarchies, setup.v2Controllers);
    // Limits first, then the process (join): nothing of the container runs unlimited. The
    // device rules are allow/deny lists where devices is a v1 controller, else an eBPF filter
    // (rootless, as runc's rootless manager: where they cannot be set they are left — in a
    // user namespace a container cannot make a device node, it gets the host's bound).
    const v1Devices = this.v1Devices();
    if (v1Devices !== undefined) {
      const dir = this.paths[v1Devices.key];
      if (dir !== undefined) this.devicesStep(() => applyDeviceRulesV1(dir, setup.devices, this.id));
    }
    applyWrites(setup.writes, this.paths, this.id);
    const v2 = this.hierarchies.find((h) => h.version === 2);
    const filterDir = v1Devices !== undefined || v2 === undefined ? undefined : this.paths[v2.key];
    if (filterDir !== undefined) {
      this.devicesStep(() => {
        try {
          native().attachDeviceFilter(filterDir, deviceFilterProgram(setup.devices.cleanRules()));
        } catch (err) {
          throw systemError('/linux/resources/devices: attaching the cgroup v2 device filter', err, this.id);
        }
      });
    }
  }

  join(pid: number): void {
    joinCgroups(this.paths, pid);
  }

  private devicesStep(apply: () => void): void {
    try {
      apply();
    } catch (err) {
      // (only where the container cannot make device nodes either: not for root's --rootless true)
      if (this.rootless?.deviceRulesOptional !== true) throw err;
    }
  }

  update(resources: Resources, spec: Spec): void {
    const writes = resourceWrites(resources, this.hierarchies);
    // As runc's update does on cgroup v1: the container's device rules are applied again, with
    // the minimal transition from what devices.list shows — no write at all when nothing
    // drifted, and never a moment where an allowed device is denied. (On v2 the attached
    // filter already is those rules: they cannot change.)
    const v1Devices = this.v1Devices();
    const devicesDir = v1Devices === undefined ? undefined : this.paths[v1Devices.key];
    if (devicesDir !== undefined) applyDeviceRulesV1(devicesDir, containerDeviceState(spec), this.id);
    // (create enabled the v2 controllers its own limits needed; a limit set first now needs its own)
    enableV2Controllers(this.paths, controllersNeeded(writes, this.hierarchies), this.hierarchies);
    applyWrites(writes, this.paths, this.id);
  }

  subCgroups(args: string[]): CgroupfsManager {
    return new CgroupfsManager(this.id, this.hierarchies, subCgroupPaths(this.paths, args, this.hierarchies, this.id));
  }

  freeze(): void {
    setFrozen(this.paths, true, this.id);
  }

  thaw(): void {
    setFrozen(this.paths, false, this.id);
  }

  isFrozen(): boolean {
    return isFrozen(this.paths);
  }

  canFreeze(): boolean {
    return isFreezable(this.paths);
  }

  stats(): Stats {
    return readStats(this.paths, this.hierarchies);
  }

  oomKills(): number {
    return oomKills(this.paths, this.hierarchies);
  }

  pids(): number[] {
    return cgroupPids(this.paths);
  }

  remove(kill: (pid: number) => void): void {
    removeCgroups(this.paths, kill);
  }

  /** The v1 devices hierarchy, if devices is a v1 controller here. */
  private v1Devices(): CgroupHierarchy | undefined {
    return this.hierarchies.find((h) => h.version === 1 && h.controllers.includes('devices'));
  }
}
