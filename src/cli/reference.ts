// The command line as data, read from the command definitions themselves (each command's
// yargs builder and the global options of yargs-cli.ts), and what is generated from it (issue
// 20): the man pages tsrunc(8) and tsrunc-COMMAND(8), bash and zsh completion. Nothing here is
// written by hand per command: a flag added to a builder appears in all three
// (scripts/gen-docs.ts writes them; test/unit/reference.test.ts checks every flag is there).
import type { Argv } from 'yargs';
import { VERSION } from '../version';
import type { AnyCommand, GlobalArgs } from './context';
import { buildParser } from './yargs-cli';

export interface FlagDoc {
  /** Without dashes: "bundle". */
  name: string;
  aliases: string[];
  type: 'boolean' | 'string' | 'number' | 'array' | 'count';
  describe: string;
  default?: unknown;
  choices?: string[];
  hidden: boolean;
}

export interface PositionalDoc {
  name: string;
  required: boolean;
  variadic: boolean;
  describe: string;
}

export interface CommandDoc {
  name: string;
  describe: string;
  positionals: PositionalDoc[];
  flags: FlagDoc[];
}

export interface Reference {
  version: string;
  globals: FlagDoc[];
  commands: CommandDoc[];
}

type OptionSpec = {
  alias?: string | string[];
  type?: FlagDoc['type'];
  describe?: string;
  default?: unknown;
  choices?: readonly unknown[];
  hidden?: boolean;
  array?: boolean;
  count?: boolean;
};

function flagDoc(name: string, o: OptionSpec): FlagDoc {
  const flag: FlagDoc = {
    name,
    aliases: o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias],
    type: o.array === true ? 'array' : o.count === true ? 'count' : (o.type ?? (o.choices ? 'string' : 'boolean')),
    describe: o.describe ?? '',
    hidden: o.hidden === true,
  };
  if (
    o.default !== undefined &&
    o.default !== '' &&
    o.default !== false &&
    !(Array.isArray(o.default) && o.default.length === 0)
  )
    flag.default = o.default;
  if (o.choices !== undefined) flag.choices = o.choices.map(String);
  return flag;
}

/**
 * Runs a command's builder on a recorder standing in for yargs: every .option() and
 * .positional() it declares, in order. Any other call is taken and ignored.
 */
function record(cmd: AnyCommand): { flags: FlagDoc[]; positionals: Map<string, OptionSpec> } {
  const flags: FlagDoc[] = [];
  const positionals = new Map<string, OptionSpec>();
  const recorder: unknown = new Proxy(
    {},
    {
      get: (_t, prop) => {
        if (prop === 'option' || prop === 'options')
          return (name: string | Record<string, OptionSpec>, o?: OptionSpec) => {
            if (typeof name === 'string') flags.push(flagDoc(name, o ?? {}));
            else for (const [n, spec] of Object.entries(name)) flags.push(flagDoc(n, spec));
            return recorder;
          };
        if (prop === 'positional')
          return (name: string, o: OptionSpec) => {
            positionals.set(name, o);
            return recorder;
          };
        return () => recorder;
      },
    },
  );
  cmd.builder(recorder as Argv<GlobalArgs>);
  return { flags, positionals };
}

/** "exec <container-id> [command..]": the name and the positionals in order. */
function parseCommandLine(
  line: string,
  described: Map<string, OptionSpec>,
): { name: string; positionals: PositionalDoc[] } {
  const [name, ...rest] = line.split(' ');
  const positionals = rest.map((p) => {
    const required = p.startsWith('<');
    const variadic = p.includes('..');
    const n = p.replace(/[<>[\].]/g, '');
    return { name: n, required, variadic, describe: described.get(n)?.describe ?? '' };
  });
  return { name: name as string, positionals };
}

/** The global flags yargs-cli.ts declares, and those the pre-scan in main.ts takes itself. */
function globalFlags(commands: AnyCommand[]): FlagDoc[] {
  const parser = buildParser([], commands, undefined, async () => {}) as unknown as {
    getOptions(): {
      key: Record<string, unknown>;
      alias: Record<string, string[]>;
      boolean: string[];
      number: string[];
      array: string[];
      default: Record<string, unknown>;
      choices: Record<string, unknown[]>;
      hiddenOptions: string[];
    };
    getInternalMethods(): { getUsageInstance(): { getDescriptions(): Record<string, string | undefined> } };
  };
  const o = parser.getOptions();
  const descriptions = parser.getInternalMethods().getUsageInstance().getDescriptions();
  const aliasOf = new Set(Object.values(o.alias).flat());
  const flags: FlagDoc[] = [];
  for (const name of Object.keys(o.key)) {
    if (aliasOf.has(name) || name === 'help' || name === 'version' || name === '$0') continue;
    const spec: OptionSpec = {
      type: o.boolean.includes(name) ? 'boolean' : o.number.includes(name) ? 'number' : 'string',
      describe: descriptions[name] ?? '',
      hidden: o.hiddenOptions.includes(name),
    };
    if (o.alias[name] !== undefined) spec.alias = o.alias[name];
    if (o.choices[name] !== undefined) spec.choices = o.choices[name];
    // --root's default is the caller's (root or $XDG_RUNTIME_DIR): the man page says so in words.
    if (name !== 'root') spec.default = o.default[name];
    flags.push(flagDoc(name, spec));
  }
  flags.push(
    flagDoc('rootless', {
      type: 'string',
      choices: ['true', 'false', 'auto'],
      default: 'auto',
      describe:
        "ignore cgroup permission errors: true, or auto as an ordinary user, runs a container without a cgroup where its user may not make one and it asks for no limits (runc's rules)",
    }),
    flagDoc('help', { alias: 'h', type: 'boolean', describe: 'show help (also: tsrunc help COMMAND)' }),
    flagDoc('version', {
      alias: 'v',
      type: 'boolean',
      describe: 'print the version: tsrunc, the commit it was built from, the runtime-spec, node and libseccomp',
    }),
  );
  return flags;
}

export function reference(commands: AnyCommand[]): Reference {
  const docs = commands.map((cmd) => {
    const { flags, positionals } = record(cmd);
    const { name, positionals: pos } = parseCommandLine(cmd.command, positionals);
    return { name, describe: cmd.describe, positionals: pos, flags };
  });
  docs.sort((a, b) => a.name.localeCompare(b.name));
  return { version: VERSION, globals: globalFlags(commands), commands: docs };
}

/** Every spelling of a flag: --name and each alias (-b, or --long-alias). */
export function spellings(f: FlagDoc): string[] {
  return [`--${f.name}`, ...f.aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
}

const valueName = (f: FlagDoc): string =>
  f.choices ? f.choices.join('|') : f.type === 'number' ? 'N' : f.type === 'boolean' ? '' : 'value';

// ---- man pages (roff, man(7) macros) --------------------------------------------------------

/** Text for roff: backslashes, dashes, and a leading dot or quote. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

function manFlags(flags: FlagDoc[]): string[] {
  const lines: string[] = [];
  for (const f of flags) {
    if (f.hidden) continue;
    const v = valueName(f);
    lines.push(
      '.TP',
      `${spellings(f)
        .map((s) => `\\fB${roff(s)}\\fR`)
        .join(', ')}${v ? ` \\fI${roff(v)}\\fR` : ''}`,
    );
    const dflt =
      f.default === undefined
        ? ''
        : ` (default: ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)})`;
    lines.push(roff(`${f.describe}${dflt}`) || '.');
  }
  return lines;
}

function manHeader(title: string, name: string, describe: string): string[] {
  return [
    `.\\" Generated by scripts/gen-docs.ts from tsrunc's command definitions. Do not edit.`,
    `.TH ${title} 8 "" "tsrunc ${VERSION}" "tsrunc Manual"`,
    '.SH NAME',
    `${roff(name)} \\- ${roff(describe)}`,
  ];
}

export function manCommand(cmd: CommandDoc): string {
  const synopsis = cmd.positionals
    .map((p) => {
      const n = `\\fI${roff(p.name)}\\fR${p.variadic ? '...' : ''}`;
      return p.required ? n : `[${n}]`;
    })
    .join(' ');
  const lines = [
    ...manHeader(`TSRUNC\\-${cmd.name.toUpperCase()}`, `tsrunc-${cmd.name}`, cmd.describe),
    '.SH SYNOPSIS',
    `\\fBtsrunc\\fR [\\fIglobal options\\fR] \\fB${roff(cmd.name)}\\fR${cmd.flags.length > 0 ? ' [\\fIcommand options\\fR]' : ''}${synopsis ? ` ${synopsis}` : ''}`,
    '.SH DESCRIPTION',
    roff(`${cmd.describe[0]?.toUpperCase()}${cmd.describe.slice(1)}.`),
    "As runc's command of the same name: the same flags, exit statuses and output.",
  ];
  const described = cmd.positionals.filter((p) => p.describe !== '');
  if (described.length > 0) {
    lines.push('.SH ARGUMENTS');
    for (const p of described) lines.push('.TP', `\\fI${roff(p.name)}\\fR`, roff(p.describe));
  }
  if (cmd.flags.some((f) => !f.hidden)) lines.push('.SH OPTIONS', ...manFlags(cmd.flags));
  lines.push(
    '.SH GLOBAL OPTIONS',
    'Given before the command; see \\fBtsrunc\\fR(8).',
    '.SH SEE ALSO',
    '\\fBtsrunc\\fR(8), \\fBrunc\\-' + roff(cmd.name) + '\\fR(8)',
    '',
  );
  return lines.join('\n');
}

export function manMain(ref: Reference): string {
  const lines = [
    ...manHeader('TSRUNC', 'tsrunc', 'an OCI container runtime, compatible with runc'),
    '.SH SYNOPSIS',
    '\\fBtsrunc\\fR [\\fIglobal options\\fR] \\fIcommand\\fR [\\fIcommand options\\fR] [\\fIarguments\\fR...]',
    '.SH DESCRIPTION',
    roff(
      'tsrunc creates and runs containers from OCI bundles (a config.json and a root filesystem) as runc does: ' +
        'the same commands, flags, exit statuses, JSON output and log lines, so that containerd, Docker, podman ' +
        "and people at a shell can call it in runc's place. Each command has a page of its own, tsrunc-COMMAND(8).",
    ),
    '.SH COMMANDS',
  ];
  for (const c of ref.commands)
    lines.push('.TP', `\\fB${roff(c.name)}\\fR`, roff(c.describe), `See \\fBtsrunc\\-${roff(c.name)}\\fR(8).`);
  lines.push('.SH GLOBAL OPTIONS', ...manFlags(ref.globals));
  lines.push(
    '.SH FILES',
    '.TP',
    '\\fI/run/tsrunc\\fR',
    roff("the default --root as root; an ordinary user's is $XDG_RUNTIME_DIR/tsrunc"),
    '.SH EXIT STATUS',
    roff(
      "0 on success, 1 for an error, 3 for an unknown command; exec fails with 255; run exits with the container's status (128+N for signal N).",
    ),
    '.SH SEE ALSO',
    ref.commands.map((c) => `\\fBtsrunc\\-${roff(c.name)}\\fR(8)`).join(', ') + ', \\fBrunc\\fR(8)',
    '',
  );
  return lines.join('\n');
}

// ---- completion -----------------------------------------------------------------------------

const shWords = (words: string[]): string => words.join(' ');

function valueFlags(flags: FlagDoc[]): string[] {
  return flags.filter((f) => f.type !== 'boolean' && f.type !== 'count').flatMap(spellings);
}

export function bashCompletion(ref: Reference): string {
  const globals = ref.globals.filter((f) => !f.hidden);
  const globalValue = valueFlags(ref.globals);
  const choiceCases = (flags: FlagDoc[]): string[] =>
    flags
      .filter((f) => f.choices)
      .map(
        (f) =>
          `    ${spellings(f).join('|')}) COMPREPLY=($(compgen -W '${shWords(f.choices as string[])}' -- "$cur")); return ;;`,
      );
  const lines = [
    '# bash completion for tsrunc. Generated by scripts/gen-docs.ts from the command definitions. Do not edit.',
    '_tsrunc_ids() {',
    '  local root=() i',
    '  for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do',
    '    case ${COMP_WORDS[i]} in',
    '    --root) root=(--root "${COMP_WORDS[i + 1]}") ;;',
    '    --root=*) root=("${COMP_WORDS[i]}") ;;',
    '    esac',
    '  done',
    '  "${COMP_WORDS[0]}" "${root[@]}" list -q 2>/dev/null',
    '}',
    '_tsrunc() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmd= i',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    case ${COMP_WORDS[i]} in',
    `    ${globalValue.join('|')}) ((i++)) ;;`,
    '    -*) ;;',
    '    *) cmd=${COMP_WORDS[i]}; break ;;',
    '    esac',
    '  done',
    '  if [ -z "$cmd" ]; then',
    '    case $prev in',
    ...choiceCases(ref.globals),
    `    ${globalValue.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`,
    '    esac',
    '    case $cur in',
    `    -*) COMPREPLY=($(compgen -W '${shWords(globals.flatMap(spellings))}' -- "$cur")) ;;`,
    `    *) COMPREPLY=($(compgen -W '${shWords([...ref.commands.map((c) => c.name), 'help'])}' -- "$cur")) ;;`,
    '    esac',
    '    return',
    '  fi',
    '  local flags= values= takes_id=',
    '  case $cmd in',
  ];
  for (const c of ref.commands) {
    const visible = c.flags.filter((f) => !f.hidden);
    const takesId = c.positionals[0]?.name === 'container-id' ? 1 : '';
    lines.push(
      `  ${c.name})`,
      `    flags='${shWords(visible.flatMap(spellings))}'`,
      `    values='${shWords(valueFlags(visible))}'`,
      `    takes_id=${takesId}`,
    );
    const cases = choiceCases(visible);
    if (cases.length > 0) lines.push('    case $prev in', ...cases.map((l) => `  ${l}`), '    esac');
    lines.push('    ;;');
  }
  lines.push(
    `  help) COMPREPLY=($(compgen -W '${shWords(ref.commands.map((c) => c.name))}' -- "$cur")); return ;;`,
    '  esac',
    '  if [[ " $values " == *" $prev "* ]]; then',
    '    COMPREPLY=($(compgen -f -- "$cur"))',
    '  elif [[ $cur == -* ]]; then',
    '    COMPREPLY=($(compgen -W "$flags" -- "$cur"))',
    '  elif [ -n "$takes_id" ]; then',
    '    COMPREPLY=($(compgen -W "$(_tsrunc_ids)" -- "$cur"))',
    '  fi',
    '}',
    'complete -F _tsrunc tsrunc',
    '',
  );
  return lines.join('\n');
}

/** A zsh _arguments spec for one flag (each spelling, excluding the others). */
function zshSpecs(f: FlagDoc): string[] {
  const desc = f.describe
    .replace(/\\/g, '\\\\')
    .replace(/[[\]]/g, (m) => `\\${m}`)
    .replace(/'/g, "'\\''");
  const all = spellings(f);
  const exclusion = all.length > 1 ? `(${all.join(' ')})` : '';
  const action =
    f.type === 'boolean' || f.type === 'count'
      ? ''
      : f.choices
        ? `:${valueName(f)}:(${f.choices.join(' ')})`
        : f.type === 'number'
          ? ':number: '
          : ':value:_files';
  const repeat = f.type === 'array' ? '*' : '';
  return all.map(
    (s) => `'${repeat || exclusion}${s}${f.type !== 'boolean' && s.startsWith('--') ? '=' : ''}[${desc}]${action}'`,
  );
}

export function zshCompletion(ref: Reference): string {
  const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  const lines = [
    '#compdef tsrunc',
    '# zsh completion for tsrunc. Generated by scripts/gen-docs.ts from the command definitions. Do not edit.',
    '_tsrunc_ids() {',
    '  local -a ids',
    '  ids=(${(f)"$(_call_program ids $words[1] list -q 2>/dev/null)"})',
    "  _describe -t containers 'container' ids",
    '}',
    '_tsrunc() {',
    '  local curcontext=$curcontext state line ret=1',
    '  typeset -A opt_args',
    '  local -a commands',
    '  commands=(',
    ...ref.commands.map((c) => `    ${q(`${c.name}:${c.describe.replace(/:/g, '\\:')}`)}`),
    `    ${q('help:show help for a command')}`,
    '  )',
    '  _arguments -C \\',
    ...ref.globals
      .filter((f) => !f.hidden)
      .flatMap(zshSpecs)
      .map((s) => `    ${s} \\`),
    "    '1: :->command' \\",
    "    '*:: :->args' && ret=0",
    '  case $state in',
    "  command) _describe -t commands 'tsrunc command' commands && ret=0 ;;",
    '  args)',
    '    curcontext=${curcontext%:*:*}:tsrunc-$words[1]:',
    '    case $words[1] in',
  ];
  for (const c of ref.commands) {
    const specs = c.flags.filter((f) => !f.hidden).flatMap(zshSpecs);
    const pos = c.positionals.map((p, i) => {
      const action = p.name === 'container-id' ? '_tsrunc_ids' : p.variadic ? '_files' : ' ';
      return p.variadic ? `'*:${p.name}:${action}'` : `'${i + 1}:${p.name}:${action}'`;
    });
    lines.push(
      `    ${c.name})`,
      '      _arguments \\',
      ...[...specs, ...pos].map((s) => `        ${s} \\`),
      '        && ret=0',
      '      ;;',
    );
  }
  lines.push(
    "    help) _describe -t commands 'tsrunc command' commands && ret=0 ;;",
    '    esac',
    '    ;;',
    '  esac',
    '  return ret',
    '}',
    '_tsrunc "$@"',
    '',
  );
  return lines.join('\n');
}
