// The cgroup hierarchies mounted on this host, read once per call from /proc/self/mountinfo:
// cgroup v1 (one per controller set, plus named ones like name=systemd), the v2 unified
// hierarchy, or both (hybrid hosts).
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CgroupHierarchy {
  /** Basename of the mount point: "memory", "cpu,cpuacct", "systemd", "unified", or "" for a pure v2 host. */
  key: string;
  mountpoint: string;
  version: 1 | 2;
  /** v1: controllers (and name=X); v2: the controllers in cgroup.controllers. */
  controllers: string[];
  /** The cgroup the mount shows as its root (not "/" inside a cgroup namespace). */
  root: string;
}

/** Directory of a container's cgroup in each hierarchy, keyed by CgroupHierarchy.key. */
export type CgroupPaths = Record<string, string>;

const MOUNT_OPTIONS = new Set([
  'rw',
  'ro',
  'nosuid',
  'nodev',
  'noexec',
  'relatime',
  'noatime',
  'clone_children',
  'xattr',
  'nsdelegate',
  'memory_recursiveprot',
  'favordynmods',
  'memory_localevents',
]);

/** The controllers a cgroup v2 hierarchy offers (its root's cgroup.controllers; none when unreadable). */
export function readV2Controllers(mountpoint: string): string[] {
  try {
    return fs.readFileSync(path.join(mountpoint, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** The hierarchies of a mountinfo text; a v2 hierarchy's controllers come from `v2Controllers` (the host's files by default). */
export function parseMountinfo(
  text: string,
  v2Controllers: (mountpoint: string) => string[] = readV2Controllers,
): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    const fstype = r[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountpoint = unescape(l[4] ?? '');
    const root = unescape(l[3] ?? '/');
    if (fstype === 'cgroup') {
      const controllers = (r[2] ?? '')
        .split(',')
        .filter((o) => !MOUNT_OPTIONS.has(o) && !o.startsWith('release_agent='));
      out.push({ key: path.basename(mountpoint), mountpoint, version: 1, controllers, root });
    } else {
      out.push({
        key: mountpoint === '/sys/fs/cgroup' ? '' : path.basename(mountpoint),
        mountpoint,
        version: 2,
        controllers: v2Controllers(mountpoint),
        root,
      });
    }
  }
  // A hierarchy mounted twice (bind mounts) counts once: keep the first mount point.
  const seen = new Set<string>();
  return out.filter((h) => {
    const id = `${h.version}:${h.controllers.join(',')}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The hierarchy as /proc/PID/cgroup names it: "" for cgroup v2, else its v1 controllers ("cpu,cpuacct", "name=systemd"). */
export function hierarchyName(h: CgroupHierarchy): string {
  return h.version === 2 ? '' : h.controllers.join(',');
}

let detected: CgroupHierarchy[] | undefined;

/** The host's layout, read once per command (forgetHierarchies: a resident worker's next command reads it again). */
export function detectHierarchies(): CgroupHierarchy[] {
  detected ??= parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  return detected;
}

/** Forgets the layout read (the host may have mounted or unmounted a hierarchy since). */
export function forgetHierarchies(): void {
  detected = undefined;
}

/** This process's own cgroup in `h` (from /proc/self/cgroup), as a path inside the hierarchy. */
export function ownCgroup(h: CgroupHierarchy, procSelfCgroup: string): string {
  for (const line of procSelfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m === null) continue;
    const [, , ctrl, p] = m;
    if (h.version === 2 && ctrl === '') return p ?? '/';
    if (h.version === 1 && ctrl !== '' && ctrl!.split(',').sort().join(',') === [...h.controllers].sort().join(','))
      return p ?? '/';
  }
  return '/';
}
