// Cgroup directories of one container: where they are (runc's cgroupsPath rules), creating
// them, moving a process in, listing and signalling their processes, removing them.
// Resource limits and the systemd driver come with the cgroups issue.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, systemError } from '../errors';
import { sleepMs } from '../util/sleep';
import { detectHierarchies, ownCgroup, type CgroupHierarchy } from './hierarchy';

/** Directory of the container's cgroup in each hierarchy, keyed by hierarchy key. */
export type CgroupPaths = Record<string, string>;

/**
 * runc's cgroupfs rules: an absolute cgroupsPath is taken from each hierarchy's root; a
 * relative one (and the default, the container id) goes under the runtime's own cgroup.
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
  for (const h of hierarchies) {
    const inHierarchy = path.isAbsolute(wanted) ? cleaned : path.posix.join(ownCgroup(h, own), cleaned);
    // The mount may show a subtree (root != "/"): paths are relative to what it shows.
    const rel = h.root !== '/' && inHierarchy.startsWith(h.root) ? inHierarchy.slice(h.root.length) : inHierarchy;
    out[h.key] = path.join(h.mountpoint, rel);
  }
  return out;
}

/**
 * Creates every directory (and parents); cpuset parents get their parent's cpus and mems, and
 * on v2 every ancestor enables the controllers the container's limits need.
 */
export function createCgroups(paths: CgroupPaths, hierarchies: CgroupHierarchy[] = detectHierarchies(), v2Controllers: string[] = []): string[] {
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
export function enableV2Controllers(paths: CgroupPaths, controllers: string[], hierarchies: CgroupHierarchy[] = detectHierarchies()): void {
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

/** What is already at the container's cgroup paths before create makes them. */
export interface ExistingCgroups {
  /** Where a freezer holds the cgroup (its own or an ancestor's), if one does. */
  frozen?: string;
  /** Processes already in the cgroup or below it, in any hierarchy. */
  pids: number[];
}

/**
 * runc's checks before it creates a container (libcontainer's factory): a frozen cgroup would
 * freeze the init as it joins, so create would wait for it forever; a cgroup with processes
 * in it is used all the same, with a warning. The nearest existing directory is read in each
 * freezer (v1 freezer.state, v2 cgroup.events), so that a frozen ancestor counts as well.
 */
export function inspectExistingCgroups(paths: CgroupPaths, hierarchies: CgroupHierarchy[] = detectHierarchies()): ExistingCgroups {
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
      return /^frozen 1$/m.test(fs.readFileSync(path.join(cur, 'cgroup.events'), 'utf8')) ? `${path.join(cur, 'cgroup.events')}: frozen 1` : undefined;
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
      return fs
        .readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number);
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
      if (!isErrno(err, 'EBUSY') || attempt >= 200) throw new TsruncError('system', `removing cgroup ${dir}: ${(err as Error).message}`, { cause: err });
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
