// What tsrunc asks CRIU for (issue 18), decided from the container's config and a few host facts
// only — no system call here, so that test/unit/criu-request.test.ts checks it without root or
// criu. The rules are runc's (libcontainer's Checkpoint and Restore): which of the container's
// mounts are external to its mount namespace (binds, a cgroup mount that binds the host's
// cgroups, /dev/null over masked files, bound devices), which namespaces joined by path are
// external, and the flags as runc maps them.
import * as path from 'node:path';
import { TsruncError, UsageError } from '../errors';
import type { CgroupHierarchy, CgroupPaths } from '../cgroups';
import { DEFAULT_DEVICES } from '../spec/devices';
import { NAMESPACES } from '../spec/linux-names';
import { isBindMount } from '../spec/mounts';
import type { Spec } from '../spec/types';
import type { CriuCgMode, CriuOpts } from './criu';

/** The flags checkpoint and restore share (runc's names, camelCased). */
export interface CriuFlags {
  imagePath?: string;
  workPath?: string;
  tcpEstablished?: boolean;
  extUnixSk?: boolean;
  shellJob?: boolean;
  lazyPages?: boolean;
  fileLocks?: boolean;
  manageCgroupsMode?: string;
  emptyNs?: string[];
  autoDedup?: boolean;
}

export interface CheckpointFlags extends CriuFlags {
  parentPath?: string;
  leaveRunning?: boolean;
  preDump?: boolean;
  /** --page-server ADDRESS:PORT */
  pageServer?: string;
  /** --status-fd: criu writes \0 to it once lazy pages can be served. */
  statusFd?: number;
}

export interface RestoreFlags extends CriuFlags {
  lsmProfile?: string;
  lsmMountContext?: string;
}

/** The file in the image directory that keeps what the init's fds 0..2 were (runc's name). */
export const DESCRIPTORS_FILE = 'descriptors.json';
/** Where criu writes its log, in the work directory (or the image directory). */
export const DUMP_LOG = 'dump.log';
export const RESTORE_LOG = 'restore.log';
/** The state directory's bind of the rootfs that criu restores into (runc's name). */
export const CRIU_ROOT = 'criu-root';
/** runc's configuration file for criu, used unless the org.criu.config annotation says otherwise. */
export const DEFAULT_CRIU_CONFIG = '/etc/criu/runc.conf';

/** --manage-cgroups-mode as criu's enum; runc's words for a bad one. */
export function cgroupsMode(mode: string | undefined): CriuCgMode | undefined {
  if (mode === undefined || mode === '') return undefined;
  const known: Record<string, CriuCgMode> = { soft: 'SOFT', full: 'FULL', strict: 'STRICT', ignore: 'IGNORE' };
  const m = known[mode];
  if (m === undefined)
    throw new UsageError(`Invalid manage cgroups mode: ${JSON.stringify(mode)} (soft, full, strict or ignore)`);
  return m;
}

/** --empty-ns as the CLONE_NEW* mask criu takes. */
export function emptyNsMask(names: readonly string[]): number {
  let mask = 0;
  for (const name of names) {
    const ns = (NAMESPACES as Record<string, { flag: number } | undefined>)[name];
    if (ns === undefined || name === 'time') throw new UsageError(`namespace ${JSON.stringify(name)} is not supported`);
    mask |= ns.flag;
  }
  return mask >>> 0;
}

/** --page-server ADDRESS:PORT, refused in runc's words. */
export function pageServer(spec: string | undefined): { address: string; port: number } | undefined {
  if (spec === undefined || spec === '') return undefined;
  const parts = spec.split(':');
  if (parts.length !== 2) throw new UsageError('Use --page-server ADDRESS:PORT to specify page server');
  const port = Number(parts[1]);
  if (!/^\d+$/.test(parts[1] ?? '') || !Number.isSafeInteger(port) || port > 65535)
    throw new UsageError(`Invalid port number: --page-server ${spec}`);
  return { address: parts[0] ?? '', port };
}

/** --parent-path: relative to the image directory, as runc requires. */
export function checkParentPath(parent: string | undefined): string | undefined {
  if (parent === undefined || parent === '') return undefined;
  if (path.isAbsolute(parent)) throw new UsageError('--parent-path must be relative');
  return parent;
}

/** The criu configuration file: the org.criu.config annotation ("" for none), else runc's file where it exists. */
export function criuConfigFile(spec: Spec, exists: (file: string) => boolean): string | undefined {
  const annotated = spec.annotations?.['org.criu.config'];
  if (annotated !== undefined) return annotated === '' ? undefined : annotated;
  return exists(DEFAULT_CRIU_CONFIG) ? DEFAULT_CRIU_CONFIG : undefined;
}

/** The host's cgroups as the container's cgroup mount shows them (see the planner's cgroupMount). */
export interface CgroupView {
  hierarchies: CgroupHierarchy[];
  /** The container's cgroup directory in each hierarchy. */
  paths: CgroupPaths;
}

/**
 * The container's mounts that come from outside its mount namespace, as criu's ext_mnt pairs of
 * (mount point in the container, external id): a dump names them, a restore maps each id to the
 * host path to bind there. The id is the mount point (runc's choice), /dev/null for masked files.
 * `maskedFile(p)`: whether masked path p is a file (bound over by /dev/null) — a dump asks.
 */
export function externalMounts(
  spec: Spec,
  bundle: string,
  cgroups: CgroupView,
  mode: 'dump' | 'restore',
  maskedFile: (p: string) => boolean = () => false,
): { key: string; val: string }[] {
  const out = new Map<string, string>();
  const add = (mountPoint: string, hostPath: string): void => {
    const dest = path.posix.normalize(path.posix.join('/', mountPoint)).replace(/(.)\/+$/, '$1');
    if (mode === 'dump') out.set(dest, dest);
    else out.set(dest, hostPath);
  };
  const namespaced = (spec.linux?.namespaces ?? []).some((n) => n.type === 'cgroup' && n.path === undefined);
  for (const m of spec.mounts ?? []) {
    if (m.type === 'cgroup') {
      if (namespaced) continue;
      const { hierarchies, paths } = cgroups;
      const pureV2 = hierarchies.length === 1 && hierarchies[0]?.version === 2;
      const shown = hierarchies.some((h) => h.version === 1) ? hierarchies.filter((h) => h.version === 1) : hierarchies;
      if (pureV2) {
        const h = hierarchies[0] as CgroupHierarchy;
        add(m.destination, paths[h.key] ?? h.mountpoint);
      } else {
        for (const h of shown) {
          const src = paths[h.key];
          if (src !== undefined) add(path.posix.join(m.destination, h.key), src);
        }
      }
      continue;
    }
    if (isBindMount(m)) add(m.destination, path.resolve(bundle, m.source ?? ''));
  }
  const masked = spec.linux?.maskedPaths ?? [];
  if (mode === 'dump') {
    for (const p of masked) if (maskedFile(p)) out.set(path.posix.normalize(p).replace(/(.)\/+$/, '$1'), '/dev/null');
  } else if (masked.length > 0) out.set('/dev/null', '/dev/null');
  const devices = new Set<string>([
    ...DEFAULT_DEVICES.map((d) => d.path),
    ...(spec.linux?.devices ?? []).map((d) => d.path),
  ]);
  for (const d of devices) add(d, d);
  return [...out].map(([key, val]) => ({ key, val }));
}

/** The key criu gives an external namespace of `type` (runc's: extRootNetNS, extRootPidNS). */
export function externalNsKey(type: 'network' | 'pid'): string {
  return type === 'network' ? 'extRootNetNS' : 'extRootPidNS';
}

/**
 * A dump's external namespaces: the network and pid namespaces the container joined by path
 * ("net[INODE]:extRootNetNS"), which a restore must be given back (restoreNamespaces).
 */
export function dumpExternalNamespaces(spec: Spec, inodeOf: (nsPath: string) => number): string[] {
  const out: string[] = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.path === undefined || (ns.type !== 'network' && ns.type !== 'pid')) continue;
    out.push(`${NAMESPACES[ns.type].proc}[${inodeOf(ns.path)}]:${externalNsKey(ns.type)}`);
  }
  return out;
}

/**
 * A restore's namespaces given by path: network and pid are handed to criu (inherit_fd of their
 * files, opened by the caller); any other is refused, as runc refuses it.
 */
export function restoreNamespaces(spec: Spec): { type: 'network' | 'pid'; path: string; key: string }[] {
  const out: { type: 'network' | 'pid'; path: string; key: string }[] = [];
  for (const [i, ns] of (spec.linux?.namespaces ?? []).entries()) {
    if (ns.path === undefined) continue;
    if (ns.type !== 'network' && ns.type !== 'pid')
      throw new TsruncError(
        'config',
        `/linux/namespaces/${i}/path: a container that joins a ${ns.type} namespace cannot be restored (criu restores only network and pid namespaces given by path, as with runc)`,
      );
    out.push({ type: ns.type, path: ns.path, key: externalNsKey(ns.type) });
  }
  return out;
}

/** inherit_fd for the init's fds 0..2 that were pipes: criu puts the restoring process's own in their place. */
export function stdioInherit(descriptors: readonly string[]): { key: string; fd: number }[] {
  const out: { key: string; fd: number }[] = [];
  descriptors.forEach((d, fd) => {
    if (fd < 3 && d.includes('pipe:')) out.push({ key: d, fd });
  });
  return out;
}

/**
 * A restore's cg_root: where criu restores the image's cgroups, from /proc/PID/cgroup of criu
 * once it is in the container's cgroups — one entry per line, as runc (1.2 and later) sends
 * them: "N:ctrl,ctrl:/path" as each controller's root, cgroup v2's "0::/path" as controller ""
 * (criu's name for the unified hierarchy). Without it criu puts the restored processes in the
 * cgroup the image recorded — the checkpointed container's, not the one this restore made and
 * records (another id, another cgroupsPath), where delete, pause, ps and a lazy dump's cleanup
 * would not find them (runc 1.1 sent none on cgroup v2, and has that problem).
 */
export function cgroupRoots(procCgroup: string): { ctrl: string; path: string }[] {
  const out: { ctrl: string; path: string }[] = [];
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (m === null) continue;
    for (const ctrl of (m[1] as string).split(',')) out.push({ ctrl, path: m[2] as string });
  }
  return out;
}

/** The options both kinds of request share (runc sets the same). */
export function commonOptions(flags: CriuFlags, imagesDirFd: number, log: string): CriuOpts {
  const opts: CriuOpts = {
    images_dir_fd: imagesDirFd,
    log_level: 4,
    log_file: log,
    manage_cgroups: true,
    notify_scripts: true,
    shell_job: flags.shellJob ?? false,
    ext_unix_sk: flags.extUnixSk ?? false,
    tcp_established: flags.tcpEstablished ?? false,
    file_locks: flags.fileLocks ?? false,
    empty_ns: emptyNsMask(flags.emptyNs ?? []),
    orphan_pts_master: true,
    auto_dedup: flags.autoDedup ?? false,
    lazy_pages: flags.lazyPages ?? false,
  };
  const mode = cgroupsMode(flags.manageCgroupsMode);
  if (mode !== undefined) opts.manage_cgroups_mode = mode;
  return opts;
}

/**
 * restore's --lsm-profile (TYPE:NAME, criu checks it) and --lsm-mount-context as criu's options;
 * refused in runc's words when criu is older than 3.16 (whose restore could not set another
 * profile). Empty flags are none, as with runc.
 */
export function lsmOptions(
  flags: Pick<RestoreFlags, 'lsmProfile' | 'lsmMountContext'>,
  criuVersion: number,
): Pick<CriuOpts, 'lsm_profile' | 'lsm_mount_context'> {
  const out: Pick<CriuOpts, 'lsm_profile' | 'lsm_mount_context'> = {};
  if (flags.lsmProfile !== undefined && flags.lsmProfile !== '') {
    if (criuVersion < 31600) throw new TsruncError('system', '--lsm-profile requires at least CRIU 3.16');
    out.lsm_profile = flags.lsmProfile;
  }
  if (flags.lsmMountContext !== undefined && flags.lsmMountContext !== '') {
    if (criuVersion < 31600) throw new TsruncError('system', '--lsm-mount-context requires at least CRIU 3.16');
    out.lsm_mount_context = flags.lsmMountContext;
  }
  return out;
}
