// Errors are values with a kind, an exit code and the context a caller needs
// (container id, file, JSON pointer). The CLI prints `message`; only --debug shows stacks.

export type ErrorKind =
  | 'usage' // bad command line
  | 'config' // config.json (or another JSON input) is invalid
  | 'not-found' // container does not exist
  | 'exists' // container with given ID already exists
  | 'state' // operation not allowed in the container's current status
  | 'system' // a syscall or the host failed
  | 'not-implemented';

export interface ErrorContext {
  containerId?: string;
  file?: string;
  step?: string;
  cause?: unknown;
  /** The errno behind a system error, by name ("ENOENT"), where there is one. */
  errno?: string;
}

export class TsruncError extends Error {
  readonly kind: ErrorKind;
  readonly exitCode: number;
  readonly context: ErrorContext;

  constructor(kind: ErrorKind, message: string, context: ErrorContext = {}, exitCode = 1) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'TsruncError';
    this.kind = kind;
    this.exitCode = exitCode;
    this.context = context;
  }
}

export class UsageError extends TsruncError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** One problem found in a JSON document, located by a JSON pointer (RFC 6901). */
export interface Problem {
  pointer: string;
  message: string;
}

export class ConfigError extends TsruncError {
  readonly problems: Problem[];
  constructor(file: string, problems: Problem[], exitCode = 1) {
    super('config', problems.map((p) => formatProblem(file, p)).join('; '), { file }, exitCode);
    this.problems = problems;
  }

  /** One line per problem, as printed on stderr. */
  lines(): string[] {
    return this.problems.map((p) => formatProblem(this.context.file ?? 'config.json', p));
  }
}

export function formatProblem(file: string, p: Problem): string {
  return `${file}: ${p.pointer === '' ? '/' : p.pointer}: ${p.message}`;
}

export function notFound(id: string): TsruncError {
  // containerd's shim and go-runc match on "does not exist".
  return new TsruncError('not-found', 'container does not exist', { containerId: id });
}

export function notImplemented(what: string): TsruncError {
  return new TsruncError('not-implemented', `${what}: not implemented yet`);
}

/**
 * How `exec` fails once its arguments are parsed: as runc, exit status 255 (so that a caller
 * can tell it from the process's own exit status) and "exec failed: " before the reason.
 */
export function execFailed(err: unknown): TsruncError {
  if (err instanceof ConfigError)
    return new ConfigError(err.context.file ?? 'process', err.problems, EXEC_FAILED_STATUS);
  if (err instanceof TsruncError)
    return new TsruncError(
      err.kind,
      `exec failed: ${err.message}`,
      { ...err.context, cause: err.context.cause ?? err },
      EXEC_FAILED_STATUS,
    );
  return new TsruncError(
    'system',
    `exec failed: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
    EXEC_FAILED_STATUS,
  );
}

export const EXEC_FAILED_STATUS = 255;

/**
 * How `create` and `run` fail once their arguments are parsed: with runc's "runc create
 * failed: " / "runc run failed: " before the reason (runc 1.1 wraps every error of its
 * startContainer so; shims show it as "OCI runtime create failed: runc create failed: ...",
 * and scripts match on it). The status is kept; config.json's problems keep their pointer
 * lines, as exec's do; an internal error stays one.
 */
export function commandFailed(command: 'create' | 'run', err: unknown): unknown {
  if (!(err instanceof TsruncError) || err instanceof ConfigError) return err;
  return new TsruncError(
    err.kind,
    `runc ${command} failed: ${err.message}`,
    { ...err.context, cause: err.context.cause ?? err },
    err.exitCode,
  );
}

/** An errno-carrying error from Node's fs or from the addon, with a step prefix. */
export function systemError(step: string, cause: unknown, containerId?: string): TsruncError {
  const detail = cause instanceof Error ? describeErrno(cause) : String(cause);
  const code = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
  return new TsruncError('system', `${step}: ${detail}`, {
    step,
    cause,
    containerId,
    ...(typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? { errno: code } : {}),
  });
}

function describeErrno(err: Error): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && typeof e.syscall === 'string') {
    // Node's messages repeat the path; keep the errno text short like runc's.
    return `${e.code}: ${e.message.replace(/^[A-Z]+: /, '').replace(/, .*$/, '')}`;
  }
  return err.message;
}

export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/**
 * Library callers' paths and names (argv cannot hold a NUL; a JS string can): C and the
 * syscalls would see the string cut at the NUL, and Node's fs refuses it as an internal error.
 */
export function refuseNul(values: Record<string, string | undefined>): void {
  for (const [what, value] of Object.entries(values)) {
    if (value?.includes('\0')) throw new TsruncError('usage', `${what} must not contain a NUL character`);
  }
}
