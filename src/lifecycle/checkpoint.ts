// `checkpoint` (issue 18): the container's processes dumped by criu into the image directory, as
// runc does it. Unless --leave-running or --pre-dump, criu has killed them by the end and the
// container is deleted (poststop hooks, cgroups, state); a dump that fails leaves the container
// running as it was (criu thaws what it froze) and says why, with criu's own error lines.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containerCgroups } from '../cgroups';
import { TsruncError, UsageError, isErrno, systemError } from '../errors';
import type { Logger } from '../log';
import { native } from '../native/addon';
import { computeStatus } from '../state/status';
import type { ContainerHandle, ContainerRecord } from '../state/store';
import { CriuSwrk, findCriu, versionNumber, type CriuOpts, type CriuReq, type CriuResp } from './criu';
import {
  DESCRIPTORS_FILE,
  DUMP_LOG,
  checkParentPath,
  commonOptions,
  criuConfigFile,
  dumpExternalNamespaces,
  externalMounts,
  pageServer,
  type CheckpointFlags,
} from './criu-request';
import { deleteContainer } from './delete';

/** The image directory runc uses when none is given: ./checkpoint. */
export function imageDirectory(given: string | undefined): string {
  return path.resolve(given === undefined || given === '' ? 'checkpoint' : given);
}

/** A directory made (0700, parents too) if need be and opened; the fd is the caller's. */
export function openDirectory(dir: string, what: string, make: boolean): number {
  try {
    if (make) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    throw systemError(`${what} ${dir}`, err);
  }
}

/** criu's error lines from its log (at most 20), for the message of a failed dump or restore. */
export function criuLogErrors(logFile: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => /\bError\b|\berror\b/.test(l) && !/^\s*$/.test(l))
    .slice(-20)
    .map((l) => l.replace(/^\(\s*[\d.]+\)\s*/, '').trim());
}

/** runc's words for a request criu refused, with criu's own reasons after them. */
export function criuFailure(resp: CriuResp, logFile: string, id?: string): TsruncError {
  const said = (resp.cr_errmsg ?? '').trim();
  // (criu's own message is its last error line: not twice)
  const errors = criuLogErrors(logFile).filter((l) => l !== said);
  const msg =
    `criu failed: type ${resp.type} errno ${resp.cr_errno ?? 0}` +
    (said !== '' ? `: ${said}` : '') +
    `\nlog file: ${logFile}` +
    (errors.length > 0 ? `\n${errors.join('\n')}` : '');
  return new TsruncError('system', msg, { containerId: id });
}

/** Asks criu (keep_open) which of `features` it has; refuses, in runc's words, what it lacks. */
export function requireFeatures(criu: CriuSwrk, features: { mem_track?: boolean; lazy_pages?: boolean }): void {
  const resp = criu.call({ type: 'FEATURE_CHECK', keep_open: true, features });
  if (!resp.success) throw new TsruncError('system', 'CRIU feature check failed');
  const missing = Object.keys(features).filter((k) => resp.features?.[k as keyof typeof features] !== true);
  if (missing.length > 0)
    throw new TsruncError('system', `CRIU is missing features: ${missing.join(', ')} (criu feature check)`);
}

/** criu's version, asked on the same connection (keep_open); runc needs 3.0 or later. */
export function criuVersion(criu: CriuSwrk): number {
  const resp = criu.call({ type: 'VERSION', keep_open: true });
  if (!resp.success || resp.version === undefined) throw new TsruncError('system', 'criu did not say its version');
  const v = versionNumber(resp.version);
  if (v < 30000) throw new TsruncError('system', `CRIU version ${v} must be 30000 or higher`);
  return v;
}

/** The freezer criu uses to stop the container (a v1 freezer, else cgroup v2's), runc's choice. */
function freezerOf(record: ContainerRecord): string | undefined {
  const cg = containerCgroups(record, record.id);
  const v1 = cg.hierarchies.find((h) => h.version === 1 && h.controllers.includes('freezer'));
  if (v1 !== undefined) return cg.paths[v1.key];
  const v2 = cg.hierarchies.find((h) => h.version === 2);
  return v2 === undefined || cg.hierarchies.some((h) => h.version === 1) ? undefined : cg.paths[v2.key];
}

/** The init's fds 0..2 as /proc shows them ("pipe:[123]", "/dev/null"): restore hands pipes back. */
function descriptorsOf(pid: number): string[] {
  const out: string[] = [];
  for (let fd = 0; fd < 3; fd++) {
    try {
      out.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      out.push('/dev/null');
    }
  }
  return out;
}

export function checkpointContainer(
  handle: ContainerHandle,
  flags: CheckpointFlags,
  criuName: string,
  log: Logger,
): void {
  // Every flag is checked first, before anything is looked at or made.
  const ps = pageServer(flags.pageServer);
  const parent = checkParentPath(flags.parentPath);
  if (flags.statusFd !== undefined && !(flags.lazyPages ?? false))
    throw new UsageError('--status-fd is only used with --lazy-pages');
  const base = commonOptions(flags, -1, DUMP_LOG);
  const record = handle.read();
  const id = record.id;
  const status = computeStatus(record, handle.dir);
  if (status === 'created' || status === 'stopped')
    throw new TsruncError('state', `Container cannot be checkpointed in ${status} state`, { containerId: id });
  const binary = findCriu(criuName);
  const imageDir = imageDirectory(flags.imagePath);
  if (parent !== undefined) {
    const real = path.join(imageDir, parent);
    let isDir = false;
    try {
      isDir = fs.statSync(real).isDirectory();
    } catch (err) {
      throw new UsageError(`invalid --parent-path: ${(err as Error).message}`);
    }
    if (!isDir) throw new UsageError(`invalid --parent-path: ${real}: not a directory`);
  }
  if (flags.statusFd !== undefined) checkStatusFd(flags.statusFd);
  const n = native();
  const opened: number[] = [];
  try {
    const imagesFd = openDirectory(imageDir, 'making the image directory', true);
    opened.push(imagesFd);
    let logDir = imageDir;
    const opts: CriuOpts = {
      ...base,
      images_dir_fd: imagesFd,
      root: record.rootfs,
      pid: record.initPid,
      leave_running: flags.leaveRunning ?? false,
    };
    if (flags.workPath !== undefined && flags.workPath !== '') {
      logDir = path.resolve(flags.workPath);
      const workFd = openDirectory(logDir, 'making the work directory', true);
      opened.push(workFd);
      opts.work_dir_fd = workFd;
    }
    const config = criuConfigFile(record.config, fs.existsSync);
    if (config !== undefined) opts.config_file = config;
    const external = dumpExternalNamespaces(record.config, (p) => {
      try {
        return fs.statSync(p).ino;
      } catch (err) {
        throw systemError(`the namespace ${p} the container joined`, err, id);
      }
    });
    if (external.length > 0) opts.external = external;
    const freezer = freezerOf(record);
    if (freezer !== undefined) opts.freeze_cgroup = freezer;
    if (ps !== undefined) opts.ps = ps;
    if (parent !== undefined) {
      opts.parent_img = parent;
      opts.track_mem = true;
    }
    if (!(flags.preDump ?? false)) {
      opts.ext_mnt = externalMounts(record.config, record.bundle, containerCgroups(record, id), 'dump', (p) => {
        try {
          return !fs.statSync(`/proc/${record.initPid}/root/${p}`).isDirectory();
        } catch {
          return false;
        }
      });
      try {
        fs.writeFileSync(path.join(imageDir, DESCRIPTORS_FILE), JSON.stringify(descriptorsOf(record.initPid)), {
          mode: 0o600,
        });
      } catch (err) {
        throw systemError(`writing ${DESCRIPTORS_FILE} in the image directory`, err, id);
      }
    }
    const criu = new CriuSwrk(binary, [-1, -1, -1]);
    let resp: CriuResp;
    try {
      criuVersion(criu);
      if (flags.preDump ?? false) requireFeatures(criu, { mem_track: true });
      if (flags.lazyPages ?? false) requireFeatures(criu, { lazy_pages: true });
      const req: CriuReq = { type: flags.preDump ? 'PRE_DUMP' : 'DUMP', opts };
      log.debug(() => `checkpoint ${id}: criu ${req.type} of pid ${record.initPid} into ${imageDir}`);
      resp = criu.call(req, (script) => {
        if (script === 'status-ready' && flags.statusFd !== undefined) {
          fs.writeSync(flags.statusFd, Buffer.from([0]));
          fs.closeSync(flags.statusFd);
        }
      });
    } finally {
      criu.finish();
    }
    if (!resp.success) throw criuFailure(resp, path.join(logDir, DUMP_LOG), id);
  } finally {
    for (const fd of opened) n.closeFd(fd);
  }
  // As runc: unless told to leave it, the checkpointed container is gone (criu killed its
  // processes): its cgroups, state and poststop hooks as `delete` does them. In a private pid
  // namespace nothing of the container can be left in its cgroup, so whatever is there was
  // restored into it meanwhile (--lazy-pages: the dump ends once a restore pulled its pages)
  // and is spared, as runc's destroy spares it; else leftovers are killed, as runc kills them.
  if (!(flags.leaveRunning ?? false) && !(flags.preDump ?? false)) {
    const privatePid = (record.config.linux?.namespaces ?? []).some(
      (ns) => ns.type === 'pid' && (ns.path === undefined || ns.path === ''),
    );
    deleteContainer(handle, true, log, { spareNewcomers: privatePid });
  }
}

/** runc's check of --status-fd: open and writable. */
function checkStatusFd(fd: number): void {
  let flags: number;
  try {
    flags = fs.fstatSync(fd) && fcntlFlags(fd);
  } catch (err) {
    if (isErrno(err, 'EBADF')) throw new UsageError(`invalid --status-fd argument ${fd}: not an open file`);
    throw err;
  }
  if ((flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR)) === 0)
    throw new UsageError(`invalid --status-fd argument ${fd}: not writable`);
}

/** An fd's access mode, from /proc (node has no fcntl). */
function fcntlFlags(fd: number): number {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /^flags:\s*([0-7]+)/m.exec(info);
  return m === null ? 0 : Number.parseInt(m[1] as string, 8);
}
