// `exec`: a new process inside a running container — its cgroups, namespaces, root and
// working directory — as given by an OCI process document (`--process`, what the shims
// write) or by runc's flags on top of the container's own process.
import * as fs from 'node:fs';
import { containerCgroups, type CgroupManager } from '../cgroups';
import { ConfigError, TsruncError, isErrno, refuseNul, systemError } from '../errors';
import { native } from '../native/addon';
import { buildExecPlan } from '../plan/exec-planner';
import type { FdRole, Plan } from '../plan/steps';
import { parseChecked } from '../spec/json-input';
import type { Process } from '../spec/types';
import { processProblems } from '../spec/validate';
import * as validators from '../spec/validators.generated';
import { computeStatus, ownerOf, stateDocument } from '../state/status';
import type { ContainerRecord, StateStore } from '../state/store';
import { writePidFile } from './create';
import { ConsoleRelay, SignalForwarder, exitCodeOf, waitForInit } from './run';
import { faultPoint } from '../util/faults';
import { gatherProcessHostFacts } from './host-facts';
import { isSameProcessAlive } from '../state/proc';
import {
  ChildSession,
  KEEP_FD,
  connectSeccompAgent,
  connectSocket,
  containerParent,
  sendSeccompListener,
} from './session';

export interface ExecOptions {
  process: Process;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  ignorePaused?: boolean;
  /** runc's --cgroup: existing sub-cgroups, "[controller:]path" relative to the container's. */
  subCgroups?: string[];
}

/** Parses and checks an OCI process document; pointers are relative to it. */
export function parseProcess(text: string, file: string): Process {
  // As runc: a process document without "user" runs as 0:0 (shims send none for root).
  const rootByDefault = (doc: unknown): void => {
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc) && !('user' in doc))
      (doc as { user?: unknown }).user = { uid: 0, gid: 0 };
  };
  const proc = parseChecked<Process>(
    text,
    file,
    validators.process,
    (p, bigIntegers) => processProblems(p, '', bigIntegers),
    rootByDefault,
  );
  if (!proc.cwd.startsWith('/'))
    throw new ConfigError(file, [
      { pointer: '/cwd', message: `must be an absolute path, got ${JSON.stringify(proc.cwd)}` },
    ]);
  return proc;
}

export interface ExecFlags {
  args: string[];
  cwd?: string;
  env: string[];
  tty: boolean;
  user?: string;
  additionalGids: number[];
  apparmor?: string;
  processLabel?: string;
  noNewPrivs: boolean;
  caps: string[];
}

/** runc's flags over the container's own process (its env, user, caps, rlimits...). */
export function processFromFlags(base: Process, f: ExecFlags): Process {
  if (f.args.length === 0) throw new TsruncError('usage', 'exec: a command to run is required (or --process FILE)');
  // argv cannot hold a NUL, but a library caller's strings can; C would cut them there.
  const withNul = (list: string[]): string | undefined => list.find((v) => v.includes('\0'));
  refuseNul({
    'exec: the command': withNul(f.args),
    'exec: --cwd': f.cwd,
    'exec: --env': withNul(f.env),
    'exec: --user': f.user,
    'exec: --apparmor': f.apparmor,
    'exec: --process-label': f.processLabel,
    'exec: --cap': withNul(f.caps),
  });
  const p: Process = structuredClone(base);
  p.args = f.args;
  p.terminal = f.tty;
  delete p.consoleSize;
  if (f.cwd !== undefined) p.cwd = f.cwd;
  if (f.apparmor !== undefined) p.apparmorProfile = f.apparmor;
  if (f.processLabel !== undefined) p.selinuxLabel = f.processLabel;
  if (f.noNewPrivs) p.noNewPrivileges = true;
  p.env = [...(p.env ?? []), ...f.env];
  if (f.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(f.user);
    if (m === null)
      throw new TsruncError('usage', `exec: --user must be UID[:GID] (numbers), got ${JSON.stringify(f.user)}`);
    p.user = {
      ...p.user,
      uid: idFlag(Number(m[1]), '--user', 'uid'),
      gid: m[2] === undefined ? p.user.gid : idFlag(Number(m[2]), '--user', 'gid'),
    };
  }
  if (f.additionalGids.length > 0)
    p.user = { ...p.user, additionalGids: f.additionalGids.map((g) => idFlag(g, '--additional-gids', 'gid')) };
  if (f.caps.length > 0) {
    const c = (p.capabilities ??= {});
    for (const cap of f.caps) {
      const name = cap.toUpperCase().startsWith('CAP_') ? cap.toUpperCase() : `CAP_${cap.toUpperCase()}`;
      for (const set of ['bounding', 'effective', 'permitted'] as const) (c[set] ??= []).push(name);
      // Never inheritable (CVE-2022-29162); ambient only where inheritable bits exist already.
      if (c.inheritable !== undefined && c.inheritable.length > 0) (c.ambient ??= []).push(name);
    }
  }
  if (!p.cwd.startsWith('/'))
    throw new TsruncError('usage', `exec: --cwd must be an absolute path, got ${JSON.stringify(p.cwd)}`);
  return p;
}

/** The largest uid or gid (runc's bound; the schema's "id"): 4294967295 would be -1, "unchanged", to setresuid. */
const MAX_ID = 2147483647;

/** A uid or gid given by `flag`: an integer from 0 to MAX_ID, else a usage error naming the flag. */
function idFlag(value: number, flag: string, what: 'uid' | 'gid'): number {
  if (Number.isInteger(value) && value >= 0 && value <= MAX_ID) return value;
  throw new TsruncError('usage', `exec: ${flag}: ${what} ${value} is out of range (0 to ${MAX_ID})`);
}

function execPlan(record: ContainerRecord, opts: ExecOptions, console: boolean): Plan {
  const preserveFds = opts.preserveFds ?? 0;
  // (the CLI has refused these already, naming --preserve-fds; a library caller gets this)
  if (!Number.isSafeInteger(preserveFds) || preserveFds < 0)
    throw new TsruncError('usage', `preserveFds must be a non-negative integer, got ${preserveFds}`, {
      containerId: record.id,
    });
  return buildExecPlan(
    {
      id: record.id,
      rootfs: record.rootfs,
      spec: record.config,
      namespacePaths: record.namespacePaths,
      process: opts.process,
      consoleSocket: console,
      preserveFds,
    },
    gatherProcessHostFacts(),
  );
}

/** Starts the process; resolves with its exit status (foreground) or 0 (detached). */
export async function execInContainer(store: StateStore, id: string, opts: ExecOptions): Promise<number> {
  refuseNul({
    '--pid-file': opts.pidFile,
    '--console-socket': opts.consoleSocket,
    '--cgroup': opts.subCgroups?.find((v) => v.includes('\0')),
  });
  const handle = store.open(id, 'shared');
  let session: ChildSession;
  let relay: ConsoleRelay | undefined;
  let signals: SignalForwarder | undefined;
  try {
    try {
      faultPoint('exec:locked');
      const record = handle.read();
      const status = computeStatus(record, handle.dir);
      if (status === 'stopped')
        throw new TsruncError('state', 'cannot exec in a stopped container', { containerId: id });
      if (status === 'paused' && !opts.ignorePaused)
        throw new TsruncError('state', 'cannot exec in a paused container', { containerId: id });
      // (a created container can be joined, as runc allows: its init waits in exec.fifo)
      const tty = opts.process.terminal === true;
      const consoleFds: Partial<Record<FdRole, number>> = {};
      let relayEnd: number | undefined;
      if (tty && opts.consoleSocket !== undefined)
        consoleFds['console-socket'] = connectSocket(opts.consoleSocket, 'the console socket', id);
      else if (tty && !opts.detach) {
        const [mine, theirs] = native().socketPair();
        relayEnd = mine;
        consoleFds['console-socket'] = theirs;
      }
      const given: Partial<Record<FdRole, number>> = { ...consoleFds };
      const seccomp = record.config.linux?.seccomp;
      let agent: number | undefined;
      let plan: Plan;
      let cgroups: CgroupManager;
      try {
        cgroups = containerCgroups(record, id).subCgroups(opts.subCgroups ?? []);
        plan = execPlan(record, opts, consoleFds['console-socket'] !== undefined);
        // A notify filter's agent is reached before anything runs (a missing one fails the exec
        // cleanly); the listener goes to it once the process's pid is known.
        if (plan.steps.some((s) => s.op === 'seccomp' && s.notify))
          agent = connectSeccompAgent(seccomp?.listenerPath ?? '', id);
        // The namespaces, opened now and only then checked to be the init's: its pid cannot have
        // been reused in between (tsrunc-init joins them through these fds).
        for (const role of plan.fds) {
          if (!role.startsWith('ns-')) continue;
          const file = record.namespacePaths[role.slice(3)] ?? '';
          try {
            given[role] = fs.openSync(file, 'r');
          } catch (err) {
            // Rootless, a created container's init is not dumpable (its processes, all of the
            // user's uid, could drive it before its filter is loaded): the user cannot open its
            // namespaces until it has exec'd the container's program in its own user namespace.
            if (isErrno(err, 'EACCES') && (process.geteuid?.() ?? 0) !== 0 && !record.started)
              throw new TsruncError(
                'state',
                "cannot exec into a created rootless container before it starts: its init cannot be joined by an ordinary user without letting the container's processes trace it (start it first)",
                { containerId: id, errno: 'EACCES' },
              );
            throw systemError(`opening the container's namespace ${file}`, err, id);
          }
        }
        if (!isSameProcessAlive(record.initPid, record.initStartTime))
          throw new TsruncError('state', 'cannot exec in a stopped container', { containerId: id });
      } catch (err) {
        for (const fd of [...Object.values(given), agent]) if (fd !== undefined) fs.closeSync(fd);
        if (relayEnd !== undefined) fs.closeSync(relayEnd);
        throw err;
      }
      let listener: number | undefined;
      if (!opts.detach) {
        containerParent().setSubreaper();
        signals = new SignalForwarder(relayEnd !== undefined);
      }
      // (container: the process joins the container; served, the front the caller started is its
      // parent, as on the direct path this process is)
      session = new ChildSession(plan, id, { spawned: 'exec:spawned', forked: 'exec:forked', container: true });
      try {
        session.run(given, (tag, childPid, fd) => {
          if (tag === 'cgroup') {
            cgroups.join(childPid);
            faultPoint('exec:cgroup');
            // --ignore-paused: the process is frozen with the container from here until it is
            // resumed. As with runc, the exec waits for that; the lock goes now, so that the
            // resume (or a delete) is not kept waiting behind it.
            if (status === 'paused') handle.release();
            return undefined;
          }
          if (tag === 'seccomp' && fd !== undefined && listener === undefined) {
            listener = fd;
            return KEEP_FD;
          }
          throw new TsruncError('system', `unexpected sync point ${tag} in exec`, { containerId: id });
        });
        if (agent !== undefined && listener !== undefined) {
          sendSeccompListener(
            agent,
            listener,
            stateDocument(record, status, ownerOf(handle.dir)),
            session.pid,
            seccomp?.listenerMetadata,
          );
        }
        if (relayEnd !== undefined) relay = new ConsoleRelay(native().recvFd(relayEnd));
      } catch (err) {
        session.kill();
        throw err;
      } finally {
        if (relayEnd !== undefined) fs.closeSync(relayEnd);
        if (agent !== undefined) fs.closeSync(agent);
        if (listener !== undefined) fs.closeSync(listener);
      }
      if (opts.pidFile !== undefined) {
        try {
          writePidFile(opts.pidFile, session.pid);
        } catch (err) {
          // As runc: a process whose pid file cannot be written is terminated (its caller, a
          // shim, would not know the pid to wait for).
          session.kill();
          throw err;
        }
      }
      faultPoint('exec:ready');
    } finally {
      handle.release();
    }
    if (signals === undefined) return 0;
    const status = await waitForInit(session.pid, signals);
    await relay?.close();
    return exitCodeOf(status);
  } finally {
    signals?.stop();
  }
}
