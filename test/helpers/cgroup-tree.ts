// A cgroup name's directories in every hierarchy of this host (v1 controllers, the unified
// hierarchy, or a pure v2 root), for tests that must find or remove what they made.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** /sys/fs/cgroup and the directories in it: every place a cgroup path may be rooted here. */
export function hierarchyRoots(): string[] {
  const top = '/sys/fs/cgroup';
  try {
    return [
      top,
      ...fs
        .readdirSync(top, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => path.join(top, e.name)),
    ];
  } catch {
    return [];
  }
}

/** Cgroup directories named `name` (and below), in every hierarchy of this host. */
export function cgroupTree(name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      // removed meanwhile (a client or runtime cleaning up at the same time): not there
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    found.push(dir);
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const base of hierarchyRoots()) {
    const dir = path.join(base, name);
    if (fs.existsSync(path.join(dir, 'cgroup.procs'))) walk(dir);
  }
  return found;
}

/** Removes the cgroup tree `name` in every hierarchy, deepest first; returns what could not be removed. */
export function removeCgroupTree(name: string): string[] {
  const left: string[] = [];
  for (const dir of cgroupTree(name).reverse()) {
    try {
      fs.rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  }
  return left;
}

/**
 * A file of the cgroup `name` (a path below the hierarchy roots, as a cgroup parent plus a
 * container's directory): `v1File` in the v1 `controller` hierarchy when it is there, else
 * `v2File` in the unified hierarchy (/sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup
 * on a pure v2 one). The caller tells which it got by the file name.
 */
export function cgroupFile(name: string, controller: string, v1File: string, v2File: string): string {
  const legacy = path.join('/sys/fs/cgroup', controller, name, v1File);
  if (fs.existsSync(legacy)) return legacy;
  const unified = fs.existsSync('/sys/fs/cgroup/unified') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
  return path.join(unified, name, v2File);
}
