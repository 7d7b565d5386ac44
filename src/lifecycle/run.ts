// `run`: create + start, then (unless --detach) stay as the container's parent: forward
// signals to the init, reap it (as child subreaper) and exit with its status, 128+N for a
// signal. Without --keep the container is deleted afterwards.
import { TsruncError, isErrno } from '../errors';
import { native, type WaitStatus } from '../native/addon';

const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15, SIGCONT: 18, SIGWINCH: 28 };

/** Waits for `pid` (a child, or reparented to us as subreaper) while forwarding signals. */
export function waitForInit(pid: number): Promise<WaitStatus> {
  const n = native();
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED) {
    const h = (): void => {
      n.kill(pid, SIGNAL_NUMBERS[sig] ?? 15);
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  return new Promise((resolve, reject) => {
    const finish = (result: WaitStatus | Error): void => {
      clearInterval(timer);
      for (const [sig, h] of handlers) process.off(sig, h);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const reap = (): void => {
      // Reap every exited child: orphans of the container reparent to us too.
      for (;;) {
        let status: WaitStatus | null;
        try {
          status = n.waitPid(-1, true);
        } catch (err) {
          if (isErrno(err, 'ECHILD')) finish(new TsruncError('system', `container init ${pid} is not a child of this process`));
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
