// A worker of the resident server (issue 17): a node with the CLI bundle loaded (from the full
// code cache) that waits on the server's socket for one caller, and runs that caller's command
// as bin/tsrunc's direct path would have: the caller's argv, environment, umask, cwd, stdin,
// stdout and stderr, the same main(). Started without --again it serves one command and exits;
// the server reports its exit status to the front. With --again, after a command of
// REUSABLE_COMMANDS it gives everything of the caller's back, checks that it is as it was before
// its first command (src/daemon/reuse.ts), says the status to the server and, if the server
// wants it, waits for the next caller; any difference and it exits instead. Until the front's
// GO, nothing of the caller has been applied (a caller it does not serve, or a command it does
// not run, leaves it as it was).
import * as fs from 'node:fs';
import * as net from 'node:net';
import { TsruncError } from '../errors';
import { setContainerInitSpawner, type InitSpawner } from '../lifecycle/session';
import { native, type DaemonGo, type WaitStatus } from '../native/addon';
import { DAEMON_BUILD_ID_LEN, DAEMON_REPLY_DIRECT, DAEMON_REPLY_READY, SERVED_COMMANDS } from './protocol';
import { REUSABLE_COMMANDS, differences, observeWorker, watchStdioStreams, type WorkerBaseline } from './reuse';

declare const __TSRUNC_BUILD_ID__: string | undefined;

/** This build's id (scripts/build.mjs): a front of another build is not served. */
export const BUILD_ID =
  typeof __TSRUNC_BUILD_ID__ === 'string' && __TSRUNC_BUILD_ID__.length === DAEMON_BUILD_ID_LEN
    ? __TSRUNC_BUILD_ID__
    : '';

export interface WorkerOptions {
  /** The server's listening socket, inherited. */
  listenFd: number;
  /** dist/boot.cjs: the direct path's process.argv[1]. */
  boot: string;
  /** What the command line would be on the direct path (main.ts). */
  preScan(argv: string[]): { command?: string; help?: boolean; version?: boolean };
  cli(argv: string[]): void;
  main(argv: string[]): Promise<number>;
  /** Forgets what the bundle cached for a command (src/cli/main.ts). */
  forgetCommandState(): void;
  /** Serve again after a command (`tsrunc daemon --max-commands` above 1). */
  again: boolean;
}

/** To the server's stderr (fd 2 between commands; never process.stderr, a stream kept for one fd). */
function say(text: string): void {
  try {
    fs.writeSync(2, `tsrunc daemon: worker ${realPid}: ${text}\n`);
  } catch {
    // the server's stderr is gone
  }
}

/** This process's pid (process.pid is the caller's while a command runs). */
const realPid = process.pid;

/** What a worker that serves again restores and compares after each command. */
interface Reuse {
  baseline: WorkerBaseline;
  env: Record<string, string | undefined>;
  umask: number;
  argv: string[];
  streams: () => string | undefined;
}

/** Whether a worker runs this command line (else the front takes the direct path). */
export function servedCommand(scan: { command?: string; help?: boolean; version?: boolean }): boolean {
  return scan.command !== undefined && SERVED_COMMANDS.has(scan.command) && scan.help !== true && scan.version !== true;
}

export function serveWorker(opts: WorkerOptions): void {
  const n = native();
  if (BUILD_ID === '') throw new Error('this bundle has no build id: build it with scripts/build.mjs');
  if (n.daemonWorkerStart(opts.listenFd) === 1) process.exit(0); // the server is already gone
  if (!opts.again) {
    serveNext(opts, undefined);
    return;
  }
  const streams = watchStdioStreams();
  // Observed once the event loop has settled after start-up, as it is after each command.
  setImmediate(() => {
    // (observed as after a command: with the forwarded signals ignored)
    n.daemonQuiesceSignals(true);
    const baseline = observeWorker();
    n.daemonQuiesceSignals(false);
    const reuse: Reuse = {
      baseline,
      env: { ...process.env },
      umask: process.umask(),
      argv: [...process.argv],
      streams,
    };
    serveNext(opts, reuse);
  });
}

/** Waits for the next caller this worker serves, and serves it. */
function serveNext(opts: WorkerOptions, reuse: Reuse | undefined): void {
  const n = native();
  for (;;) {
    const c = n.daemonAccept(opts.listenFd, BUILD_ID);
    if (c.refused !== undefined) {
      say(`refused a caller: ${c.refused}`);
      continue;
    }
    const scan = opts.preScan([...c.argv]);
    if (!servedCommand(scan)) {
      n.daemonReply(c.conn, DAEMON_REPLY_DIRECT, BUILD_ID);
      n.closeFd(c.conn);
      continue;
    }
    const go = n.daemonReply(c.conn, DAEMON_REPLY_READY, BUILD_ID) ? n.daemonAwaitGo(c.conn, c.present) : null;
    if (go === null) {
      // The front took the direct path (or went away): nothing was done here.
      say('the caller went away before GO: nothing was done');
      n.closeFd(c.conn);
      continue;
    }
    const command = scan.command ?? '';
    const again = reuse !== undefined && REUSABLE_COMMANDS.has(command);
    if (!again) n.closeFd(opts.listenFd);
    // create, run and exec: the container's init, or the exec'd process, is started by the front,
    // the caller's own process, as runc's is by runc (the caller may be a subreaper that must
    // inherit it; a foreground run or exec waits for it as its parent, and forwards signals to
    // it); the worker keeps a copy of this caller's connection for that, and sends its SPAWN to
    // no one else.
    const spawner = SPAWNING_COMMANDS.has(command) ? frontSpawner(n.daemonKeepConn(c.conn)) : undefined;
    if (spawner !== undefined) setContainerInitSpawner(spawner);
    if (again) runAgain(opts, reuse, c, go, command, spawner);
    else run(opts, c, go);
    return;
  }
}

const SPAWNING_COMMANDS: ReadonlySet<string> = new Set(['create', 'run', 'exec']);

/**
 * The front starts tsrunc-init, reaps its children (as a subreaper when asked: what the direct
 * path's node reaps) and signals them; this worker does the parent's side as on the direct path.
 * One SPAWN per command (a second would end the front as a killed tsrunc): its channel carries
 * every report after.
 */
function frontSpawner(conn: number): InitSpawner & { close(): void } {
  const n = native();
  let channel = -1;
  let spawnedPid = -1;
  let subreaper = false;
  // Children the front reported that nobody has waited for yet, in the order reaped.
  const reported: WaitStatus[] = [];
  // Children already waited for, and whether the front said it has none left (it says so once):
  // waitpid(2) gives ECHILD for both from then on, at once — a wait for either must not block on
  // the channel for a report that will not come (a session killed after its child was reaped).
  const consumed = new Set<number>();
  let none = false;
  const echild = (): Error =>
    Object.assign(new Error('ECHILD: no child processes, waitpid'), { code: 'ECHILD', errno: -10, syscall: 'waitpid' });
  const next = (nohang: boolean): WaitStatus | null => {
    if (none) throw echild();
    try {
      return n.daemonChildNext(channel, nohang);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ECHILD') none = true;
      throw err;
    }
  };
  const taken = (s: WaitStatus | null): WaitStatus | null => {
    if (s !== null) consumed.add(s.pid);
    return s;
  };
  return {
    spawn(plan, fds, preserve, initFd) {
      if (channel >= 0) throw new TsruncError('system', 'a served command starts one container process');
      const spawned = n.daemonSpawn(conn, plan, fds, preserve, initFd, subreaper);
      channel = spawned.channel;
      spawnedPid = spawned.pid;
      return spawned.pid;
    },
    wait(pid, nohang) {
      const at = reported.findIndex((s) => s.pid === pid);
      if (at >= 0) return taken(reported.splice(at, 1)[0] as WaitStatus);
      if (channel < 0) return n.waitPid(pid, nohang);
      if (consumed.has(pid)) throw echild();
      for (;;) {
        const status = next(nohang);
        if (status === null || status.pid === pid) return taken(status);
        reported.push(status);
      }
    },
    waitAny(nohang) {
      if (reported.length > 0) return taken(reported.shift() as WaitStatus);
      if (channel < 0) return n.waitPid(-1, nohang);
      return taken(next(nohang));
    },
    kill(pid, signal) {
      if (channel < 0) {
        n.kill(pid, signal);
        return;
      }
      n.daemonSignal(channel, pid, signal);
      // A failed command's cleanup (SIGKILL) of a process that is neither the front's child nor
      // reparented to it (no subreaper: a detached exec's process, whose parent tsrunc-init has
      // exited) is refused by the front, which signals only its own; the direct path kills it by
      // pid, and so does the worker, the caller's equal. (The front never reaps such a process,
      // so its pid was not freed by the front.)
      if (signal === 9 && !subreaper && pid !== spawnedPid) {
        try {
          n.kill(pid, 9);
        } catch {
          // gone already
        }
      }
    },
    setSubreaper() {
      subreaper = true;
    },
    close() {
      if (channel >= 0) n.closeFd(channel);
      n.closeFd(conn);
      channel = -1;
    },
  };
}

function run(opts: WorkerOptions, c: Caller, go: DaemonGo): void {
  // The server holds the connection from now on: it tells the front how this process ended, and
  // kills it should the front die first (as a killed tsrunc stops midway).
  const conn = new net.Socket({ fd: c.conn, readable: false, writable: false });
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('a worker runs under `tsrunc daemon` only');
  send({ type: 'taken' }, conn, {}, (err) => {
    if (err) {
      say(`cannot hand the connection to the server: ${err.message}`);
      process.exit(1);
    }
    process.disconnect();
    becomeCaller(opts, c, go);
    opts.cli([...c.argv]);
  });
}

/** The caller's stdio (fds 0..2), cwd, umask, environment, argv and pid become this process's. */
function becomeCaller(opts: WorkerOptions, c: Caller, go: DaemonGo): void {
  const n = native();
  n.daemonTakeStdio([...go.stdio]);
  process.chdir(`/proc/self/fd/${go.cwd}`);
  n.closeFd(go.cwd);
  process.umask(c.umask);
  setEnv(c.env);
  process.argv = [process.argv[0] as string, opts.boot, ...c.argv];
  // The direct path's node is the process the caller started: its pid is what --debug logs
  // and what names the state store's tombstones (alive while the front waits).
  Object.defineProperty(process, 'pid', { value: c.peer, writable: false, enumerable: true, configurable: true });
}

/**
 * A command of a worker that serves again: the caller's stdio, cwd, umask, environment, argv and
 * pid for the time of main(), then this worker's own back; the status goes to the server, which
 * sends it to the front once the front may no longer reach this worker, and answers whether this
 * worker waits for another caller ('again') or exits ('retire').
 */
function runAgain(
  opts: WorkerOptions,
  reuse: Reuse,
  c: Caller,
  go: DaemonGo,
  command: string,
  spawner: (InitSpawner & { close(): void }) | undefined,
): void {
  const n = native();
  const conn = new net.Socket({ fd: c.conn, readable: false, writable: false });
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('a worker runs under `tsrunc daemon` only');
  const serveOne = async (): Promise<boolean> => {
    const saved = n.daemonSaveStdio();
    let code = 1;
    try {
      becomeCaller(opts, c, go);
      code = await opts.main([...c.argv]);
    } catch (err) {
      // as cli() says it
      try {
        fs.writeSync(2, `tsrunc: ${String(err)}\n`);
      } catch {
        // stderr closed
      }
      code = 1;
    }
    // Everything of the caller's given back before the front hears the status: a caller reading
    // our stdout to its end must see the end.
    try {
      n.daemonRestoreStdio(saved);
      spawner?.close();
      process.chdir(reuse.baseline.cwd);
      process.umask(reuse.umask);
      setEnv(Object.entries(reuse.env).map(([k, v]) => `${k}=${v ?? ''}`));
      process.argv = [...reuse.argv];
      Object.defineProperty(process, 'pid', { value: realPid, writable: false, enumerable: true, configurable: true });
      opts.forgetCommandState();
      // From here until the next caller, a signal its front passed on late cannot end this worker.
      n.daemonQuiesceSignals(true);
    } catch (err) {
      // The command's status still goes to its caller (through the server); this worker exits,
      // which gives back whatever it still holds.
      say(`cannot give the caller's back: ${String(err)}`);
      send({ type: 'done', code }, undefined, {}, () => process.exit(1));
      return new Promise<boolean>(() => undefined);
    }
    // The status first (the caller waits for it), then the checks (the server waits for both).
    send({ type: 'done', code }, undefined, {}, () => undefined);
    const changed = await settled(reuse.baseline);
    const stream = reuse.streams();
    if (stream !== undefined) changed.push(stream);
    if (process.exitCode !== undefined) changed.push(`process.exitCode is ${String(process.exitCode)}`);
    const clean = changed.length === 0;
    if (!clean) say(`serves no more after ${command}: ${changed.join('; ')}`);
    // (the server answers only after this, so listening from here misses nothing)
    const answer = new Promise<string>((resolve) => {
      const onMessage = (m: unknown): void => {
        const type = (m as { type?: unknown } | null)?.type;
        if (type === 'again' || type === 'retire') done(type);
      };
      const onDisconnect = (): void => done('retire');
      const done = (type: string): void => {
        process.off('message', onMessage);
        process.off('disconnect', onDisconnect);
        resolve(type);
      };
      process.on('message', onMessage);
      process.on('disconnect', onDisconnect);
    });
    send({ type: 'checked', again: clean }, undefined, {}, () => undefined);
    if ((await answer) !== 'again' || !clean) return false;
    n.daemonQuiesceSignals(false);
    return true;
  };
  send({ type: 'taken', again: true }, conn, {}, (err) => {
    if (err) {
      say(`cannot hand the connection to the server: ${err.message}`);
      process.exit(1);
    }
    void serveOne().then(
      (next) => {
        if (next) serveNext(opts, reuse);
        else process.exit(0);
      },
      (e: unknown) => {
        say(`cannot serve again: ${String(e)}`);
        process.exit(1);
      },
    );
  });
}

/**
 * What differs from the baseline once the event loop has turned: the connection handed to the
 * server is closed only when the server has acknowledged it, and what a command closed
 * asynchronously closes on a later turn. Tries for up to ~50 ms before it says what differs.
 */
async function settled(baseline: WorkerBaseline): Promise<string[]> {
  let changed: string[] = [];
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, i === 0 ? 0 : 1));
    changed = differences(baseline, observeWorker());
    if (changed.length === 0) break;
  }
  return changed;
}

/** process.env becomes exactly `env` (NAME=value strings). */
function setEnv(env: readonly string[]): void {
  for (const k of Object.keys(process.env)) delete process.env[k];
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq > 0) process.env[e.slice(0, eq)] = e.slice(eq + 1);
  }
}

type Caller = Extract<ReturnType<ReturnType<typeof native>['daemonAccept']>, { conn: number }>;
