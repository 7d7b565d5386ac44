// sd_notify through the container, as runc proxies it: when the caller of create/run has
// NOTIFY_SOCKET set (a systemd service running a container, podman --sdnotify=container), the
// container gets a socket of tsrunc's own at /run/notify/notify.sock (its directory bound
// read-only from the container's state directory), and once `start` (or `run`) has released
// the init tsrunc waits for the container's READY=1 and passes it on to the caller's socket
// with MAINPID= the init's host pid. Only a READY=1 line is passed on: what the container
// sends is not trusted, and nothing else it says reaches the caller's systemd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, systemError } from '../errors';
import { native } from '../native/addon';
import type { Spec } from '../spec/types';

/** The directory in the container's state directory that the container sees at /run/notify. */
export const NOTIFY_DIR = 'notify';
const SOCKET = 'notify.sock';
const IN_CONTAINER = '/run/notify';
const PER_POLL = 8;

/** The caller's notify socket, if it gave one. */
export function callerNotifySocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const socket = env['NOTIFY_SOCKET'];
  return socket === undefined || socket === '' ? undefined : socket;
}

/**
 * The config as the container must get it to notify through tsrunc (runc's setupSpec): the
 * state directory's notify/ bound read-only at /run/notify, and NOTIFY_SOCKET naming the
 * socket there (replacing one the config had).
 */
export function withNotifySocket(spec: Spec, stateDir: string): Spec {
  const process = spec.process === undefined ? undefined : { ...spec.process };
  if (process !== undefined)
    process.env = [
      ...(process.env ?? []).filter((e) => !e.startsWith('NOTIFY_SOCKET=')),
      `NOTIFY_SOCKET=${IN_CONTAINER}/${SOCKET}`,
    ];
  return {
    ...spec,
    ...(process === undefined ? {} : { process }),
    mounts: [
      ...(spec.mounts ?? []),
      {
        destination: IN_CONTAINER,
        source: path.join(stateDir, NOTIFY_DIR),
        options: ['bind', 'nosuid', 'noexec', 'nodev', 'ro'],
      },
    ],
  };
}

/** Makes the directory the container's /run/notify shows (create, once the state directory is reserved). */
export function makeNotifyDir(stateDir: string, containerId: string): void {
  try {
    fs.mkdirSync(path.join(stateDir, NOTIFY_DIR), { mode: 0o755 });
  } catch (err) {
    throw systemError(`creating ${path.join(stateDir, NOTIFY_DIR)}`, err, containerId);
  }
}

/** tsrunc's end of the container's notify socket, bound for one start. */
export class NotifyProxy {
  private fd: number | undefined;

  private constructor(
    private readonly host: string,
    fd: number,
    private readonly containerId: string,
  ) {
    this.fd = fd;
  }

  /**
   * Binds the socket the container sends to, when the caller gave a NOTIFY_SOCKET and the
   * container was created with one (its state directory has notify/); else undefined.
   */
  static open(stateDir: string, containerId: string, env: NodeJS.ProcessEnv = process.env): NotifyProxy | undefined {
    const host = callerNotifySocket(env);
    const dir = path.join(stateDir, NOTIFY_DIR);
    if (host === undefined || !fs.existsSync(dir)) return undefined;
    const socket = path.join(dir, SOCKET);
    // (one left by an earlier start that was killed: bind would find the name taken)
    fs.rmSync(socket, { force: true });
    try {
      return new NotifyProxy(host, native().bindUnixgram(socket), containerId);
    } catch (err) {
      throw systemError(`binding the notify socket ${socket}`, err, containerId);
    }
  }

  /**
   * Reads what the container has sent (waiting up to `timeoutMs`); true once READY=1 came and
   * was passed on to the caller's socket, with MAINPID.
   */
  poll(initPid: number, timeoutMs: number): boolean {
    if (this.fd === undefined) return true;
    // At most PER_POLL datagrams a call: a container that keeps sending cannot hold tsrunc in
    // here (a foreground run forwards signals and reaps between calls; start checks the init).
    for (let i = 0; i < PER_POLL; i++) {
      const datagram = native().recvDatagram(this.fd, timeoutMs);
      if (datagram === null) return false;
      if (datagram.split('\n').some((line) => line === 'READY=1')) {
        try {
          native().sendUnixgram(this.host, `READY=1\nMAINPID=${initPid}\n`);
        } catch (err) {
          throw new TsruncError('system', `notifying ${this.host}: ${(err as Error).message}`, {
            containerId: this.containerId,
            cause: err,
          });
        }
        return true;
      }
      timeoutMs = 0;
    }
    return false;
  }

  /** Blocks until READY=1 came and was passed on, or `alive` says the init is gone (as runc's start and run -d). */
  waitReady(initPid: number, alive: () => boolean): void {
    while (!this.poll(initPid, 100)) if (!alive()) return;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
