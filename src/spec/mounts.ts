// What kind of mount a config.json entry is, decided once for validation and the planner.
import type { Problem } from '../errors';
import type { IdMapping, Mount, Spec } from './types';

/** A bind mount: type "bind", or a "bind" or "rbind" option whatever the type (as runc reads it). */
export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** runc's mount options asking for an idmapped mount: "idmap" (the top mount only) and "ridmap" (recursive). */
export const IDMAP_OPTIONS = ['idmap', 'ridmap'] as const;

/** The last idmap/ridmap option of a mount (runc: the last one wins), with its index. */
export function idmapOption(m: Mount): { index: number; recursive: boolean } | undefined {
  let found: { index: number; recursive: boolean } | undefined;
  (m.options ?? []).forEach((o, index) => {
    if (o === 'idmap' || o === 'ridmap') found = { index, recursive: o === 'ridmap' };
  });
  return found;
}

/** A mount asks for an id mapping: uidMappings/gidMappings of its own, or an idmap/ridmap option. */
export function isIdmappedMount(m: Mount): boolean {
  return m.uidMappings !== undefined || m.gidMappings !== undefined || idmapOption(m) !== undefined;
}

/** The id mapping of an idmapped mount, as runc 1.2 resolves it. */
export interface MountIdmap {
  /** Written as they are to the uid_map/gid_map of a user namespace made for the mount (containerID: the id on the filesystem; hostID: the id it is seen as). */
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** ridmap: every mount of an rbind tree is idmapped, not only the top one. */
  recursive: boolean;
  /** The mappings are the container's own (idmap/ridmap without uidMappings/gidMappings). */
  implied: boolean;
}

/**
 * runc's resolution (libcontainer/specconv): the mount's own uidMappings/gidMappings when it has
 * them; else, for an idmap/ridmap option, those of the container's new user namespace. undefined
 * when the mount is not idmapped or the container has no mappings to take (validation says why).
 */
export function mountIdmap(m: Mount, spec: Spec): MountIdmap | undefined {
  const option = idmapOption(m);
  const recursive = option?.recursive ?? false;
  if (m.uidMappings !== undefined || m.gidMappings !== undefined)
    return { uidMappings: m.uidMappings ?? [], gidMappings: m.gidMappings ?? [], recursive, implied: false };
  if (option === undefined) return undefined;
  const linux = spec.linux;
  const newUserns = (linux?.namespaces ?? []).some((n) => n.type === 'user' && !n.path);
  if (!newUserns || linux?.uidMappings === undefined || linux.gidMappings === undefined) return undefined;
  return { uidMappings: linux.uidMappings, gidMappings: linux.gidMappings, recursive, implied: true };
}

/** The kernel's limits on a uid_map/gid_map write: 340 lines, less than a page of text. */
export const ID_MAP_MAX_LINES = 340;
export const ID_MAP_MAX_BYTES = 4095;

/** A mapping as uid_map/gid_map take it: "containerID hostID size" a line. */
export function idMapText(maps: readonly IdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/**
 * What the kernel would refuse in a uid_map/gid_map write of `maps` (at pointer `at`), checked
 * before anything is made: an empty range, a range past 4294967294 on either side, ranges that
 * overlap on either side, too many lines or too much text.
 */
export function idMappingProblems(at: string, maps: readonly IdMapping[]): Problem[] {
  const out: Problem[] = [];
  if (maps.length > ID_MAP_MAX_LINES)
    out.push({ pointer: at, message: `has ${maps.length} ranges; the kernel takes at most ${ID_MAP_MAX_LINES}` });
  else if (idMapText(maps).length > ID_MAP_MAX_BYTES)
    out.push({ pointer: at, message: `is more text than the kernel takes in one write (${ID_MAP_MAX_BYTES} bytes)` });
  maps.forEach((m, i) => {
    if (m.size === 0) {
      out.push({ pointer: `${at}/${i}/size`, message: 'must be at least 1' });
      return;
    }
    for (const side of ['containerID', 'hostID'] as const) {
      if (m[side] + m.size > 0xffffffff)
        out.push({
          pointer: `${at}/${i}/${side}`,
          message: `${side} + size must be at most 4294967295 (4294967295 is no id), got ${m[side]} + ${m.size}`,
        });
    }
    for (let j = 0; j < i; j++) {
      const o = maps[j] as IdMapping;
      if (o.size === 0) continue;
      for (const side of ['containerID', 'hostID'] as const) {
        if (m[side] < o[side] + o.size && o[side] < m[side] + m.size)
          out.push({ pointer: `${at}/${i}/${side}`, message: `range overlaps ${at}/${j}` });
      }
    }
  });
  return out;
}

/**
 * What is wrong with an idmapped mount (mount uidMappings/gidMappings, runc's idmap/ridmap
 * options) at pointer `at`, with runc 1.2's rules and words (libcontainer/configs/validate
 * checkIDMapMounts): a bind mount only, not for a rootless container, both mappings given (or,
 * for idmap/ridmap without them, the container's new user namespace to take them from), and
 * mappings the kernel takes. A container without a user namespace may have one, as with runc
 * 1.2. tsrunc's own limit: not when the container joins a user namespace. Validation and the
 * planner both ask (the planner fails closed).
 */
export function idmapProblems(m: Mount, at: string, spec: Spec, rootless: boolean): Problem[] {
  const out: Problem[] = [];
  (m.options ?? []).forEach((o, j) => {
    if (/^r?idmap=/.test(o))
      out.push({
        pointer: `${at}/options/${j}`,
        message: `${JSON.stringify(o)}: mappings inside the option are crun's syntax, which runc and tsrunc do not take; give the mount uidMappings and gidMappings (with "idmap" or "ridmap", or neither)`,
      });
  });
  if (!isIdmappedMount(m)) return out;
  const option = idmapOption(m);
  const explicit = m.uidMappings !== undefined || m.gidMappings !== undefined;
  const where = explicit ? `${at}/uidMappings` : `${at}/options/${option?.index ?? 0}`;
  const refuse = (message: string): Problem[] => [...out, { pointer: where, message }];
  if (!isBindMount(m)) return refuse('id-mapped mounts are only supported for bind-mounts');
  if (rootless) return refuse('id-mapped mounts are not supported for rootless containers');
  const userns = (spec.linux?.namespaces ?? []).find((n) => n.type === 'user');
  if (userns?.path !== undefined && userns.path !== '')
    return refuse(
      'id-mapped mounts are not supported by tsrunc when the container joins a user namespace (linux.namespaces path): its init is in that namespace before it opens the bind sources, and only the host user namespace may idmap them',
    );
  if (explicit) {
    for (const key of ['uidMappings', 'gidMappings'] as const) {
      const maps = m[key] ?? [];
      if (maps.length === 0)
        out.push({
          pointer: `${at}/${key}`,
          message: 'id-mapped mounts must have both uid and gid mappings specified',
        });
      else out.push(...idMappingProblems(`${at}/${key}`, maps));
    }
    return out;
  }
  if (mountIdmap(m, spec) === undefined)
    return refuse(
      `id-mapped mounts must have both uid and gid mappings specified: "${option?.recursive ? 'ridmap' : 'idmap'}" without uidMappings and gidMappings takes the container's user namespace mappings, and the container has no user namespace of its own with mappings`,
    );
  return out;
}
