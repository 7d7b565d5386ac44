// The library API. The CLI (src/cli) is a thin user of this class; other programs can embed
// it the same way: `new Runtime({ root }).state(id)`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, isErrno, refuseNul, systemError } from './errors';
import { Logger } from './log';
import { defaultSpec, rootlessSpec } from './spec/default-spec';
import type { Process, Resources, State } from './spec/types';
import { CONFIG_FILE, loadBundleConfig, type ValidationResult } from './spec/validate';
import { computeStatus, ownerOf, stateDocument } from './state/status';
import { StateStore, type ContainerHandle } from './state/store';
import { createContainer, planContainer, type CreateOptions } from './lifecycle/create';
import { deleteContainer } from './lifecycle/delete';
import { killContainer } from './lifecycle/kill';
import { ConsoleRelay, SignalForwarder, exitCodeOf, waitForInit } from './lifecycle/run';
import { containerParent } from './lifecycle/session';
import { startContainer } from './lifecycle/start';
import type { NotifyProxy } from './lifecycle/notify';
import { pauseContainer, resumeContainer } from './lifecycle/pause';
import { containerPids } from './lifecycle/ps';
import { updateContainer } from './lifecycle/update';
import { execInContainer, type ExecOptions } from './lifecycle/exec';
import { checkpointContainer } from './lifecycle/checkpoint';
import type { CheckpointFlags } from './lifecycle/criu-request';
import { restoreContainer, type RestoreOptions } from './lifecycle/restore';
import { faultPoint } from './util/faults';
import { selectCgroupDriver, type CgroupDriver } from './cgroups';
import { native } from './native/addon';
import type { Plan } from './plan/steps';

export type { CreateOptions } from './lifecycle/create';
export type { CheckpointFlags, RestoreFlags } from './lifecycle/criu-request';
export type { RestoreOptions } from './lifecycle/restore';

export interface RestoreRunOptions extends RestoreOptions {
  /** Return once restored (else wait for the restored init, forward signals, delete, as `run`). */
  detach?: boolean;
  noSubreaper?: boolean;
}

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
  noSubreaper?: boolean;
}

export interface RuntimeOptions {
  /** State root (runc's --root). */
  root?: string;
  logger?: Logger;
  systemdCgroup?: boolean;
  rootless?: 'true' | 'false' | 'auto';
  /**
   * Make this process a child subreaper (PR_SET_CHILD_SUBREAPER) as it creates a container, as
   * `run` does: the init is then reparented to it, and `wait` can reap it and give its exit
   * status. Orphans of a container without a pid namespace of its own come to it as well.
   */
  subreaper?: boolean;
  /** The criu binary checkpoint and restore use (runc's --criu; a name is looked up on PATH). */
  criu?: string;
}

export class Runtime {
  readonly store: StateStore;
  readonly log: Logger;
  readonly systemdCgroup: boolean;
  private readonly subreaper: boolean;
  private readonly criu: string;
  private readonly cgroupDriver: CgroupDriver;

  constructor(options: RuntimeOptions = {}) {
    refuseNul({ '--root': options.root });
    this.store = new StateStore(options.root);
    this.log = options.logger ?? new Logger();
    this.systemdCgroup = options.systemdCgroup ?? false;
    this.subreaper = options.subreaper ?? false;
    this.criu = options.criu ?? 'criu';
    this.cgroupDriver = selectCgroupDriver({ systemd: this.systemdCgroup, rootless: options.rootless });
  }

  /** The state document of one container, status computed live. */
  state(id: string): State {
    const handle = this.store.open(id, 'shared');
    try {
      return this.describe(handle);
    } finally {
      handle.release();
    }
  }

  /** State documents of every container under the root, sorted by id. */
  list(): State[] {
    const out: State[] = [];
    for (const id of this.store.ids()) {
      try {
        out.push(this.state(id));
      } catch (err) {
        // A container deleted while we listed is simply no longer there.
        if (!(err instanceof TsruncError && err.kind === 'not-found')) throw err;
      }
    }
    return out;
  }

  /** Reads and validates a bundle's config.json, checking the host (rootfs present...). */
  validateBundle(bundle: string): ValidationResult {
    return loadBundleConfig({
      bundle: path.resolve(bundle),
      checkHost: true,
      cgroupDriver: this.cgroupDriver,
      rootlessEuid: (process.geteuid?.() ?? 0) !== 0,
    });
  }

  /** Validates the bundle and returns the plan `create` would carry out, touching nothing. */
  plan(opts: CreateOptions): Plan {
    return planContainer(this.createContext(), opts).plan;
  }

  /** Creates a container whose init waits for `start`. */
  create(opts: CreateOptions): State {
    if (this.subreaper) containerParent().setSubreaper();
    const state = createContainer(this.createContext(), opts);
    faultPoint('create:done');
    return state;
  }

  start(id: string): void {
    const notify = this.release(id);
    // As runc: with NOTIFY_SOCKET, start returns once the container said READY=1 (passed on
    // to the caller's socket) or its init is gone; the container's lock is not held meanwhile.
    if (notify !== undefined) {
      try {
        const { pid } = this.state(id);
        notify.waitReady(pid, () => pid > 0 && native().kill(pid, 0));
      } finally {
        notify.close();
      }
    }
  }

  /** start without waiting for READY=1: the notify proxy, if there is one, is the caller's. */
  private release(id: string): NotifyProxy | undefined {
    const notify = this.withContainer(id, 'exclusive', (h) => startContainer(h, this.log));
    faultPoint('start:done');
    return notify;
  }

  kill(id: string, signal: number, all = false): void {
    this.withContainer(id, 'shared', (h) => killContainer(h, signal, all));
  }

  delete(id: string, force = false): void {
    try {
      this.withContainer(id, 'exclusive', (h) => deleteContainer(h, force, this.log));
    } catch (err) {
      // A create or delete killed half-way may have left a directory without a record.
      if (err instanceof TsruncError && err.kind === 'not-found') {
        this.store.removeDebris(id);
        // As runc: with --force, a container that is already gone is not an error (the shims
        // call `delete --force` after every delete).
        if (force) return;
      }
      throw err;
    }
    faultPoint('delete:done');
  }

  /** create + start; unless detached, waits and returns the exit status (128+N for signal N). */
  async run(opts: RunOptions): Promise<number> {
    if (!opts.detach && !opts.noSubreaper) containerParent().setSubreaper();
    // A terminal with nobody to hand it to: keep the pty master and relay it, as runc does.
    let consoleEnd: number | undefined;
    if (!opts.detach && opts.consoleSocket === undefined && wantsTerminal(opts.bundle)) {
      const [mine, theirs] = native().socketPair();
      consoleEnd = mine;
      opts = { ...opts, consoleFd: theirs };
    }
    let relay: ConsoleRelay | undefined;
    let state: State;
    const signals = opts.detach ? undefined : new SignalForwarder(consoleEnd !== undefined);
    try {
      try {
        state = this.create(opts);
        if (consoleEnd !== undefined) relay = new ConsoleRelay(native().recvFd(consoleEnd));
      } finally {
        if (consoleEnd !== undefined) fs.closeSync(consoleEnd);
      }
      let notify: NotifyProxy | undefined;
      try {
        if (signals === undefined) this.start(opts.id);
        else notify = this.release(opts.id);
      } catch (err) {
        this.deleteQuietly(opts.id);
        await relay?.close();
        throw err;
      }
      if (signals === undefined) return 0;
      // In the foreground, READY=1 is passed on while the init runs and signals are forwarded.
      const pid = state.pid;
      const notifier =
        notify === undefined
          ? undefined
          : setInterval(() => {
              try {
                if (!notify?.poll(pid, 0)) return;
              } catch (err) {
                this.log.warn((err as Error).message);
              }
              clearInterval(notifier);
              notify?.close();
            }, 100);
      let status: Awaited<ReturnType<typeof waitForInit>>;
      try {
        status = await waitForInit(state.pid, signals);
      } finally {
        clearInterval(notifier);
        notify?.close();
      }
      // Deleted first: what is left of the container dies, and the pty closes for the relay.
      if (!opts.keep) this.deleteQuietly(opts.id);
      await relay?.close();
      return exitCodeOf(status);
    } finally {
      signals?.stop();
    }
  }

  /**
   * Waits for the init of a container this process created with `subreaper: true` (`create`,
   * then `start`) to exit, and resolves with its status as `run` gives it (128+N for signal
   * N): it is reaped, its pid alone (other children are left to their owners). The container
   * stays until `delete`. An init that is not a child of this process (created without
   * `subreaper`, or by another process such as the CLI) cannot be waited for: that throws.
   */
  async wait(id: string, pollMs = 10): Promise<number> {
    // The record's pid: the state document says 0 once the init has exited, as runc's does;
    // unreaped, it is still this process's child under that pid.
    const pid = this.withContainer(id, 'shared', (h) => h.read().initPid);
    if (!(pid > 0)) throw new TsruncError('state', 'the container has no init to wait for', { containerId: id });
    const n = native();
    for (;;) {
      let status: ReturnType<typeof n.waitPid>;
      try {
        status = n.waitPid(pid, true);
      } catch (err) {
        if (isErrno(err, 'ECHILD'))
          throw new TsruncError(
            'state',
            `container init ${pid} is not a child of this process (create it with a Runtime made with subreaper: true)`,
            { containerId: id },
          );
        throw err;
      }
      if (status !== null) return exitCodeOf(status);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * Dumps the container's processes with criu into flags.imagePath (./checkpoint by default);
   * unless leaveRunning or preDump, the container is deleted afterwards, as runc does.
   */
  checkpoint(id: string, flags: CheckpointFlags = {}): void {
    this.withContainer(id, 'exclusive', (h) => checkpointContainer(h, flags, this.criu, this.log));
  }

  /**
   * Restores a container from a checkpoint's images with the bundle's config. Detached, it
   * returns 0 once the container runs; else, as `run`, waits for the restored init (forwarding
   * signals), deletes the container and resolves with its exit status.
   */
  async restore(opts: RestoreRunOptions): Promise<number> {
    if (!opts.detach && !opts.noSubreaper) native().setSubreaper(true);
    const signals = opts.detach ? undefined : new SignalForwarder(false);
    try {
      const state = restoreContainer({ ...this.createContext(), criu: this.criu }, opts);
      if (signals === undefined) return 0;
      const status = await waitForInit(state.pid, signals);
      this.deleteQuietly(opts.id);
      return exitCodeOf(status);
    } finally {
      signals?.stop();
    }
  }

  /** Runs a process in the container; resolves with its exit status (0 when detached). */
  async exec(id: string, opts: ExecOptions): Promise<number> {
    const status = await execInContainer(this.store, id, opts);
    faultPoint('exec:done');
    return status;
  }

  /** The container's own process (the default for `exec` flags). */
  containerProcess(id: string): Process {
    return this.withContainer(id, 'shared', (h) => {
      const proc = h.read().config.process;
      if (proc === undefined) throw new TsruncError('state', 'the container has no process', { containerId: id });
      return proc;
    });
  }

  pause(id: string): void {
    this.withContainer(id, 'exclusive', (h) => pauseContainer(h));
  }

  resume(id: string): void {
    this.withContainer(id, 'exclusive', (h) => resumeContainer(h));
  }

  update(id: string, resources: Resources): void {
    this.withContainer(id, 'exclusive', (h) => updateContainer(h, resources));
  }

  /** Host pids of every process in the container's cgroup. */
  pids(id: string): number[] {
    return this.withContainer(id, 'shared', (h) => containerPids(h));
  }

  private deleteQuietly(id: string): void {
    try {
      this.delete(id, true);
    } catch (err) {
      this.log.warn(`deleting ${id}: ${(err as Error).message}`);
    }
  }

  private createContext() {
    return { store: this.store, log: this.log, cgroups: this.cgroupDriver };
  }

  private withContainer<T>(id: string, mode: 'shared' | 'exclusive', fn: (h: ContainerHandle) => T): T {
    const handle = this.store.open(id, mode);
    try {
      return fn(handle);
    } finally {
      handle.release();
    }
  }

  protected describe(handle: ContainerHandle): State {
    const record = handle.read();
    return stateDocument(record, computeStatus(record, handle.dir), ownerOf(handle.dir));
  }
}

function wantsTerminal(bundle: string): boolean {
  try {
    const doc = JSON.parse(fs.readFileSync(path.join(bundle, CONFIG_FILE), 'utf8')) as {
      process?: { terminal?: unknown };
    };
    return doc.process?.terminal === true;
  } catch {
    return false; // create reports the problem with the file
  }
}

/** Writes a default config.json into `bundle`; refuses to overwrite one. */
export function writeDefaultSpec(bundle: string, rootless: boolean): string {
  const file = path.join(bundle, CONFIG_FILE);
  const spec = rootless ? rootlessSpec(process.getuid?.() ?? 0, process.getgid?.() ?? 0) : defaultSpec();
  try {
    fs.writeFileSync(file, JSON.stringify(spec, null, '\t') + '\n', { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw new TsruncError('exists', `File ${file} exists. Remove it first`);
    throw systemError(`writing ${file}`, err);
  }
  return file;
}
