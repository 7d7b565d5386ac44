// tsrunc's command line: runc's global flags and commands, each command in its own file
// under commands/. Handlers call the library API (src/runtime.ts); this file turns errors
// into runc's log lines and exit codes.
import * as fs from 'node:fs';
import { ConfigError, TsruncError, UsageError } from '../errors';
import { Logger, type LogFormat } from '../log';
import { native } from '../native/addon';
import { Runtime } from '../runtime';
import { COMMIT, VERSION, versionText } from '../version';
import { forgetHierarchies } from '../cgroups';
import { setContainerInitSpawner } from '../lifecycle/session';
import { disarmFaults } from '../util/faults';
import { forgetCallerFds, takeCallerFds } from './caller-fds';
export { serveWorker } from '../daemon/worker';
import type { AnyCommand, Context, GlobalArgs } from './context';
import { FAST_COMMANDS, GLOBAL_SWITCHES, GLOBAL_VALUE_FLAGS, parseFast } from './fast-args';
import checkpoint from './commands/checkpoint';
import create from './commands/create';
import del from './commands/delete';
import events from './commands/events';
import exec from './commands/exec';
import featuresCmd from './commands/features';
import kill from './commands/kill';
import list from './commands/list';
import pause from './commands/pause';
import ps from './commands/ps';
import restore from './commands/restore';
import resume from './commands/resume';
import run from './commands/run';
import spec from './commands/spec';
import start from './commands/start';
import state from './commands/state';
import update from './commands/update';
import validate from './commands/validate';

export const COMMANDS = [
  checkpoint,
  create,
  del,
  events,
  exec,
  featuresCmd,
  kill,
  list,
  pause,
  ps,
  restore,
  resume,
  run,
  spec,
  start,
  state,
  update,
  validate,
] as unknown as AnyCommand[];

function writeStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    // stderr closed: nothing more to say
  }
}

/** Global flags are parsed by hand first so that even a usage error reaches --log. */
interface PreScan {
  file?: string;
  format: LogFormat;
  debug: boolean;
  command?: string;
  /** Where the command is in argv. */
  commandAt?: number;
  /** -h or --help among the global flags (then help is printed, whatever the command). */
  help?: boolean;
  unknownFlag?: string;
  /** The global --rootless, taken out of argv: `spec` has a --rootless switch of its own. */
  rootless?: string;
  /** --version or -v among the global flags (runc prints its version whatever else is there). */
  version?: boolean;
  argv: string[];
}

/** yargs reads a lone "-" as a positional; `update --resources -` means stdin (as in runc). */
function joinStdinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const prev = out[out.length - 1];
    if (a === '-' && (prev === '--resources' || prev === '-r' || prev === '--process' || prev === '-p'))
      out[out.length - 1] = `${prev}=-`;
    else out.push(a);
  }
  return out;
}

/** A command's flags that take a value, as written (from the fast path's table of its flags). */
function valueFlagsOf(command: string): Set<string> {
  const out = new Set<string>();
  for (const [name, spec] of Object.entries(FAST_COMMANDS[command]?.flags ?? {})) {
    if (spec.kind === 'boolean') continue;
    out.add(`--${name}`);
    if (spec.alias !== undefined) out.add(`-${spec.alias}`);
  }
  return out;
}

/**
 * Commands whose arguments after the container id are not tsrunc's: exec's command
 * (`exec ID ls -la`) and ps's arguments for ps(1) (`ps ID -e -x`). As in runc, flags end at
 * the id; a "--" put behind the id tells yargs the same. For ps everything after the id goes
 * to ps(1) as written, a "--" too, and a "--" before the id ends the flags (runc's parser,
 * Go's flag package, reads both so). exec keeps its own reading: a "--" anywhere is left to yargs.
 */
function separateTrailingArgs(argv: string[], at: number): string[] {
  const command = argv[at] as string;
  if (command !== 'exec' && command !== 'ps') return argv;
  if (command === 'exec' && argv.includes('--')) return argv;
  const valueFlags = valueFlagsOf(command);
  for (let i = at + 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--' && command === 'ps') {
      if (i + 1 >= argv.length) return argv;
      return [...argv.slice(0, i), argv[i + 1] as string, '--', ...argv.slice(i + 2)];
    }
    if (a.startsWith('-')) {
      if (valueFlags.has(a)) i++;
      continue;
    }
    return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
  }
  return argv;
}

export function preScan(argv: string[]): PreScan {
  const result: PreScan = { format: 'text', debug: false, argv: joinStdinValues(argv) };
  argv = result.argv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (!a.startsWith('-')) {
      result.command = a; // global flags end at the command
      result.commandAt = i;
      result.argv = separateTrailingArgs(argv, i);
      break;
    }
    if (flag === '--rootless') {
      const start = i;
      result.rootless = inline ?? argv[++i];
      result.argv.splice(start, i - start + 1);
      i = start - 1;
      argv = result.argv;
    } else if (GLOBAL_VALUE_FLAGS.includes(flag)) {
      const value = inline ?? argv[++i];
      if (flag === '--log') result.file = value;
      else if (flag === '--log-format') result.format = value === 'json' ? 'json' : 'text';
    } else if (flag === '--debug') result.debug = inline === undefined || !['false', '0', ''].includes(inline);
    else if (flag === '--version' || flag === '-v') result.version = true;
    else if (flag === '--help' || flag === '-h') result.help = true;
    else if (!GLOBAL_SWITCHES.includes(flag) && result.unknownFlag === undefined) result.unknownFlag = flag;
  }
  return result;
}

function commandNamed(name: string): AnyCommand {
  const cmd = COMMANDS.find((c) => c.command.split(' ')[0] === name);
  if (cmd === undefined) throw unknownCommand(name);
  return cmd;
}

/** runc exits 3 for a command it does not have ("No help topic for 'x'"), with -h too. */
function unknownCommand(name: string): TsruncError {
  return new TsruncError('usage', `unknown command ${JSON.stringify(name)} (see tsrunc --help)`, {}, 3);
}

/**
 * The command line yargs gets: an unknown command fails here, before yargs would print the
 * general help for `bogus -h` and exit 0; `help [COMMAND]` (runc's) becomes `[COMMAND] --help`.
 */
function checkCommand(scan: PreScan): string[] {
  const { command, commandAt, argv } = scan;
  if (command === undefined || commandAt === undefined || scan.help === true) return argv;
  if (command === 'help') {
    const topic = argv.slice(commandAt + 1).find((a) => !a.startsWith('-'));
    if (topic === undefined) return [...argv.slice(0, commandAt), '--help'];
    commandNamed(topic);
    return [...argv.slice(0, commandAt), topic, '--help'];
  }
  commandNamed(command);
  return argv;
}

export async function main(argv: string[]): Promise<number> {
  takeCallerFds();
  const logOpts = preScan(argv);
  const logger = new Logger(logOpts);
  try {
    // As runc: --log is opened (created) at start, except for the version and the general help.
    if (logOpts.version !== true && logOpts.help !== true) logger.open();
    if (logOpts.unknownFlag !== undefined)
      throw new UsageError(`flag provided but not defined: ${logOpts.unknownFlag}`);
    if (logOpts.version === true) {
      let napi: number | undefined;
      let libseccomp: string | undefined;
      try {
        napi = native().napiVersion;
        libseccomp = native().seccompVersion();
      } catch {
        napi = undefined;
      }
      fs.writeSync(1, versionText(napi, libseccomp));
      return 0;
    }
    const runParsed = async (cmd: AnyCommand, args: GlobalArgs & Record<string, unknown>): Promise<number> => {
      logger.adopt({ file: args.log, format: args['log-format'], debug: args.debug });
      logger.debug(() => `tsrunc ${VERSION} (commit ${COMMIT}), pid ${process.pid}: ${argv.map(shellWord).join(' ')}`);
      const ctx: Context = {
        runtime: new Runtime({
          root: args.root,
          logger,
          systemdCgroup: args['systemd-cgroup'],
          criu: typeof args.criu === 'string' ? args.criu : 'criu',
          rootless: checkRootless(logOpts.rootless ?? 'auto'),
        }),
        log: logger,
        exitCode: 0,
      };
      await cmd.handler(args as never, ctx);
      return ctx.exitCode;
    };
    const fast = parseFast(logOpts.argv);
    if (fast !== undefined)
      return await runParsed(commandNamed(fast.command), fast.args as GlobalArgs & Record<string, unknown>);
    const { parseWithYargs } = await import('./yargs-cli');
    let exitCode = 0;
    await parseWithYargs(checkCommand(logOpts), COMMANDS, logOpts.command, async (cmd, args) => {
      exitCode = await runParsed(cmd, args);
    });
    return exitCode;
  } catch (err) {
    return report(err, logger, logger.debugEnabled);
  } finally {
    logger.close();
  }
}

/** An argument as a shell would need it written (for the --debug line of the command). */
function shellWord(a: string): string {
  return /^[\w./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function checkRootless(value: unknown): 'true' | 'false' | 'auto' {
  if (value === 'true' || value === 'false' || value === 'auto') return value;
  throw new UsageError(`--rootless must be true, false or auto, got ${JSON.stringify(value)}`);
}

function report(err: unknown, logger: Logger, debug: boolean): number {
  if (err instanceof ConfigError) {
    logger.error(err.message);
    if (logger.hasFile) writeStderr(err.lines().join('\n') + '\n');
    else if (err.problems.length > 1) writeStderr(err.lines().slice(0).join('\n') + '\n');
    return err.exitCode;
  }
  if (err instanceof TsruncError) {
    const msg = err.kind === 'usage' ? `${err.message}` : err.message;
    logger.error(msg);
    if (logger.hasFile) writeStderr(`${msg}\n`);
    if (debug && err.stack) writeStderr(`${sourceMapped(err.stack)}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  logger.error(`internal error: ${e.message}`);
  writeStderr(
    debug
      ? `${sourceMapped(e.stack ?? e.message)}\n`
      : `tsrunc: internal error: ${e.message} (run with --debug for details)\n`,
  );
  return 1;
}

/**
 * A --debug stack with positions in the TypeScript sources: the CLI bundle is minified
 * and bin/tsrunc compiles it through vm (node --enable-source-maps would not see it), so its
 * source map is read here. Unchanged when there is no map (running from the sources).
 */
function sourceMapped(stack: string): string {
  try {
    const bundle = __filename;
    const { SourceMap } = (require as (id: string) => typeof import('node:module'))('node:module');
    const map = new SourceMap(
      JSON.parse(fs.readFileSync(`${bundle}.map`, 'utf8')) as import('node:module').SourceMapPayload,
    );
    const base = `${bundle.slice(0, bundle.lastIndexOf('/'))}/`;
    return stack.replace(
      /^(\s+at )(?:[^()]+ \()?([^()\s]+):(\d+):(\d+)\)?$/gm,
      (line, at: string, file: string, l: string, c: string) => {
        if (file !== bundle) return line;
        const e = map.findEntry(Number(l) - 1, Number(c) - 1) as {
          originalSource?: string;
          originalLine?: number;
          originalColumn?: number;
        };
        if (e.originalSource === undefined || e.originalLine === undefined || e.originalColumn === undefined)
          return line;
        const source = e.originalSource.startsWith('../')
          ? e.originalSource.replace(/^(\.\.\/)+/, '')
          : e.originalSource.replace(base, '');
        // (a map's names are those of identifiers at a position, not of the enclosing function)
        return `${at}${source}:${e.originalLine + 1}:${e.originalColumn + 1}`;
      },
    );
  } catch {
    return stack;
  }
}

/**
 * Forgets every module-level cache of the bundle, for a worker of the resident server that
 * serves another command (src/daemon/reuse.ts): test/unit/worker-reuse.test.ts checks that src/
 * has no other mutable module-level state than what this forgets and what it names constant.
 */
export function forgetCommandState(): void {
  forgetHierarchies();
  disarmFaults();
  forgetCallerFds();
  setContainerInitSpawner(undefined);
}

/** Runs the command line and ends the process with its status (bin/tsrunc's entry). */
export function cli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      writeStderr(`tsrunc: ${String(err)}\n`);
      process.exit(1);
    },
  );
}

if (typeof module !== 'undefined' && require.main === module) cli(process.argv.slice(2));
