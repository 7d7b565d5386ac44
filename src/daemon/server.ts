// `tsrunc daemon` (issue 17): the resident server. It listens on a unix socket in a directory
// only its own uid may enter, and keeps `spares` warm workers (dist/worker.cjs) waiting on it;
// bin/tsrunc hands a worker its command (native/front/protocol.h). One command per worker
// process: a worker that has run one exits, and a new one takes its place. The server itself
// runs no command: it keeps the pool full, holds each busy worker's connection, reports the
// worker's exit status to the front when the worker has exited, and kills a busy worker whose
// front died (what a killed tsrunc would leave is what the command leaves).
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
}

interface Worker {
  child: ChildProcess;
  started: number;
  conn?: net.Socket;
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
  const spares = (): number => [...workers].filter((w) => w.conn === undefined).length;

  const startWorker = (): void => {
    const child = spawn(process.execPath, [opts.worker], {
      // Nothing of the server's but its stderr (the journal) and the socket, as fd 4.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc', listen.fd],
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      cwd: '/',
    });
    const w: Worker = { child, started: Date.now() };
    workers.add(w);
    child.on('message', (msg: unknown, handle: unknown) => {
      if ((msg as { type?: string } | null)?.type !== 'taken' || handle === undefined) return;
      const conn = handle as net.Socket;
      w.conn = conn;
      served++;
      conn.on('error', () => undefined);
      // The front is gone while the command runs: stop it, as a killed tsrunc stops.
      conn.on('close', () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      conn.resume();
      topUp();
    });
    child.on('exit', (code, signal) => {
      workers.delete(w);
      if (w.conn !== undefined) {
        const signo = signal === null ? null : (os.constants.signals[signal] ?? 9);
        w.conn.end(statusMessage(code, signo));
      } else if (Date.now() - w.started < 1000) {
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
    while (spares() < opts.spares) startWorker();
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (timer !== undefined) clearTimeout(timer);
    if (listen.bound) fs.rmSync(opts.socket, { force: true });
    native().closeFd(listen.fd);
    for (const w of workers) if (w.conn === undefined) w.child.kill('SIGTERM');
    // Busy workers finish their commands; the server exits after the last.
    const done = (): void => {
      if (workers.size !== 0) return;
      process.stderr.write(`tsrunc daemon: stopped after serving ${served} commands\n`);
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
    `tsrunc daemon: pid ${process.pid} serving uid ${process.geteuid?.()} on ${opts.socket}${listen.bound ? '' : ' (socket from systemd)'} with ${opts.spares} spare workers\n`,
  );
}
