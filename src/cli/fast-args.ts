// A small parser for the commands that shims run on every container start (create, start,
// state, kill, delete, exec, ps, features, and run, list, pause, resume). It takes only
// argument lists written in the plain forms it knows and gives the same arguments yargs
// would; for anything else (--help, unknown or repeated flags, a missing id, grouped short
// flags, a global flag after the command ...) it returns undefined and main.ts loads yargs,
// which then accepts or rejects the input with its own messages. Loading yargs costs a
// process ~25 ms; test/unit/fast-args.test.ts checks both paths agree.
import { defaultRoot } from '../util/rootless';

type FlagKind = 'string' | 'boolean' | 'number' | 'strings' | 'numbers';
type FlagValue = string | boolean | number | string[] | number[];

export interface FlagSpec {
  kind: FlagKind;
  alias?: string;
  default?: FlagValue;
  choices?: readonly string[];
}

export interface PositionalSpec {
  name: string;
  /** Absent from the command line: this value (a positional without one is required). */
  default?: string | string[];
  /** Takes every remaining positional (`[command..]`). */
  rest?: boolean;
}

export interface FastCommand {
  positionals: PositionalSpec[];
  flags: Record<string, FlagSpec>;
}

/** The global flags as the yargs parser declares them (yargs-cli.ts). */
export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  // (read on each parse, from the environment then: a resident worker's is not its caller's)
  root: {
    kind: 'string',
    get default(): string {
      return defaultRoot();
    },
  },
  log: { kind: 'string' },
  'log-format': { kind: 'string', default: 'text', choices: ['text', 'json'] },
  debug: { kind: 'boolean', default: false },
  'systemd-cgroup': { kind: 'boolean', default: false },
  criu: { kind: 'string', default: 'criu' },
};

/** Flags preScan (main.ts) takes before the command; --rootless is taken out of argv there. */
export const GLOBAL_VALUE_FLAGS = ['--root', '--log', '--log-format', '--rootless', '--criu'];
export const GLOBAL_SWITCHES = ['--debug', '--systemd-cgroup', '--help', '-h', '--version', '-v'];

const ID: PositionalSpec = { name: 'container-id' };

const CREATE_FLAGS: Record<string, FlagSpec> = {
  bundle: { kind: 'string', alias: 'b', default: '' },
  'console-socket': { kind: 'string' },
  'pid-file': { kind: 'string' },
  'no-pivot': { kind: 'boolean', default: false },
  'no-new-keyring': { kind: 'boolean', default: false },
  'preserve-fds': { kind: 'number', default: 0 },
  'dry-run': { kind: 'boolean', default: false },
};

const FORMAT: FlagSpec = { kind: 'string', alias: 'f', default: 'table', choices: ['table', 'json'] };

/** Each command's positionals and flags, as its builder in commands/ declares them. */
export const FAST_COMMANDS: Record<string, FastCommand> = {
  create: { positionals: [ID], flags: CREATE_FLAGS },
  run: {
    positionals: [ID],
    flags: {
      ...CREATE_FLAGS,
      detach: { kind: 'boolean', alias: 'd', default: false },
      keep: { kind: 'boolean', default: false },
      'no-subreaper': { kind: 'boolean', default: false },
    },
  },
  start: { positionals: [ID], flags: {} },
  state: { positionals: [ID], flags: {} },
  pause: { positionals: [ID], flags: {} },
  resume: { positionals: [ID], flags: {} },
  delete: { positionals: [ID], flags: { force: { kind: 'boolean', alias: 'f', default: false } } },
  kill: {
    positionals: [ID, { name: 'signal', default: 'SIGTERM' }],
    flags: { all: { kind: 'boolean', alias: 'a', default: false } },
  },
  list: { positionals: [], flags: { format: FORMAT, quiet: { kind: 'boolean', alias: 'q', default: false } } },
  ps: { positionals: [ID, { name: 'ps-args', default: [], rest: true }], flags: { format: FORMAT } },
  features: { positionals: [], flags: {} },
  exec: {
    positionals: [ID, { name: 'command', default: [], rest: true }],
    flags: {
      'console-socket': { kind: 'string' },
      cwd: { kind: 'string' },
      env: { kind: 'strings', alias: 'e', default: [] },
      tty: { kind: 'boolean', alias: 't', default: false },
      user: { kind: 'string', alias: 'u' },
      'additional-gids': { kind: 'numbers', alias: 'g', default: [] },
      process: { kind: 'string', alias: 'p' },
      detach: { kind: 'boolean', alias: 'd', default: false },
      'pid-file': { kind: 'string' },
      'process-label': { kind: 'string' },
      apparmor: { kind: 'string' },
      'no-new-privs': { kind: 'boolean', default: false },
      cap: { kind: 'strings', alias: 'c', default: [] },
      'preserve-fds': { kind: 'number', default: 0 },
      cgroup: { kind: 'strings', default: [] },
      'ignore-paused': { kind: 'boolean', default: false },
    },
  },
};

export interface FastParse {
  command: string;
  /** What yargs would hand the command's handler (without yargs' alias copies and `$0`). */
  args: Record<string, unknown>;
}

const DECIMAL = /^(0|[1-9][0-9]{0,8})$/;

/**
 * Reads one flag at argv[i] into `into`; returns how many arguments it used, or 0 when the
 * flag is one the fast path leaves to yargs.
 */
function readFlag(
  argv: string[],
  i: number,
  flags: Record<string, FlagSpec>,
  aliases: Map<string, string>,
  into: Map<string, FlagValue>,
): number {
  const arg = argv[i] as string;
  const eq = arg.indexOf('=');
  const written = eq < 0 ? arg : arg.slice(0, eq);
  let name: string | undefined;
  if (written.startsWith('--')) name = written.slice(2);
  else if (written.length === 2) name = aliases.get(written.slice(1));
  if (name === undefined || !Object.hasOwn(flags, name)) return 0;
  const spec = flags[name] as FlagSpec;
  if (spec.kind === 'boolean') {
    // "--flag=false", and yargs' reading of a following "true"/"false" as the value, are left to yargs.
    const next = argv[i + 1];
    if (eq >= 0 || into.has(name) || next === 'true' || next === 'false') return 0;
    into.set(name, true);
    return 1;
  }
  const value = eq >= 0 ? arg.slice(eq + 1) : argv[i + 1];
  if (value === undefined || (eq < 0 && value.startsWith('-'))) return 0;
  if (spec.choices !== undefined && !spec.choices.includes(value)) return 0;
  const used = eq >= 0 ? 1 : 2;
  if (spec.kind === 'strings' || spec.kind === 'numbers') {
    if (spec.kind === 'numbers' && !DECIMAL.test(value)) return 0;
    const list = (into.get(name) as (string | number)[] | undefined) ?? [];
    list.push(spec.kind === 'numbers' ? Number(value) : value);
    into.set(name, list as FlagValue);
    return used;
  }
  if (into.has(name)) return 0;
  if (spec.kind === 'number') {
    if (!DECIMAL.test(value)) return 0;
    into.set(name, Number(value));
  } else {
    into.set(name, value);
  }
  return used;
}

function aliasesOf(flags: Record<string, FlagSpec>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, spec] of Object.entries(flags)) if (spec.alias !== undefined) m.set(spec.alias, name);
  return m;
}

function withDefaults(
  flags: Record<string, FlagSpec>,
  given: Map<string, FlagValue>,
  into: Record<string, unknown>,
): void {
  for (const [name, spec] of Object.entries(flags)) {
    const v = given.get(name) ?? spec.default;
    if (v !== undefined) into[name] = Array.isArray(v) && !given.has(name) ? [...v] : v;
  }
}

/** The parsed arguments of a hot command, or undefined to leave argv to yargs. */
export function parseFast(argv: string[]): FastParse | undefined {
  const globals = new Map<string, FlagValue>();
  const noAliases = new Map<string, string>();
  let i = 0;
  while (i < argv.length && (argv[i] as string).startsWith('-')) {
    const used = readFlag(argv, i, GLOBAL_FLAGS, noAliases, globals);
    if (used === 0) return undefined;
    i += used;
  }
  const command = argv[i++];
  if (command === undefined || !Object.hasOwn(FAST_COMMANDS, command)) return undefined;
  const spec = FAST_COMMANDS[command] as FastCommand;
  const aliases = aliasesOf(spec.flags);
  const given = new Map<string, FlagValue>();
  const positionals: string[] = [];
  const afterDashes: string[] = [];
  while (i < argv.length) {
    const arg = argv[i] as string;
    if (arg === '--') {
      // Only exec and ps get "--" (main.ts puts it behind the id); what follows is the
      // command to run, or ps(1)'s arguments.
      if (command !== 'exec' && command !== 'ps') return undefined;
      afterDashes.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-')) {
      const used = arg === '-' ? 0 : readFlag(argv, i, spec.flags, aliases, given);
      if (used === 0) return undefined;
      i += used;
      continue;
    }
    positionals.push(arg);
    i++;
  }
  const args: Record<string, unknown> = { _: [command, ...afterDashes] };
  withDefaults(GLOBAL_FLAGS, globals, args);
  withDefaults(spec.flags, given, args);
  for (const p of spec.positionals) {
    if (p.rest === true) {
      args[p.name] = positionals.splice(0);
    } else if (positionals.length > 0) {
      args[p.name] = positionals.shift();
    } else if (p.default !== undefined) {
      args[p.name] = p.default;
    } else {
      return undefined;
    }
  }
  if (positionals.length > 0) return undefined;
  return { command, args };
}
