// `run`: create + start, then (unless --detach) stay as the container's parent: forward
// signals to the init, reap it (as child subreaper) and exit with its status, 128+N for a
// signal. Without --keep the container is deleted afterwards.
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { TsruncError, isErrno } from '../errors';
import { native, type WaitStatus } from '../native/addon';
import { SIGNALS } from '../spec/linux-names';
import { containerParent } from './session';

const FORWARDED: NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGALRM',
  'SIGWINCH',
  'SIGCONT',
];
const RELAY_QUIET_MS = 1_000;
const RELAY_MAX_WAIT_MS = 10_000;

/**
 * The signals a foreground `run` or `exec` passes on to its process. Installed before the
 * process is created, as runc does: a SIGTERM that comes while tsrunc creates it must reach the
 * process once it runs, not end tsrunc (which would leave the process without its parent).
 */
export class SignalForwarder {
  private pid: number | undefined;
  private reaped = false;
  private readonly pending: number[] = [];
  private readonly handlers = new Map<NodeJS.Signals, () => void>();

  /** `withRelay`: a console relay resizes the pty on SIGWINCH instead. */
  constructor(withRelay: boolean) {
    for (const sig of FORWARDED) {
      if (sig === 'SIGWINCH' && withRelay) continue;
      const h = (): void => {
        const number = SIGNALS[sig.slice(3)] ?? 15;
        if (this.reaped) return;
        if (this.pid === undefined) this.pending.push(number);
        else containerParent().kill(this.pid, number);
      };
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  /** From now on signals go to `pid`, and those that came before go first. */
  forwardTo(pid: number): void {
    this.pid = pid;
    for (const number of this.pending.splice(0)) containerParent().kill(pid, number);
  }

  /**
   * The process is reaped (its pid may be reused): signals are dropped from now on, but still
   * caught, so that one cannot end tsrunc while it deletes the container or restores the terminal.
   */
  drop(): void {
    this.reaped = true;
  }

  stop(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers.clear();
  }
}

/**
 * Waits for `pid` (a child, or reparented to us as subreaper) while `signals` go to it: us, or
 * the front of a served command (containerParent), reaps it.
 */
export function waitForInit(pid: number, signals: SignalForwarder): Promise<WaitStatus> {
  const parent = containerParent();
  signals.forwardTo(pid);
  return new Promise((resolve, reject) => {
    const finish = (result: WaitStatus | Error): void => {
      clearInterval(timer);
      signals.drop();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const reap = (): void => {
      // Reap every exited child: orphans of the container reparent to us too.
      for (;;) {
        let status: WaitStatus | null;
        try {
          status = parent.waitAny(true);
        } catch (err) {
          if (isErrno(err, 'ECHILD'))
            finish(new TsruncError('system', `container init ${pid} is not a child of this process`));
          else finish(err as Error);
          return;
        }
        if (status === null) return;
        if (status.pid === pid) {
          finish(status);
          return;
        }
      }
    };
    const timer = setInterval(reap, 5);
    reap();
  });
}

export function exitCodeOf(status: WaitStatus): number {
  if (status.signal !== null) return 128 + status.signal;
  return status.exitCode ?? 0;
}

/**
 * `run` in the foreground with `terminal: true` and no --console-socket, as runc does: the
 * pty master comes to us, and we relay between it and our own stdio (raw mode on a tty).
 */
export class ConsoleRelay {
  private readonly stream: fs.ReadStream;
  private closed = false;
  private lastOutput = 0;
  private rawMode = false;
  private readonly onWinch = (): void => this.resize();

  constructor(private readonly master: number) {
    if (tty.isatty(0)) {
      process.stdin.setRawMode(true);
      this.rawMode = true;
    }
    this.resize();
    process.on('SIGWINCH', this.onWinch);
    process.stdin.on('data', (chunk: Buffer) => writeAll(master, chunk));
    process.stdin.on('error', () => {});
    this.stream = fs.createReadStream('', { fd: master, autoClose: false });
    this.stream.on('data', (chunk) => {
      this.lastOutput = Date.now();
      writeAll(1, chunk as Buffer);
    });
    // EIO once the last slave fd closes: nobody can write any more.
    this.stream.on('error', () => (this.closed = true));
    this.stream.on('end', () => (this.closed = true));
  }

  private resize(): void {
    if (!tty.isatty(1)) return;
    const out = process.stdout as tty.WriteStream;
    try {
      native().setWinsize(this.master, out.rows, out.columns);
    } catch {
      // a closed pty cannot be resized: nothing to do
    }
  }

  /**
   * Relays what is still in the pty, then restores the terminal. Until the pty's last holder
   * closes it; but a process left behind (a daemon an exec started, run --keep) may hold it for
   * ever, so also until it has been quiet for a while, and never beyond a bound.
   */
  async close(): Promise<void> {
    const start = Date.now();
    while (
      !this.closed &&
      Date.now() - start < RELAY_MAX_WAIT_MS &&
      Date.now() - Math.max(start, this.lastOutput) < RELAY_QUIET_MS
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    process.off('SIGWINCH', this.onWinch);
    if (this.rawMode) process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stdin.destroy();
    this.stream.destroy();
    try {
      fs.closeSync(this.master);
    } catch {
      // the stream may have closed it on EIO
    }
  }
}

function writeAll(fd: number, chunk: Buffer): void {
  let buf = chunk;
  while (buf.length > 0) {
    try {
      buf = buf.subarray(fs.writeSync(fd, buf));
    } catch (err) {
      if (isErrno(err, 'EAGAIN')) continue;
      return; // the other side is gone
    }
  }
}
