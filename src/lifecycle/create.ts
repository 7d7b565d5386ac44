// `create`: validate, plan, then run the plan in a forked child while answering its sync
// points (cgroups, uid/gid maps, prestart/createRuntime hooks). Returns once the init is
// blocked on exec.fifo. Any failure kills what was started and removes every trace.
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { CgroupDriver, CgroupManager, CgroupSetup } from '../cgroups';
import { TsruncError, formatProblem, refuseNul, systemError } from '../errors';
import type { Logger } from '../log';
import { native } from '../native/addon';
import { buildCreatePlan, initEnv } from '../plan/planner';
import type { FdRole, Plan } from '../plan/steps';
import { NAMESPACES } from '../spec/linux-names';
import type { Spec, State } from '../spec/types';
import { loadBundleConfig } from '../spec/validate';
import { isSameProcessAlive, readProcStat } from '../state/proc';
import { ownerOf, stateDocument } from '../state/status';
import {
  EXEC_FIFO,
  rfc3339Now,
  writeFileAtomic,
  type ContainerHandle,
  type ContainerRecord,
  type StateStore,
} from '../state/store';
import { faultPoint } from '../util/faults';
import { gatherHostFacts } from './host-facts';
import { NOTIFY_DIR, callerNotifySocket, makeNotifyDir, withNotifySocket } from './notify';
import { runHooks } from './hooks';
import { NetDeviceMover } from './net-devices';
import { ChildSession, connectSocket, forwardSeccompListener } from './session';

export interface CreateOptions {
  id: string;
  bundle: string;
  consoleSocket?: string;
  /** Instead of a socket path: a connected socket to send the pty master on (run's own console). */
  consoleFd?: number;
  pidFile?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
}

export interface CreateContext {
  store: StateStore;
  log: Logger;
  /** The cgroup driver new containers get. */
  cgroups: CgroupDriver;
}

/** Validates and plans without touching the host: what `create --dry-run` prints. */
export interface ContainerPlan {
  spec: Spec;
  plan: Plan;
  /** The container's cgroups (where they will be). */
  cgroups: CgroupManager;
  /** Their limits and device rules, checked. */
  cgroupSetup: CgroupSetup;
  /** The caller's NOTIFY_SOCKET is proxied: the container's state directory gets notify/ (notify.ts). */
  notify: boolean;
}

export function planContainer(ctx: CreateContext, opts: CreateOptions): ContainerPlan {
  refuseNul({ '--bundle': opts.bundle, '--pid-file': opts.pidFile, '--console-socket': opts.consoleSocket });
  const bundle = path.resolve(opts.bundle);
  const loaded = loadBundleConfig({
    bundle,
    checkHost: true,
    cgroupDriver: ctx.cgroups,
    rootlessEuid: (process.geteuid?.() ?? 0) !== 0,
  });
  for (const w of loaded.warnings) ctx.log.warn(formatProblem('config.json', w));
  // As runc: with NOTIFY_SOCKET set, the container notifies a socket of tsrunc's (notify.ts).
  const notify = callerNotifySocket() !== undefined;
  const stateDir = ctx.store.containerDir(opts.id);
  const spec = notify ? withNotifySocket(loaded.spec, stateDir) : loaded.spec;
  // (where the driver refuses to run, as --systemd-cgroup's does, it refuses here)
  const cgroups = ctx.cgroups.forContainer(opts.id, spec.linux?.cgroupsPath);
  const host = gatherHostFacts(
    spec,
    bundle,
    { hierarchies: cgroups.hierarchies, paths: cgroups.shownPaths },
    // (a directory create makes once the state directory is reserved)
    notify ? [path.join(stateDir, NOTIFY_DIR)] : [],
  );
  const plan = buildCreatePlan(
    {
      id: opts.id,
      bundle,
      spec,
      noPivot: opts.noPivot ?? false,
      consoleSocket: opts.consoleSocket !== undefined || opts.consoleFd !== undefined,
      preserveFds: preserveCount(opts.preserveFds ?? 0),
      noNewKeyring: opts.noNewKeyring ?? false,
    },
    host,
  );
  // The record keeps the environment the init got (LISTEN_FDS included): exec starts from it.
  if (host.listenFds > 0 && spec.process !== undefined) spec.process.env = initEnv(spec.process, host.listenFds);
  // (limits and device rules the cgroups cannot hold are refused here, before anything exists)
  return { spec, plan, cgroups, cgroupSetup: cgroups.prepare(spec), notify };
}

export { listenFds } from './host-facts';

/** --preserve-fds as given (the plan adds LISTEN_FDS to it). */
function preserveCount(requested: number): number {
  // (the CLI has refused these already, naming --preserve-fds; a library caller gets this)
  if (!Number.isSafeInteger(requested) || requested < 0)
    throw new TsruncError('usage', `preserveFds must be a non-negative integer, got ${requested}`);
  return requested;
}

export function createContainer(ctx: CreateContext, opts: CreateOptions): State {
  const planned = planContainer(ctx, opts);
  const { cgroups } = planned;
  const bundle = path.resolve(opts.bundle);
  const record = firstRecord(opts.id, bundle, planned, false);
  // The directory appears with this record in it, so that a runtime killed from here on
  // leaves a record `delete` can clean (its cgroups are known before they exist).
  const handle = ctx.store.reserve(opts.id, record);
  const cleanup = new Cleanup(handle, cgroups);
  try {
    faultPoint('create:recorded');
    if (planned.notify) makeNotifyDir(handle.dir, opts.id);
    // As runc: a frozen cgroup is refused (the init would freeze as it joined it, and create
    // wait for it forever); one with processes in it is used, with runc's warning.
    const existing = cgroups.inspect();
    if (existing.frozen !== undefined)
      throw new TsruncError('state', `container's cgroup unexpectedly frozen (${existing.frozen})`, {
        containerId: opts.id,
      });
    if (existing.pids.length > 0)
      ctx.log.warn(`container's cgroup is not empty: ${existing.pids.length} process(es) found`);
    const setup = new InitSetup(ctx, handle, record, planned, opts, cleanup);
    setup.run();
    faultPoint('create:ready');
    if (!isSameProcessAlive(record.initPid, record.initStartTime))
      throw new TsruncError('system', 'container init exited during create', { containerId: opts.id });
    if (opts.pidFile !== undefined) writePidFile(opts.pidFile, record.initPid);
    return stateDocument(record, 'created', ownerOf(handle.dir));
  } catch (err) {
    cleanup.run(ctx.log);
    throw err;
  } finally {
    cleanup.netDevices?.release();
    handle.release();
  }
}

/**
 * A container's first record: no init yet (`started` already for a restore, whose init comes
 * running), its cgroups known before they exist.
 */
export function firstRecord(id: string, bundle: string, planned: ContainerPlan, started: boolean): ContainerRecord {
  const { spec, plan, cgroups } = planned;
  const record: ContainerRecord = {
    formatVersion: 1,
    id,
    bundle,
    rootfs: plan.rootfs,
    created: rfc3339Now(),
    initPid: 0,
    initStartTime: 0,
    started,
    ...cgroups.recorded(),
    namespacePaths: {},
    config: spec,
  };
  if (spec.annotations !== undefined) record.annotations = spec.annotations;
  return record;
}

export function namespacePaths(spec: Spec, pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ns of spec.linux?.namespaces ?? [])
    out[ns.type] = ns.path ?? `/proc/${pid}/ns/${NAMESPACES[ns.type].proc}`;
  return out;
}

/** The pid alone, no newline (containerd parses the whole file as an integer). */
export function writePidFile(file: string, pid: number): void {
  try {
    writeFileAtomic(path.resolve(file), String(pid), 0o644, 'create:pid-file-tmp');
  } catch (err) {
    throw systemError(`writing pid file ${file}`, err);
  }
}

/** What a failed create must undo, in reverse: processes, network devices moved in, cgroups, state. */
class Cleanup {
  session: ChildSession | undefined;
  netDevices: NetDeviceMover | undefined;
  cgroupsTouched = false;

  constructor(
    private readonly handle: ContainerHandle,
    private readonly cgroups: CgroupManager,
  ) {}

  run(log: Logger): void {
    this.session?.kill();
    // (the namespace outlives the init while the mover holds it)
    this.netDevices?.returnAll(log);
    if (this.cgroupsTouched) {
      try {
        this.cgroups.remove((pid) => native().kill(pid, 9));
      } catch (err) {
        log.warn(`cleaning up cgroups: ${(err as Error).message}`);
      }
    }
    this.handle.remove();
  }
}

/** The parent's half of creating the init: exec.fifo, the executor child, its sync points. */
class InitSetup {
  private readonly plan: Plan;
  private readonly spec: Spec;

  constructor(
    private readonly ctx: CreateContext,
    private readonly handle: ContainerHandle,
    private readonly record: ContainerRecord,
    private readonly planned: ContainerPlan,
    private readonly opts: CreateOptions,
    private readonly cleanup: Cleanup,
  ) {
    this.plan = planned.plan;
    this.spec = planned.spec;
  }

  run(): void {
    const n = native();
    const fifo = path.join(this.handle.dir, EXEC_FIFO);
    n.mkfifo(fifo, 0o622);
    // mkfifo applies our umask; the init may write it as any user (runc clears the umask).
    fs.chmodSync(fifo, 0o622);
    const rootUid = hostIdOf(this.spec.linux?.uidMappings, 0);
    const rootGid = hostIdOf(this.spec.linux?.gidMappings, 0);
    if (rootUid !== 0 || rootGid !== 0) fs.chownSync(fifo, rootUid, rootGid);
    const fds: Partial<Record<FdRole, number>> = { 'exec-fifo': n.openPath(fifo) };
    try {
      if (this.opts.consoleFd !== undefined) fds['console-socket'] = this.opts.consoleFd;
      else if (this.opts.consoleSocket !== undefined)
        fds['console-socket'] = connectSocket(this.opts.consoleSocket, 'the console socket', this.record.id);
    } catch (err) {
      // (session.run closes what it is given; nothing was given yet)
      fs.closeSync(fds['exec-fifo'] as number);
      throw err;
    }
    const session = new ChildSession(this.plan, this.record.id, { spawned: 'create:spawned', container: true });
    this.cleanup.session = session;
    session.run(fds, (tag, childPid, fd) => this.answerSync(tag, childPid, fd));
    this.record.initPid = session.pid;
  }

  private answerSync(tag: string, childPid: number, fd?: number): string | undefined {
    if (tag === 'seccomp' && fd !== undefined) {
      this.record.initPid = this.cleanup.session?.pid ?? childPid;
      const seccomp = this.spec.linux?.seccomp;
      forwardSeccompListener(
        seccomp?.listenerPath ?? '',
        fd,
        stateDocument(this.record, 'creating', ownerOf(this.handle.dir)),
        seccomp?.listenerMetadata,
      );
      return undefined;
    }
    if (tag === 'cgroup') {
      this.cleanup.cgroupsTouched = true;
      // Limits first, then the process: nothing of the container runs unlimited.
      this.planned.cgroups.create(this.planned.cgroupSetup);
      this.planned.cgroups.join(childPid);
      faultPoint('create:cgroup');
      return undefined;
    }
    if (tag === 'userns') {
      this.writeIdMaps(childPid);
      faultPoint('create:userns');
      return undefined;
    }
    if (tag === 'net-devices') {
      const mover = new NetDeviceMover(this.plan, this.record.id);
      this.cleanup.netDevices = mover;
      mover.moveIn(this.cleanup.session?.pid ?? childPid);
      return undefined;
    }
    if (tag === 'hooks') {
      // The init's pid is known now (after the fork): the state the hooks see carries it, and
      // so does the record, before the init goes on alone (a runtime killed from here on
      // leaves a container that `state` reports and `start` can still start).
      this.record.initPid = this.cleanup.session?.pid ?? childPid;
      this.record.initStartTime = readProcStat(this.record.initPid)?.startTime ?? 0;
      this.record.namespacePaths = namespacePaths(this.spec, this.record.initPid);
      this.handle.write(this.record);
      const state = (status: State['status']): State => stateDocument(this.record, status, ownerOf(this.handle.dir));
      faultPoint('create:hooks');
      runHooks(this.spec, 'prestart', state('creating'), this.ctx.log, 'fail');
      runHooks(this.spec, 'createRuntime', state('creating'), this.ctx.log, 'fail');
      return `${JSON.stringify(state('creating'))}\0${JSON.stringify(state('created'))}`;
    }
    throw new TsruncError('system', `unknown sync point ${tag}`, { containerId: this.record.id });
  }

  private writeIdMaps(pid: number): void {
    writeIdMaps(pid, this.spec.linux ?? {}, this.record.id);
  }
}

type IdMap = { containerID: number; hostID: number; size: number };

/**
 * The maps of a new user namespace. Root writes them. An ordinary user (rootless) may write
 * only a map of its own id, and a gid map only once setgroups is denied — runc's rule: the
 * gid map exactly its own gid denies setgroups (the container then has no supplementary
 * groups); any other map goes through newuidmap/newgidmap (setuid helpers of the uidmap
 * package), which allow what /etc/subuid and /etc/subgid give the user.
 */
export function writeIdMaps(pid: number, linux: { uidMappings?: IdMap[]; gidMappings?: IdMap[] }, id: string): void {
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  const own = (maps: IdMap[], mine: number): boolean =>
    maps.length === 1 && maps[0]?.hostID === mine && maps[0].size === 1;
  const uids = linux.uidMappings ?? [];
  const gids = linux.gidMappings ?? [];
  const write = (file: string, maps: IdMap[]): void => {
    try {
      fs.writeFileSync(`/proc/${pid}/${file}`, maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join(''));
    } catch (err) {
      throw systemError(`writing ${file} of the user namespace`, err, id);
    }
  };
  if (euid === 0 || own(uids, euid)) write('uid_map', uids);
  else mapWithHelper('newuidmap', pid, uids, id);
  if (euid === 0) write('gid_map', gids);
  else if (own(gids, egid)) {
    try {
      fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    } catch (err) {
      throw systemError('writing setgroups of the user namespace', err, id);
    }
    write('gid_map', gids);
  } else mapWithHelper('newgidmap', pid, gids, id);
}

function mapWithHelper(helper: 'newuidmap' | 'newgidmap', pid: number, maps: IdMap[], id: string): void {
  const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  const r = spawnSync(helper, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const what = helper === 'newuidmap' ? 'uid' : 'gid';
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new TsruncError(
      'system',
      `/linux/${what}Mappings: a rootless container mapping ids other than the caller's own needs ${helper} (the uidmap package), which is not on PATH`,
      { containerId: id, errno: 'ENOENT' },
    );
  if (r.status !== 0)
    throw new TsruncError(
      'system',
      `/linux/${what}Mappings: ${helper} ${args.join(' ')} failed${r.status === null ? '' : ` (exit status ${r.status})`}: ${(r.stderr ?? '').trim() || (r.error?.message ?? 'no message')} (the ranges must be the user's in /etc/sub${what})`,
      { containerId: id },
    );
}

function hostIdOf(maps: { containerID: number; hostID: number; size: number }[] | undefined, id: number): number {
  for (const m of maps ?? [])
    if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return id;
}
