// `tsrunc daemon` (issue 17): the resident server. It listens on a unix socket in a directory
// only its own uid may enter, and keeps `spares` warm workers (dist/worker.cjs) waiting on it;
// bin/tsrunc hands a worker its command (native/front/protocol.h). The server itself runs no
// command: it keeps the pool full, holds each busy worker's connection, sends the front the
// command's status, and kills a busy worker whose front died (what a killed tsrunc would leave
// is what the command leaves). With `maxCommands` 1 a worker serves one command and exits, and
// the status is its exit status. Above 1, a worker that ran a command of REUSABLE_COMMANDS
// gives back everything of the caller's and checks that it is as it was before its first
// command (src/daemon/reuse.ts), then says the status ('done'); the server sends it to the
// front, waits until the front has gone (so that no signal the front passes on reaches the
// worker's next command) and tells the worker to wait for another caller ('again') or, when
// the pool is full, it has served `maxCommands` or its check failed, to exit ('retire').
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../native/addon';
import { statusMessage } from './protocol';

export interface ServerOptions {
  socket: string;
  spares: number;
  /** dist/worker.cjs */
  worker: string;
  /** How many commands a worker may serve (1: one, then it exits). */
  maxCommands: number;
}

/** How long the server waits, after a command's status, for its front to go before a worker serves again. */
const FRONT_GONE_MS = 2000;
/** How long after 'done' a worker has to say whether its checks passed ('checked'); else it is killed. */
const CHECKED_MS = 5000;
/**
 * A command running this long is not counted on to bring its worker back soon: the server starts
 * another (a foreground run, an update reading stdin, a slow hook must not leave callers without
 * a spare).
 */
const LONG_COMMAND_MS = 100;

interface Worker {
  child: ChildProcess;
  started: number;
  /** The connection of the command it runs. */
  conn?: net.Socket;
  /** The command may bring it back ('taken' said so). */
  again: boolean;
  /** Its status was sent to the front of `conn`. */
  done: boolean;
  /** Told to exit. */
  retiring: boolean;
  /** Its command has run longer than LONG_COMMAND_MS. */
  long: boolean;
  /** After 'done': whether its checks passed ('checked'), and what decides once both ends are known. */
  checked?: boolean;
  decide?: () => void;
  commands: number;
}

function fail(text: string): never {
  process.stderr.write(`tsrunc daemon: ${text}\n`);
  process.exit(1);
}

/** The socket's directory: made 0700 when missing; refused unless it is this uid's and closed to others. */
export function checkDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(dir);
  const uid = process.geteuid?.() ?? -1;
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not to the server's (${uid})`);
  if ((st.mode & 0o077) !== 0)
    throw new Error(`${dir} is open to others (mode ${(st.mode & 0o777).toString(8)}): it must be 0700`);
}

/** The listening socket: systemd's (socket activation) or one bound here. */
function listenSocket(socket: string): { fd: number; bound: boolean } {
  const n = native();
  if (process.env['LISTEN_PID'] === String(process.pid) && process.env['LISTEN_FDS'] === '1') {
    delete process.env['LISTEN_PID'];
    delete process.env['LISTEN_FDS'];
    delete process.env['LISTEN_FDNAMES'];
    return { fd: n.daemonListen(3), bound: false };
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(socket);
  } catch {
    st = undefined;
  }
  if (st !== undefined) {
    if (!st.isSocket()) throw new Error(`${socket} exists and is not a socket`);
    let live = false;
    try {
      n.closeFd(n.connectUnix(socket));
      live = true;
    } catch {
      live = false;
    }
    if (live) throw new Error(`another server listens on ${socket}`);
    fs.unlinkSync(socket);
  }
  return { fd: n.daemonListen(socket), bound: true };
}

export function serve(opts: ServerOptions): void {
  let listen: { fd: number; bound: boolean };
  try {
    native().daemonCloexecAll();
    checkDirectory(path.dirname(opts.socket));
    listen = listenSocket(opts.socket);
  } catch (e) {
    fail((e as Error).message);
  }
  const workers = new Set<Worker>();
  let stopping = false;
  let quickDeaths = 0;
  let served = 0;
  let reused = 0;
  const idle = (): number => [...workers].filter((w) => w.conn === undefined && !w.retiring).length;
  // Busy workers that will soon serve again if they pass their checks (not those of a long command).
  const returning = (): number => [...workers].filter((w) => w.conn !== undefined && w.again && !w.long).length;

  const startWorker = (): void => {
    const child = spawn(process.execPath, [opts.worker, ...(opts.maxCommands > 1 ? ['--again'] : [])], {
      // Nothing of the server's but its stderr (the journal) and the socket, as fd 4.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc', listen.fd],
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      cwd: '/',
    });
    const w: Worker = {
      child,
      started: Date.now(),
      again: false,
      done: false,
      retiring: false,
      long: false,
      commands: 0,
    };
    workers.add(w);
    child.on('message', (msg: unknown, handle: unknown) => {
      const m = msg as { type?: string; again?: unknown; code?: unknown } | null;
      if (m?.type === 'taken' && handle !== undefined) {
        const conn = handle as net.Socket;
        w.conn = conn;
        w.again = m.again === true;
        w.done = false;
        w.long = false;
        w.commands++;
        if (w.again)
          setTimeout(() => {
            if (w.conn !== conn || w.done) return;
            w.long = true;
            topUp();
          }, LONG_COMMAND_MS).unref();
        served++;
        if (w.commands > 1) reused++;
        conn.on('error', () => undefined);
        // The front is gone while the command runs: stop it, as a killed tsrunc stops.
        conn.on('close', () => {
          if (w.conn === conn && !w.done && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        });
        conn.resume();
        topUp();
      } else if (m?.type === 'done' && w.conn !== undefined && !w.done) {
        const conn = w.conn;
        const code = typeof m.code === 'number' && Number.isInteger(m.code) ? m.code : 1;
        w.done = true;
        w.checked = undefined;
        conn.end(statusMessage(code, null));
        // Serve again once the front has gone (no signal it passes on can come after) and the
        // worker's checks passed; retire it if the front is still there after FRONT_GONE_MS.
        let frontGone: boolean | undefined;
        const frontWait = setTimeout(() => {
          frontGone ??= false;
          decide();
        }, FRONT_GONE_MS);
        // A worker that does not finish its checks is not waited for.
        const deadline = setTimeout(() => {
          if (w.conn === conn && w.checked === undefined && child.exitCode === null) {
            process.stderr.write(`tsrunc daemon: worker ${child.pid}: no answer from its checks; killed\n`);
            child.kill('SIGKILL');
          }
        }, CHECKED_MS);
        const decide = (): void => {
          if (w.conn !== conn || frontGone === undefined || w.checked === undefined) return;
          clearTimeout(frontWait);
          clearTimeout(deadline);
          const again =
            frontGone && w.checked && w.again && !stopping && w.commands < opts.maxCommands && idle() < opts.spares;
          w.conn = undefined;
          if (!again) w.retiring = true;
          if (child.connected)
            child.send({ type: again ? 'again' : 'retire' }, (err) => {
              if (err && child.exitCode === null) child.kill('SIGKILL');
            });
          else if (child.exitCode === null) child.kill('SIGKILL');
          topUp();
        };
        w.decide = decide;
        const gone = (): void => {
          frontGone ??= true;
          decide();
        };
        if (conn.closed) gone();
        else conn.once('close', gone);
      } else if (m?.type === 'checked' && w.done && w.checked === undefined) {
        w.checked = m.again === true;
        w.decide?.();
      }
    });
    child.on('exit', (code, signal) => {
      workers.delete(w);
      if (w.conn !== undefined && !w.done) {
        const signo = signal === null ? null : (os.constants.signals[signal] ?? 9);
        w.conn.end(statusMessage(code, signo));
      } else if (w.commands === 0 && Date.now() - w.started < 1000) {
        quickDeaths++;
      }
      topUp();
    });
  };

  let timer: NodeJS.Timeout | undefined;
  const topUp = (): void => {
    if (stopping || timer !== undefined) return;
    if (quickDeaths > 3) {
      // Workers die as they start (a broken build): try again later, not in a loop.
      process.stderr.write('tsrunc daemon: workers exit as they start; retrying in 5 s\n');
      quickDeaths = 0;
      timer = setTimeout(() => {
        timer = undefined;
        topUp();
      }, 5000);
      return;
    }
    while (idle() + returning() < opts.spares) startWorker();
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (timer !== undefined) clearTimeout(timer);
    if (listen.bound) fs.rmSync(opts.socket, { force: true });
    native().closeFd(listen.fd);
    // Workers not running a command hold nothing: SIGKILL, which one just told to serve again
    // cannot ignore (it ignores the forwarded signals, SIGTERM among them, until it has taken
    // 'again' in: a SIGTERM there was lost and the server waited for it forever).
    for (const w of workers) if (w.conn === undefined) w.child.kill('SIGKILL');
    // Busy workers finish their commands; the server exits after the last.
    const done = (): void => {
      if (workers.size !== 0) return;
      process.stderr.write(
        `tsrunc daemon: stopped after serving ${served} commands (${reused} by a worker that had served before)\n`,
      );
      process.exit(0);
    };
    for (const w of workers) w.child.on('exit', done);
    done();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', stop);
  topUp();
  process.stderr.write(
    `tsrunc daemon: pid ${process.pid} serving uid ${process.geteuid?.()} on ${opts.socket}${listen.bound ? '' : ' (socket from systemd)'} with ${opts.spares} spare workers, each serving ${opts.maxCommands === 1 ? 'one command' : `up to ${opts.maxCommands} commands`}\n`,
  );
}
