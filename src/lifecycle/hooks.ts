// Hooks the runtime runs itself, in its own namespaces (prestart, createRuntime, poststart,
// poststop), with the state document on stdin. createContainer and startContainer run in
// the container, from the native executor.
import { spawnSync } from 'node:child_process';
import { TsruncError } from '../errors';
import type { Logger } from '../log';
import type { HookName, Spec, State } from '../spec/types';

export function runHooks(spec: Spec, name: HookName, state: State, log: Logger, mode: 'fail' | 'warn'): void {
  (spec.hooks?.[name] ?? []).forEach((hook, index) => {
    const args = hook.args ?? [hook.path];
    const env: Record<string, string> = {};
    for (const e of hook.env ?? []) {
      const eq = e.indexOf('=');
      if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    const result = spawnSync(hook.path, args.slice(1), {
      argv0: args[0] ?? hook.path,
      env,
      input: JSON.stringify(state),
      timeout: hook.timeout !== undefined ? hook.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 1 << 20,
    });
    // A hook need not read its stdin: EPIPE only means it exited before taking the state, and
    // its exit status still decides (as with runc, whose Go exec ignores EPIPE there).
    const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
    const error = code === 'EPIPE' && result.status !== null ? undefined : result.error;
    let why: string | undefined;
    if (error !== undefined) why = code === 'ETIMEDOUT' ? `timed out after ${hook.timeout}s` : error.message;
    else if (result.signal !== null) why = `killed by ${result.signal}`;
    else if (result.status !== 0) why = `exit status ${result.status}`;
    if (why === undefined) return;
    const stderr = result.stderr?.toString().trim();
    const message = `${name} hook #${index} (${hook.path}) failed: ${why}${stderr ? `: ${stderr}` : ''}`;
    if (mode === 'fail') throw new TsruncError('system', message, { containerId: state.id, step: `${name} hook` });
    log.warn(message);
  });
}
