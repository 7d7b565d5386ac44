// `restore` (issue 18): a container made again from a bundle and a checkpoint's images, as runc
// does it: the config validated and the cgroups made as `create` makes them, then `criu swrk`
// (in those cgroups before it starts) restores the process tree as a sibling of itself — a child
// of this process, as `create`'s init is. prestart and createRuntime hooks run when criu has made
// the namespaces, the record is written when criu says the tree is restored, and a restore that
// fails leaves nothing: the restored processes killed, cgroups and state removed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TsruncError, systemError } from '../errors';
import type { Logger } from '../log';
import { native } from '../native/addon';
import type { State } from '../spec/types';
import { readProcStat } from '../state/proc';
import { ownerOf, stateDocument } from '../state/status';
import type { ContainerHandle } from '../state/store';
import { criuFailure, criuVersion, imageDirectory, openDirectory } from './checkpoint';
import { CriuSwrk, findCriu, type CriuOpts, type CriuResp } from './criu';
import {
  CRIU_ROOT,
  DESCRIPTORS_FILE,
  RESTORE_LOG,
  cgroupRoots,
  commonOptions,
  criuConfigFile,
  externalMounts,
  lsmOptions,
  restoreNamespaces,
  stdioInherit,
  type RestoreFlags,
} from './criu-request';
import {
  firstRecord,
  namespacePaths,
  planContainer,
  writePidFile,
  type CreateContext,
  type CreateOptions,
} from './create';
import { runHooks } from './hooks';
import { prepareRestoreMountpoints } from './restore-mounts';
import { connectSocket } from './session';

export interface RestoreOptions extends RestoreFlags {
  id: string;
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  noPivot?: boolean;
}

/** What restore must undo when it fails, in reverse. */
class Undo {
  pid = 0;
  cgroups: (() => void) | undefined;
  mount: string | undefined;
  handle: ContainerHandle | undefined;

  /** criu's root bind, unmounted before anything else (nothing is ever removed through it). */
  unmount(log: Logger): void {
    const dir = this.mount;
    if (dir === undefined) return;
    this.mount = undefined;
    try {
      native().unmountDetach(dir);
      fs.rmdirSync(dir);
    } catch (err) {
      log.warn(`removing criu's root bind ${dir}: ${(err as Error).message}`);
    }
  }

  run(log: Logger): void {
    this.unmount(log);
    if (this.pid > 0) native().kill(this.pid, 9);
    try {
      this.cgroups?.();
    } catch (err) {
      log.warn(`cleaning up cgroups: ${(err as Error).message}`);
    }
    this.handle?.remove();
  }
}

/** The init's pid and its cgroups of a restored container (its record is written). */
export function restoreContainer(ctx: CreateContext & { criu: string }, opts: RestoreOptions): State {
  const createOpts: CreateOptions = { id: opts.id, bundle: opts.bundle, noPivot: opts.noPivot ?? false };
  if (opts.consoleSocket !== undefined) createOpts.consoleSocket = opts.consoleSocket;
  if (opts.pidFile !== undefined) createOpts.pidFile = opts.pidFile;
  // The config and the cgroups are checked as for create; every flag before anything is made.
  const planned = planContainer(ctx, createOpts);
  const { spec, plan, cgroups } = planned;
  const namespaces = restoreNamespaces(spec);
  const base = commonOptions(opts, -1, RESTORE_LOG);
  if (spec.process?.terminal === true && opts.consoleSocket === undefined)
    throw new TsruncError(
      'usage',
      'the container has a terminal (/process/terminal): restore it with --console-socket, which receives the pty master criu restores',
    );
  const binary = findCriu(ctx.criu);
  const imageDir = imageDirectory(opts.imagePath);
  const n = native();
  const opened: number[] = [];
  const undo = new Undo();
  try {
    const imagesFd = openDirectory(imageDir, 'opening the image directory', false);
    opened.push(imagesFd);
    let descriptors: string[];
    try {
      descriptors = JSON.parse(fs.readFileSync(path.join(imageDir, DESCRIPTORS_FILE), 'utf8')) as string[];
      if (!Array.isArray(descriptors) || descriptors.some((d) => typeof d !== 'string'))
        throw new Error('not a list of strings');
    } catch (err) {
      throw systemError(`reading ${DESCRIPTORS_FILE} of the checkpoint in ${imageDir}`, err, opts.id);
    }
    let logDir = imageDir;
    const criuOpts: CriuOpts = { ...base, images_dir_fd: imagesFd, evasive_devices: true, rst_sibling: true };
    if (opts.workPath !== undefined && opts.workPath !== '') {
      logDir = path.resolve(opts.workPath);
      const workFd = openDirectory(logDir, 'making the work directory', true);
      opened.push(workFd);
      criuOpts.work_dir_fd = workFd;
    }
    const config = criuConfigFile(spec, fs.existsSync);
    if (config !== undefined) criuOpts.config_file = config;
    criuOpts.ext_mnt = externalMounts(spec, path.resolve(opts.bundle), cgroups, 'restore');
    // The namespaces the container joins by path, as criu's fds 4.. (extraFdSlot).
    const nsFds: number[] = [];
    const inherit = stdioInherit(descriptors);
    for (const ns of namespaces) {
      let fd: number;
      try {
        fd = fs.openSync(ns.path, fs.constants.O_RDONLY);
      } catch (err) {
        throw systemError(`opening the ${ns.type} namespace ${ns.path}`, err, opts.id);
      }
      opened.push(fd);
      inherit.push({ key: ns.key, fd: CriuSwrk.extraFdSlot(nsFds.length) });
      nsFds.push(fd);
    }
    if (inherit.length > 0) criuOpts.inherit_fd = inherit;

    const record = firstRecord(opts.id, path.resolve(opts.bundle), planned, true);
    const handle = ctx.store.reserve(opts.id, record);
    undo.handle = handle;
    const state = (status: State['status']): State => stateDocument(record, status, ownerOf(handle.dir));
    try {
      prepareRestoreMountpoints(spec, plan.rootfs, path.resolve(opts.bundle), opts.id);
      // criu restores into a root that is a mount point whose parent is not overmounted: a bind
      // of the rootfs, outside the state directory (never under anything removed recursively).
      const root = fs.mkdtempSync(path.join(os.tmpdir(), `tsrunc-${CRIU_ROOT}-`));
      try {
        n.bindMount(plan.rootfs, root);
      } catch (err) {
        fs.rmdirSync(root);
        throw systemError(`binding the rootfs for criu at ${root}`, err, opts.id);
      }
      undo.mount = root;
      criuOpts.root = root;

      const criu = new CriuSwrk(binary, [0, 1, 2], nsFds);
      let resp: CriuResp;
      try {
        // criu joins the container's cgroups (limits first) before it restores anything in them.
        undo.cgroups = () => cgroups.remove((pid) => native().kill(pid, 9));
        cgroups.create(planned.cgroupSetup);
        cgroups.join(criu.pid);
        const roots = cgroupRoots(readCgroupFile(criu.pid));
        if (roots.length > 0) criuOpts.cg_root = roots;
        // --lsm-profile and --lsm-mount-context: criu 3.16 or later, as runc requires.
        Object.assign(criuOpts, lsmOptions(opts, criuVersion(criu)));
        ctx.log.debug(() => `restore ${opts.id}: criu RESTORE from ${imageDir} into ${plan.rootfs}`);
        resp = criu.call({ type: 'RESTORE', opts: criuOpts }, (script, pid, fds) => {
          try {
            if (script === 'setup-namespaces') {
              record.initPid = pid;
              runHooks(spec, 'prestart', state('creating'), ctx.log, 'fail');
              runHooks(spec, 'createRuntime', state('creating'), ctx.log, 'fail');
            } else if (script === 'post-restore') {
              record.initPid = pid;
              undo.pid = pid;
              record.initStartTime = readProcStat(pid)?.startTime ?? 0;
              record.namespacePaths = namespacePaths(spec, pid);
              handle.write(record);
            } else if (script === 'orphan-pts-master' && fds[0] !== undefined) {
              sendConsole(opts.consoleSocket, fds[0], opts.id);
            }
          } finally {
            for (const fd of fds) n.closeFd(fd);
          }
        });
      } finally {
        criu.finish();
      }
      if (!resp.success) throw criuFailure(resp, path.join(logDir, RESTORE_LOG), opts.id);
      const pid = resp.restore?.pid ?? record.initPid;
      if (!(pid > 0) || readProcStat(pid) === undefined)
        throw new TsruncError('system', 'criu restored no process', { containerId: opts.id });
      if (record.initPid !== pid) {
        record.initPid = pid;
        undo.pid = pid;
        record.initStartTime = readProcStat(pid)?.startTime ?? 0;
        record.namespacePaths = namespacePaths(spec, pid);
        handle.write(record);
      }
      undo.unmount(ctx.log);
      if (opts.pidFile !== undefined) writePidFile(opts.pidFile, pid);
      return state('running');
    } catch (err) {
      undo.run(ctx.log);
      undo.handle = undefined;
      throw err;
    } finally {
      handle.release();
    }
  } catch (err) {
    undo.unmount(ctx.log);
    throw err;
  } finally {
    for (const fd of opened) n.closeFd(fd);
  }
}

/** /proc/PID/cgroup of criu, once it has joined the container's cgroups. */
function readCgroupFile(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch (err) {
    throw systemError(`reading /proc/${pid}/cgroup of criu`, err);
  }
}

/** The pty master criu restored, to --console-socket as create's init sends one. */
function sendConsole(socketPath: string | undefined, master: number, id: string): void {
  if (socketPath === undefined)
    throw new TsruncError('usage', 'criu restored a terminal and no --console-socket was given', { containerId: id });
  const sock = connectSocket(socketPath, 'the console socket', id);
  try {
    native().sendWithFd(sock, '/dev/ptmx', master);
  } catch (err) {
    throw systemError('sending the pty master to the console socket', err, id);
  } finally {
    native().closeFd(sock);
  }
}
