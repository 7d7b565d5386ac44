// The parent's side of the executor protocol (native/init/init.cc), for any plan: start
// tsrunc-init on it, answer its sync points, learn the pid of the process it becomes, and turn an
// "error INDEX CODE text" message back into the failed step's description. Once the child has
// joined or created the container's namespaces, what it says is not trusted further than it can
// be checked: a pid it reports must be its own child.
import * as fs from 'node:fs';
import { TsruncError, isErrno, systemError } from '../errors';
import { initPath, native, type WaitStatus } from '../native/addon';
import { describeStep, type FdRole, type Plan } from '../plan/steps';
import type { State } from '../spec/types';
import { encodePlan } from '../plan/wire';
import { readProcStat } from '../state/proc';
import { faultPoint, type FaultPoint } from '../util/faults';
import { sleepMs } from '../util/sleep';

/**
 * Answers one sync point (`fd`: one the child sent with it, closed afterwards unless the handler
 * returns KEEP_FD, taking it over); a returned text is the ack's payload.
 */
export type SyncHandler = (tag: string, childPid: number, fd?: number) => string | typeof KEEP_FD | undefined;

/** A sync handler's answer: it keeps the fd the child sent, and the ack carries nothing. */
export const KEEP_FD: unique symbol = Symbol('keep the fd');

/**
 * How tsrunc-init is started and waited for, and how the processes it becomes are signalled: by
 * this process (spawn, waitpid, kill), or, for a container's process in a worker of the resident
 * server, by the front the caller started (src/daemon/worker.ts: a container's init, an exec's
 * process must be the caller's child or grandchild, as with runc; issue 17).
 */
export interface InitSpawner {
  /** Starts tsrunc-init as native().spawn does; returns its pid. The fds stay open here. */
  spawn(plan: Buffer, fds: number[], preserve: number, initFd: number): number;
  /** waitpid(2) of a child spawn started; null when nohang and it is still running. */
  wait(pid: number, nohang: boolean): WaitStatus | null;
  /** waitpid(-1): any child of the parent (orphans reparented to it as subreaper too); throws ECHILD when it has none. */
  waitAny(nohang: boolean): WaitStatus | null;
  /** kill(2) of a process the parent started (or that was reparented to it). */
  kill(pid: number, signal: number): void;
  /** The parent becomes a child subreaper (PR_SET_CHILD_SUBREAPER) before it spawns. */
  setSubreaper(): void;
}

const LOCAL_SPAWNER: InitSpawner = {
  spawn: (plan, fds, preserve, initFd) => native().spawn(plan, fds, preserve, initFd),
  wait: (pid, nohang) => native().waitPid(pid, nohang),
  waitAny: (nohang) => native().waitPid(-1, nohang),
  kill: (pid, signal) => void native().kill(pid, signal),
  setSubreaper: () => native().setSubreaper(true),
};

let containerSpawner: InitSpawner = LOCAL_SPAWNER;

/**
 * Who starts a container's process (create's init, exec's process; helpers such as the
 * netDevices one are always this process's children), reaps it and signals it: the resident
 * server's worker sets the front's; undefined restores this process's.
 */
export function setContainerInitSpawner(spawner: InitSpawner | undefined): void {
  containerSpawner = spawner ?? LOCAL_SPAWNER;
}

/** The parent of a container's processes (this process, or the front of a served command). */
export function containerParent(): InitSpawner {
  return containerSpawner;
}

export class ChildSession {
  /** The first child (waitable by us). */
  childPid = 0;
  /** The process the plan ends as: the child, or the one it forked. */
  pid = 0;
  private syncFd = -1;
  private readonly parentFds: number[] = [];
  private readonly spawner: InitSpawner;

  constructor(
    private readonly plan: Plan,
    private readonly containerId: string,
    /**
     * Tests only: where to stop once the child is spawned, and once its fork has reported (see
     * faults.ts). `container`: the child becomes a container's init, started by
     * setContainerInitSpawner's spawner (an exec's process too).
     */
    private readonly points: { spawned?: FaultPoint; forked?: FaultPoint; container?: boolean } = {},
  ) {
    this.spawner = points.container === true ? containerSpawner : LOCAL_SPAWNER;
  }

  /**
   * Starts tsrunc-init with the given fds on the slots the plan names (the sync socket is made
   * here), then converses until "ready". The fds given are closed in this process once passed on.
   */
  run(given: Partial<Record<FdRole, number>>, onSync: SyncHandler): void {
    const n = native();
    const encoded = encodePlan(this.plan);
    const [parentFd, childFd] = n.socketPair();
    this.syncFd = parentFd;
    this.parentFds.push(parentFd);
    const fds: Partial<Record<FdRole, number>> = { ...given, sync: childFd };
    if (this.plan.fds[0] !== 'sync')
      throw new TsruncError('system', 'the sync socket must be the first fd slot', { containerId: this.containerId });
    const all: number[] = [];
    try {
      for (const role of this.plan.fds) {
        const fd = fds[role];
        if (fd === undefined)
          throw new TsruncError('system', `no fd for the ${role} slot`, { containerId: this.containerId });
        all.push(fd);
      }
      const init = n.sealedCopy(initPath());
      try {
        this.childPid = this.spawner.spawn(encoded, all, this.plan.preserveFds, init);
      } finally {
        fs.closeSync(init);
      }
    } finally {
      for (const fd of new Set([...Object.values(fds)])) if (fd !== undefined) fs.closeSync(fd);
    }
    this.pid = this.childPid;
    try {
      if (this.points.spawned !== undefined) faultPoint(this.points.spawned);
      this.converse(onSync);
    } finally {
      this.close();
    }
  }

  /** Kills what was started (on failure). */
  kill(): void {
    for (const pid of new Set([this.childPid, this.pid])) if (pid > 0) this.spawner.kill(pid, 9);
    try {
      if (this.childPid > 0) this.spawner.wait(this.childPid, false);
    } catch {
      // already reaped
    }
  }

  private close(): void {
    for (const fd of this.parentFds.splice(0)) fs.closeSync(fd);
  }

  private converse(onSync: SyncHandler): void {
    const n = native();
    const untilExec = this.plan.steps.some((s) => s.op === 'ready' && s.untilExec === true);
    const turns = new ExpectedMessages(this.plan, this.containerId);
    const next = (what: string): void => turns.next(what);
    let ready = false;
    for (;;) {
      const received = n.recvMessage(this.syncFd, 1000);
      let passedFd: number | undefined;
      let msg: string | null;
      if (received !== null && typeof received === 'object') {
        msg = received.text;
        passedFd = received.fd;
      } else msg = received;
      if (msg === null) {
        if (!ready && this.pid === this.childPid) {
          const status = this.spawner.wait(this.childPid, true);
          if (status !== null) throw this.exitError(status.exitCode, status.signal);
        }
        continue;
      }
      // After "ready" (exec), the socket closes when execve succeeds.
      if (msg === '') {
        if (ready) return;
        throw this.unexpectedExit();
      }
      const space = msg.indexOf(' ');
      const verb = space < 0 ? msg : msg.slice(0, space);
      const arg = space < 0 ? '' : msg.slice(space + 1);
      // Only the seccomp listener comes with an fd: any other is closed and refused.
      if (passedFd !== undefined && !(verb === 'sync' && arg === 'seccomp')) {
        fs.closeSync(passedFd);
        throw new TsruncError('system', `the executor sent an fd with ${JSON.stringify(msg.slice(0, 32))}`, {
          containerId: this.containerId,
        });
      }
      if (verb === 'sync') {
        next(arg);
        let answer: string | typeof KEEP_FD | undefined;
        try {
          answer = onSync(arg, this.childPid, passedFd);
        } finally {
          if (passedFd !== undefined && answer !== KEEP_FD) fs.closeSync(passedFd);
        }
        const payload = answer === KEEP_FD ? undefined : answer;
        try {
          if (payload === undefined) n.sendMessage(this.syncFd, 'ack');
          else {
            // Data of any size goes as a file with the ack, not inside one datagram.
            const data = n.sealedData(Buffer.from(payload));
            try {
              n.sendWithFd(this.syncFd, 'ack', data);
            } finally {
              fs.closeSync(data);
            }
          }
        } catch (err) {
          // The child died while we answered it (killed from outside).
          if (isErrno(err, 'EPIPE') || isErrno(err, 'ECONNRESET')) throw this.unexpectedExit();
          throw err;
        }
      } else if (verb === 'pid') {
        next('pid');
        this.pid = this.checkedChild(arg);
        if (this.points.forked !== undefined) faultPoint(this.points.forked);
        n.sendMessage(this.syncFd, 'ack');
        this.spawner.wait(this.childPid, false); // the intermediate exits once it has the ack
      } else if (verb === 'ready') {
        next('ready');
        if (!untilExec) return;
        // exec: the process waits for this ack before it execs, and closes the socket then.
        n.sendMessage(this.syncFd, 'ack');
        ready = true;
      } else if (verb === 'error') {
        throw this.stepError(arg);
      } else {
        throw new TsruncError('system', `unexpected message from the executor: ${JSON.stringify(msg)}`, {
          containerId: this.containerId,
        });
      }
    }
  }

  /**
   * The pid the child reports after its fork. By then it is inside the container's namespaces,
   * where another process could have taken it over: the pid must be a live child of the process
   * we started (which waits for our ack before it exits), never any other process of the host.
   */
  private checkedChild(arg: string): number {
    return checkedChildPid(arg, this.childPid, this.containerId);
  }

  private stepError(arg: string): TsruncError {
    return stepFailure(this.plan, arg, this.containerId);
  }

  private unexpectedExit(): TsruncError {
    let status = null;
    try {
      for (let i = 0; status === null && i < 100; i++) {
        status = this.spawner.wait(this.childPid, true);
        if (status === null) sleepMs(5);
      }
    } catch {
      status = null;
    }
    return this.exitError(status?.exitCode ?? null, status?.signal ?? null);
  }

  private exitError(code: number | null, signal: number | null): TsruncError {
    const how =
      signal !== null ? `killed by signal ${signal}` : code !== null ? `exit status ${code}` : 'its status is unknown';
    return new TsruncError('system', `the container process exited during setup (${how})`, {
      containerId: this.containerId,
    });
  }
}

/**
 * What the child may say, in the plan's order: each sync point once, a pid only after a fork (a
 * "seccomp" sync comes with a notify filter's listener). Anything else is refused, so that a
 * process that took the child over cannot make the runtime run hooks twice or act out of turn.
 */
export class ExpectedMessages {
  private readonly expected: string[];

  constructor(
    plan: Plan,
    private readonly containerId: string,
  ) {
    this.expected = plan.steps.flatMap((s): string[] =>
      s.op === 'sync'
        ? [s.tag]
        : s.op === 'fork'
          ? ['pid']
          : s.op === 'seccomp' && s.notify
            ? ['seccomp']
            : s.op === 'ready'
              ? ['ready']
              : [],
    );
  }

  next(what: string): void {
    const want = this.expected[0];
    if (want !== what)
      throw new TsruncError(
        'system',
        `the executor said ${JSON.stringify(what.slice(0, 32))} out of turn (expected ${want === undefined ? 'nothing more' : JSON.stringify(want)})`,
        { containerId: this.containerId },
      );
    this.expected.shift();
  }
}

/**
 * The error for the child's "error INDEX ERRNO TEXT": the failed step's description, the text,
 * and the errno kept by name in the error's context.
 */
export function stepFailure(plan: Plan, arg: string, containerId: string): TsruncError {
  const m = /^(-?\d+) (\S+) (.*)$/s.exec(arg);
  if (m === null) return new TsruncError('system', `container process failed: ${arg}`, { containerId });
  const step = plan.steps[Number(m[1])];
  const errno = /^E[A-Z0-9]+$/.test(m[2] as string) && m[2] !== 'EUNKNOWN' ? m[2] : undefined;
  // A hook's failure is whole already: "<kind> hook #N (<path>) failed: <why>[: <stderr>]", the
  // words the runtime's own hooks fail with.
  const message =
    step?.op === 'hook'
      ? (m[3] as string)
      : `${step === undefined ? 'container process' : describeStep(step)}: ${m[3]}`;
  return new TsruncError('system', message, {
    containerId,
    ...(step === undefined ? {} : { step: step.op }),
    ...(errno === undefined ? {} : { errno }),
  });
}

/** The pid a child reports after its fork: accepted only as a live child of `parent`. */
export function checkedChildPid(arg: string, parent: number, containerId: string): number {
  const pid = /^[1-9]\d{0,9}$/.test(arg) ? Number(arg) : NaN;
  const stat = Number.isSafeInteger(pid) ? readProcStat(pid) : undefined;
  if (stat === undefined || stat.ppid !== parent || stat.state === 'Z') {
    throw new TsruncError(
      'system',
      `the executor reported pid ${JSON.stringify(arg.slice(0, 16))}, which is not its child`,
      { containerId },
    );
  }
  return pid;
}

/** A connected unix socket; errors say what it was for ("the console socket", ...). */
export function connectSocket(socketPath: string, what: string, containerId: string): number {
  try {
    return native().connectUnix(socketPath);
  } catch (err) {
    throw systemError(`connecting to ${what} ${socketPath}`, err, containerId);
  }
}

/**
 * SCMP_ACT_NOTIFY: the listener fd goes to the container's listenerPath with the OCI
 * "container process state" (runtime-spec, seccomp notify), as runc sends it.
 */
/** The seccomp agent's socket; a failure says so in runc's words ("failed to connect with seccomp agent ..."). */
export function connectSeccompAgent(listenerPath: string, containerId: string): number {
  try {
    return native().connectUnix(listenerPath);
  } catch (err) {
    throw systemError(
      `failed to connect with seccomp agent specified in the seccomp profile: connecting to ${listenerPath}`,
      err,
      containerId,
    );
  }
}

export function forwardSeccompListener(
  listenerPath: string,
  listener: number,
  state: State,
  metadata: string | undefined,
): void {
  const sock = connectSeccompAgent(listenerPath, state.id);
  try {
    sendSeccompListener(sock, listener, state, state.pid ?? 0, metadata);
  } finally {
    fs.closeSync(sock);
  }
}

/** The listener and its "container process state" on an agent socket already connected; `pid`: the process's. */
export function sendSeccompListener(
  sock: number,
  listener: number,
  state: State,
  pid: number,
  metadata: string | undefined,
): void {
  const doc = { ociVersion: state.ociVersion, fds: ['seccompFd'], pid, metadata: metadata ?? '', state };
  native().sendWithFd(sock, JSON.stringify(doc), listener);
}
