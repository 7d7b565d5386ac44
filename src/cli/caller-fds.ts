// --preserve-fds N hands fds 3..N+2 to the container, and checkpoint --status-fd N writes a \0
// to fd N and closes it, so they must be fds the caller passed: anything else there is tsrunc's
// own (Node's epoll and pipes, the container's state lock, its sockets). Node marks every fd
// close-on-exec as it starts, so from here a caller's fd cannot be told from one of ours;
// bin/tsrunc looks before node runs and lists the open ones in TSRUNC_CALLER_FDS (CallerFds in
// native/front/front.cc; scripts/sh-launcher.mjs was its first form). The library API (Runtime)
// does not check: its callers own their fds.
import { TsruncError, UsageError } from '../errors';
import { listenFds } from '../lifecycle/create';

export const CALLER_FDS_ENV = 'TSRUNC_CALLER_FDS';

/** The launcher's list; undefined when tsrunc was not started through bin/tsrunc. */
let callerFds: ReadonlySet<number> | undefined;

/**
 * Takes the launcher's list out of the environment, so that no process tsrunc starts (hooks,
 * ps) inherits it. The CLI calls it first thing.
 */
export function takeCallerFds(env: NodeJS.ProcessEnv = process.env): void {
  const text = env[CALLER_FDS_ENV];
  delete env[CALLER_FDS_ENV];
  callerFds =
    text === undefined
      ? undefined
      : new Set(
          text
            .split(' ')
            .filter((w) => /^[0-9]+$/.test(w))
            .map(Number),
        );
}

/** Forgets the launcher's list (a resident worker's next command brings its own). */
export function forgetCallerFds(): void {
  callerFds = undefined;
}

/** A --preserve-fds value as the parser gave it: a non-negative integer, else a usage error. */
export function preserveFdsArg(value: unknown, flag = '--preserve-fds'): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new UsageError(`${flag} must be a non-negative integer (a count of fds from fd 3), got ${String(value)}`);
}

/**
 * Checks that fds 3..3+count-1 were passed by the caller; `what` names the flag in messages.
 * create and run also pass LISTEN_FDS on (see createContainer): `listen` adds those.
 */
export function checkCallerFds(requested: number, opts: { listen?: boolean; flag?: string } = {}): void {
  const flag = opts.flag ?? '--preserve-fds';
  const listen = opts.listen === true ? listenFds() : 0;
  const count = requested + listen;
  if (count === 0) return;
  const what = listen > 0 ? `${flag} ${requested} with LISTEN_FDS=${listen}` : `${flag} ${requested}`;
  if (callerFds === undefined) {
    throw new TsruncError(
      'usage',
      `${what}: cannot tell which fds the caller passed (${CALLER_FDS_ENV} is not set: start tsrunc through bin/tsrunc)`,
    );
  }
  for (let fd = 3; fd < 3 + count; fd++) {
    if (!callerFds.has(fd))
      throw new TsruncError(
        'usage',
        `${what}: fd ${fd} was not passed by the caller (fds 3 to ${2 + count} must be open)`,
      );
  }
}

/**
 * checkpoint's --status-fd N: N must be an fd the caller passed (bin/tsrunc lists it when it is
 * open as tsrunc starts), since tsrunc writes criu's \0 to it and closes it. fds 0..2 are the
 * caller's stdio (or /dev/null that node opened in their place). Without the launcher's list
 * (node started otherwise than through bin/tsrunc) nothing is checked, as before: the fd is
 * only checked to be open and writable (checkpointContainer).
 */
export function checkCallerFd(fd: number, flag: string): void {
  if (fd < 3 || callerFds === undefined) return;
  if (!callerFds.has(fd))
    throw new TsruncError(
      'usage',
      `${flag} ${fd}: fd ${fd} was not passed by the caller (it must be open when tsrunc starts)`,
    );
}
