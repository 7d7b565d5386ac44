// A worker of the resident server (issue 17): a node with the CLI bundle loaded (from the full
// code cache) that waits on the server's socket for one caller, and runs that caller's command
// as bin/tsrunc's direct path would have: the caller's argv, environment, umask, cwd, stdin,
// stdout and stderr, the same main(). It serves one command and exits; the server reports its
// exit status to the front. Until the front's GO, nothing of the caller has been applied (a
// caller it does not serve, or a command it does not run, leaves it as it was).
import * as net from 'node:net';
import { setContainerInitSpawner, type InitSpawner } from '../lifecycle/session';
import { native, type DaemonGo } from '../native/addon';
import { DAEMON_BUILD_ID_LEN, DAEMON_REPLY_DIRECT, DAEMON_REPLY_READY, SERVED_COMMANDS } from './protocol';

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
  /** Whether the command line is `run --detach` (main.ts): served as create + start. */
  detachedRun(argv: string[]): boolean;
  cli(argv: string[]): void;
}

function say(text: string): void {
  try {
    process.stderr.write(`tsrunc daemon: worker ${process.pid}: ${text}\n`);
  } catch {
    // the server's stderr is gone
  }
}

/** Whether a worker runs this command line (else the front takes the direct path). */
export function servedCommand(scan: { command?: string; help?: boolean; version?: boolean }): boolean {
  return scan.command !== undefined && SERVED_COMMANDS.has(scan.command) && scan.help !== true && scan.version !== true;
}

export function serveWorker(opts: WorkerOptions): void {
  const n = native();
  if (BUILD_ID === '') throw new Error('this bundle has no build id: build it with scripts/build.mjs');
  if (n.daemonWorkerStart(opts.listenFd) === 1) process.exit(0); // the server is already gone
  for (;;) {
    const c = n.daemonAccept(opts.listenFd, BUILD_ID);
    if (c.refused !== undefined) {
      say(`refused a caller: ${c.refused}`);
      continue;
    }
    const detached = opts.detachedRun([...c.argv]);
    if (!servedCommand(opts.preScan([...c.argv])) && !detached) {
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
    n.closeFd(opts.listenFd);
    // create (and run --detach): the container's init is started by the front, the caller's own
    // process, as runc's is by runc (the caller may be a subreaper that must inherit it); the
    // worker keeps a copy of this caller's connection for that, and sends its SPAWN to no one else.
    if (opts.preScan([...c.argv]).command === 'create' || detached)
      setContainerInitSpawner(frontSpawner(n.daemonKeepConn(c.conn)));
    run(opts, c, go);
    return;
  }
}

/** The front starts tsrunc-init and reaps it; this worker does the parent's side as on the direct path. */
function frontSpawner(conn: number): InitSpawner {
  const n = native();
  const channels = new Map<number, number>();
  return {
    spawn(plan, fds, preserve, initFd) {
      const { pid, channel } = n.daemonSpawn(conn, plan, fds, preserve, initFd);
      channels.set(pid, channel);
      return pid;
    },
    wait(pid, nohang) {
      const channel = channels.get(pid);
      if (channel === undefined) return n.waitPid(pid, nohang);
      const status = n.daemonChildWait(channel, pid, nohang);
      if (status !== null) {
        channels.delete(pid);
        n.closeFd(channel);
      }
      return status;
    },
  };
}

function run(opts: WorkerOptions, c: Caller, go: DaemonGo): void {
  const n = native();
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
    n.daemonTakeStdio([...go.stdio]);
    process.chdir(`/proc/self/fd/${go.cwd}`);
    n.closeFd(go.cwd);
    process.umask(c.umask);
    for (const k of Object.keys(process.env)) delete process.env[k];
    for (const e of c.env) {
      const eq = e.indexOf('=');
      if (eq > 0) process.env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    process.argv = [process.argv[0] as string, opts.boot, ...c.argv];
    // The direct path's node is the process the caller started: its pid is what --debug logs
    // and what names the state store's tombstones (alive while the front waits).
    Object.defineProperty(process, 'pid', { value: c.peer, writable: false, enumerable: true, configurable: true });
    opts.cli([...c.argv]);
  });
}

type Caller = Extract<ReturnType<ReturnType<typeof native>['daemonAccept']>, { conn: number }>;
