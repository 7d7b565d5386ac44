// What every command handler receives: the parsed global flags, the runtime (library API)
// and the logger. Output goes through fs.writeSync so that Node never switches the
// caller's stdio to non-blocking mode (the container's init inherits those descriptors).
import * as fs from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { systemError } from '../errors';
import type { Logger } from '../log';
import type { Runtime } from '../runtime';

export interface GlobalArgs {
  root: string;
  log?: string;
  'log-format': 'text' | 'json';
  debug: boolean;
  'systemd-cgroup': boolean;
}

export interface Context {
  runtime: Runtime;
  log: Logger;
  /** The exit status the process ends with once the handler returns. */
  exitCode: number;
}

export function out(text: string): void {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    const n = fs.writeSync(1, buf);
    buf = buf.subarray(n);
  }
}

/** The text of a JSON input flag's file, or of standard input for "-"; unreadable is a clean error. */
export function readInput(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw systemError(`open ${file === '-' ? 'standard input' : file}`, err);
  }
}

/**
 * For a --debug line: "status S, init pid N" of a container, or why it cannot be said (the
 * command itself then reports the problem). Only call it inside a debug message function.
 */
export function containerSummary(ctx: Context, id: string): string {
  try {
    const state = ctx.runtime.state(id);
    return `status ${state.status}, init pid ${state.pid}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export type Handler<A> = (args: A & GlobalArgs, ctx: Context) => void | Promise<void>;

/** A command as the CLI registers it: yargs' module plus our context-taking handler. */
export interface CommandSpec<A> {
  command: string;
  describe: string;
  builder: (y: Argv<GlobalArgs>) => Argv<A & GlobalArgs>;
  handler: Handler<A>;
}

export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

export type AnyCommand = CommandSpec<never>;

/** The yargs module of a command; `run` receives the parsed arguments (main.ts runs the handler). */
export function toYargs<A>(
  spec: CommandSpec<A>,
  run: (cmd: AnyCommand, args: GlobalArgs & Record<string, unknown>) => Promise<void>,
): CommandModule<GlobalArgs, A & GlobalArgs> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: spec.builder,
    handler: (args) => run(spec as unknown as AnyCommand, args as unknown as GlobalArgs & Record<string, unknown>),
  };
}
