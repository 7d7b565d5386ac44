// The full command-line parser (yargs). main.ts loads it only when the fast path
// (fast-args.ts) does not take the arguments: --help, usage errors, rarely used commands
// and unusual spellings. Every usage error message comes from here.
import yargs, { type Argv, type MiddlewareFunction } from 'yargs';
import { UsageError } from '../errors';
import { defaultRoot } from '../util/rootless';
import { toYargs, type AnyCommand, type GlobalArgs } from './context';
import { GLOBAL_SWITCHES, GLOBAL_VALUE_FLAGS } from './fast-args';

/** What the parser hands to the command it picked: the command and its parsed arguments. */
export type RunParsed = (cmd: AnyCommand, args: GlobalArgs & Record<string, unknown>) => Promise<void>;

/** runc's parser settings: no number guessing, no camelCase copies, --no-x is a flag of its own. */
export const PARSER_CONFIGURATION = {
  'parse-numbers': false,
  'parse-positional-numbers': false,
  'camel-case-expansion': false,
  'boolean-negation': false,
} as const;

/** The parser with the global flags and every command registered; `run` gets the result. */
export function buildParser(
  argv: string[],
  commands: AnyCommand[],
  command: string | undefined,
  run: RunParsed,
): Argv<GlobalArgs> {
  let parser = yargs(argv)
    .scriptName('tsrunc')
    .usage(
      'tsrunc [global options] <command> [command options] <container-id> [args]\n\nAn OCI container runtime, compatible with runc.',
    )
    .epilogue(
      "Also: --rootless true|false|auto (before the command, default auto): as runc, true (or auto as an ordinary user) runs a container without a cgroup where its user may not make one and it asks for no limits; an ordinary user's --root defaults to $XDG_RUNTIME_DIR/tsrunc\n      tsrunc help [command]: the same as tsrunc [command] --help",
    )
    .parserConfiguration(PARSER_CONFIGURATION)
    .option('root', {
      type: 'string',
      default: defaultRoot(),
      describe: 'root directory for storage of container state (this should be located in tmpfs)',
      global: true,
    })
    .option('log', {
      type: 'string',
      describe: 'set the log file to write tsrunc logs to (default is stderr); created as the command starts',
      global: true,
    })
    .option('log-format', {
      choices: ['text', 'json'] as const,
      default: 'text' as const,
      describe: 'set the log format',
      global: true,
    })
    .option('debug', {
      type: 'boolean',
      default: false,
      describe: 'enable debug logging: level=debug entries saying what is being done',
      global: true,
    })
    .option('systemd-cgroup', {
      type: 'boolean',
      default: false,
      describe: 'enable systemd cgroup support (cgroupsPath "slice:prefix:name")',
      global: true,
    })
    .option('criu', {
      type: 'string',
      default: 'criu',
      describe: 'path to the criu binary used for checkpoint and restore',
      global: true,
      hidden: true,
    })
    .version(false)
    .help('help')
    .alias('help', 'h')
    .strict()
    .demandCommand(1, 'a command is required (see tsrunc --help)')
    .recommendCommands()
    .wrap(null)
    .fail((msg: string | null, err: Error | undefined) => {
      // yargs' own parse errors ("Not enough arguments following: env") come as a YError.
      if (err !== undefined && err.name !== 'YError') throw err;
      throw new UsageError(rewordUsage(msg ?? err?.message ?? 'invalid arguments', command, argv, commands));
    }) as unknown as Argv<GlobalArgs>;
  for (const cmd of commands) parser = parser.command(toYargs(cmd, run));
  return parser.middleware(lastValueWins as unknown as MiddlewareFunction<GlobalArgs>, true);
}

/**
 * A flag given twice (`--root a ... --root b`) takes its last value, as in runc; yargs would
 * make an array of it, which no handler expects. Repeatable flags (array: true) keep theirs.
 */
function lastValueWins(args: Record<string, unknown>, y: unknown): void {
  const arrays = new Set((y as { getOptions(): { array: string[] } }).getOptions().array);
  for (const [key, value] of Object.entries(args)) {
    if (key !== '_' && key !== '--' && Array.isArray(value) && !arrays.has(key)) args[key] = value[value.length - 1];
  }
}

export async function parseWithYargs(
  argv: string[],
  commands: AnyCommand[],
  command: string | undefined,
  run: RunParsed,
): Promise<void> {
  await buildParser(argv, commands, command, run).parseAsync();
}

/** What a command's builder declares, as yargs reports it. */
export interface DeclaredOptions {
  key: Record<string, unknown>;
  alias: Record<string, string[]>;
  boolean: string[];
  string: string[];
  number: string[];
  array: string[];
  default: Record<string, unknown>;
  choices: Record<string, unknown[]>;
  narg: Record<string, number>;
}

export function declaredOptions(cmd: AnyCommand): DeclaredOptions {
  return (
    cmd.builder(yargs([]) as unknown as Argv<GlobalArgs>) as unknown as { getOptions(): DeclaredOptions }
  ).getOptions();
}

/**
 * The first flag in argv that neither the command nor the global options declare. yargs
 * checks positionals before unknown flags, and an unknown `--flag` swallows the id after it,
 * so `kill --bogus ID` would otherwise read as a missing id.
 */
function undeclaredFlag(argv: string[], command: string, commands: AnyCommand[]): string | undefined {
  const cmd = commands.find((c) => c.command.split(' ')[0] === command);
  if (cmd === undefined) return undefined;
  const declared = declaredOptions(cmd);
  const known = new Set(
    [
      ...Object.keys(declared.key),
      ...Object.values(declared.alias).flat(),
      ...GLOBAL_VALUE_FLAGS,
      ...GLOBAL_SWITCHES,
    ].map((f) => f.replace(/^--?/, '')),
  );
  for (const a of argv.slice(argv.indexOf(command) + 1)) {
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    const name = a.replace(/^--?/, '').replace(/=.*$/, '');
    if (!known.has(name) && !(name.startsWith('no-') && known.has(name.slice(3)))) return a.replace(/=.*$/, '');
  }
  return undefined;
}

function rewordUsage(msg: string, command: string | undefined, argv: string[], commands: AnyCommand[]): string {
  if (/^Not enough non-option arguments/.test(msg) && command !== undefined) {
    const flag = undeclaredFlag(argv, command, commands);
    if (flag !== undefined) return `${command}: flag provided but not defined: ${flag}`;
    return `"${command}" requires a container id (see tsrunc ${command} --help)`;
  }
  const prefix = command === undefined ? '' : `${command}: `;
  // yargs names flags without their dashes: show them as typed.
  const typed = (n: string): string =>
    argv.find((a) => a.replace(/=.*$/, '') === `--${n}` || a.replace(/=.*$/, '') === `-${n}`)?.replace(/=.*$/, '') ?? n;
  const missingValue = /^Not enough arguments following: (.+)$/.exec(msg);
  if (missingValue !== null) return `${prefix}flag needs an argument: ${typed(missingValue[1] as string)}`;
  if (/^Unknown arguments?: /.test(msg)) {
    if (command !== undefined && !commands.some((c) => c.command.split(' ')[0] === command))
      return `unknown command ${JSON.stringify(command)} (see tsrunc --help)`;
    // yargs' list joins names with ", " and quotes some, so it cannot be taken apart: the flag
    // is found in argv, and extra arguments are shown as yargs lists them.
    const flag = command === undefined ? undefined : undeclaredFlag(argv, command, commands);
    if (flag !== undefined) return `${prefix}flag provided but not defined: ${flag}`;
    return `${prefix}unexpected argument${/^Unknown arguments:/.test(msg) ? 's' : ''}: ${msg.replace(/^Unknown arguments?: /, '')}`;
  }
  return msg.replace(/\n\s*/g, ' ');
}
