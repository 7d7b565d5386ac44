// tsrunc's command line: runc's global flags and commands, each command in its own file
// under commands/. Handlers call the library API (src/runtime.ts); this file turns errors
// into runc's log lines and exit codes.
import * as fs from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { ConfigError, TsruncError, UsageError } from '../errors';
import { Logger, type LogFormat } from '../log';
import { native } from '../native/addon';
import { Runtime } from '../runtime';
import { DEFAULT_ROOT } from '../state/store';
import { versionText } from '../version';
import { toYargs, type AnyCommand, type Context, type GlobalArgs } from './context';
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

const COMMANDS = [checkpoint, create, del, events, exec, featuresCmd, kill, list, pause, ps, restore, resume, run, spec, start, state, update, validate] as unknown as AnyCommand[];

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
  unknownFlag?: string;
  /** The global --rootless, taken out of argv: `spec` has a --rootless switch of its own. */
  rootless?: string;
  argv: string[];
}

const GLOBAL_VALUE_FLAGS = ['--root', '--log', '--log-format', '--rootless', '--criu'];
const GLOBAL_SWITCHES = ['--debug', '--systemd-cgroup', '--help', '-h', '--version', '-v'];

/** yargs reads a lone "-" as a positional; `update --resources -` means stdin (as in runc). */
function joinStdinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const prev = out[out.length - 1];
    if (a === '-' && (prev === '--resources' || prev === '-r' || prev === '--process' || prev === '-p')) out[out.length - 1] = `${prev}=-`;
    else out.push(a);
  }
  return out;
}

const EXEC_VALUE_FLAGS = new Set(['--console-socket', '--cwd', '-e', '--env', '-u', '--user', '-g', '--additional-gids', '-p', '--process', '--pid-file', '--process-label', '--apparmor', '-c', '--cap', '--preserve-fds', '--cgroup']);

/**
 * `exec ID CMD ARGS...`: like runc, flags end at the container id, so the command's own
 * flags (`ls -la`) are not read as ours. A "--" after the id tells yargs the same.
 */
function separateExecCommand(argv: string[]): string[] {
  const at = argv.indexOf('exec');
  if (at < 0 || argv.includes('--')) return argv;
  for (let i = at + 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('-')) {
      if (EXEC_VALUE_FLAGS.has(a)) i++;
      continue;
    }
    return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
  }
  return argv;
}

function preScan(argv: string[]): PreScan {
  const result: PreScan = { format: 'text', debug: false, argv: separateExecCommand(joinStdinValues(argv)) };
  argv = result.argv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (!a.startsWith('-')) {
      result.command = a; // global flags end at the command
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
    } else if (flag === '--debug') result.debug = true;
    else if (!GLOBAL_SWITCHES.includes(flag) && result.unknownFlag === undefined) result.unknownFlag = flag;
  }
  return result;
}

/**
 * The first flag in argv that neither the command nor the global options declare. yargs
 * checks positionals before unknown flags, and an unknown `--flag` swallows the id after it,
 * so `kill --bogus ID` would otherwise read as a missing id.
 */
function undeclaredFlag(argv: string[], command: string): string | undefined {
  const cmd = COMMANDS.find((c) => c.command.split(' ')[0] === command);
  if (cmd === undefined) return undefined;
  const declared = (cmd.builder(yargs([]) as unknown as Argv<GlobalArgs>) as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }).getOptions();
  const known = new Set([...Object.keys(declared.key), ...Object.values(declared.alias).flat(), ...GLOBAL_VALUE_FLAGS, ...GLOBAL_SWITCHES].map((f) => f.replace(/^--?/, '')));
  for (const a of argv.slice(argv.indexOf(command) + 1)) {
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    const name = a.replace(/^--?/, '').replace(/=.*$/, '');
    if (!known.has(name) && !(name.startsWith('no-') && known.has(name.slice(3)))) return a.replace(/=.*$/, '');
  }
  return undefined;
}

function rewordUsage(msg: string, command: string | undefined, argv: string[]): string {
  if (/^Not enough non-option arguments/.test(msg) && command !== undefined) {
    const flag = undeclaredFlag(argv, command);
    if (flag !== undefined) return `${command}: flag provided but not defined: ${flag}`;
    return `"${command}" requires a container id (see tsrunc ${command} --help)`;
  }
  if (/^Unknown arguments?: /.test(msg)) {
    // yargs names flags without their dashes: show them as typed.
    const names = msg
      .replace(/^Unknown arguments?: /, '')
      .split(', ')
      .map((n) => argv.find((a) => a.replace(/=.*$/, '') === `--${n}` || a.replace(/=.*$/, '') === `-${n}`)?.replace(/=.*$/, '') ?? n);
    return `${command === undefined ? '' : `${command}: `}flag provided but not defined: ${names.join(', ')}`;
  }
  return msg.replace(/\n\s*/g, ' ');
}

export async function main(argv: string[]): Promise<number> {
  const logOpts = preScan(argv);
  const logger = new Logger(logOpts);
  let exitCode = 0;
  try {
    if (logOpts.unknownFlag !== undefined) throw new UsageError(`flag provided but not defined: ${logOpts.unknownFlag}`);
    if (argv[0] === '--version' || argv[0] === '-v') {
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
    const makeContext = (args: GlobalArgs): Context => ({
      runtime: new Runtime({ root: args.root, logger, systemdCgroup: args['systemd-cgroup'], rootless: checkRootless(logOpts.rootless ?? 'auto') }),
      log: logger,
      exitCode: 0,
    });
    let parser = yargs(logOpts.argv)
      .scriptName('tsrunc')
      .usage('tsrunc [global options] <command> [command options] <container-id> [args]\n\nAn OCI container runtime, compatible with runc.')
      .epilogue("Also: --rootless true|false|auto (before the command): ignore cgroup permission errors (default auto)")
      .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false, 'camel-case-expansion': false, 'boolean-negation': false })
      .option('root', { type: 'string', default: DEFAULT_ROOT, describe: 'root directory for storage of container state', global: true })
      .option('log', { type: 'string', describe: 'set the log file to write tsrunc logs to (default is stderr)', global: true })
      .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'set the log format', global: true })
      .option('debug', { type: 'boolean', default: false, describe: 'enable debug logging', global: true })
      .option('systemd-cgroup', { type: 'boolean', default: false, describe: 'enable systemd cgroup support (cgroupsPath "slice:prefix:name")', global: true })
      .option('criu', { type: 'string', default: 'criu', describe: 'path to the criu binary used for checkpoint and restore', global: true, hidden: true })
      .version(false)
      .help('help')
      .alias('help', 'h')
      .strict()
      .demandCommand(1, 'a command is required (see tsrunc --help)')
      .recommendCommands()
      .wrap(null)
      .fail((msg: string | null, err: Error | undefined) => {
        if (err !== undefined) throw err;
        throw new UsageError(rewordUsage(msg ?? 'invalid arguments', logOpts.command, logOpts.argv));
      }) as unknown as Argv<GlobalArgs>;
    for (const cmd of COMMANDS) {
      parser = parser.command(toYargs(cmd, makeContext, (ctx) => (exitCode = ctx.exitCode)));
    }
    await parser.parseAsync();
    return exitCode;
  } catch (err) {
    return report(err, logger, logOpts.debug);
  } finally {
    logger.close();
  }
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
    if (debug && err.stack) writeStderr(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  logger.error(`internal error: ${e.message}`);
  writeStderr(debug ? `${e.stack}\n` : `tsrunc: internal error: ${e.message} (run with --debug for details)\n`);
  return 1;
}

if (typeof module !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      writeStderr(`tsrunc: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
