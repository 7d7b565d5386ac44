// Fuzzed command lines: every command with random sequences of its real flags (long, short,
// --flag=value), global flags, values that make sense and values that do not, container ids,
// signals, "--", "-" and junk. No container exists and no bundle is valid, so nothing can be
// created; each command must end cleanly: an exit status and a message, no stack trace
// (unless --debug), no internal error, a --log whose every line is a well-formed entry, a
// usage error that names a flag only if the command line has it, and no state anywhere.
// Runs as any user; as root it is safe too: every path it gives lies in its own temp dir.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import yargs, { type Argv } from 'yargs';
import type { GlobalArgs } from '../../src/cli/context';
import checkpoint from '../../src/cli/commands/checkpoint';
import create from '../../src/cli/commands/create';
import del from '../../src/cli/commands/delete';
import events from '../../src/cli/commands/events';
import exec from '../../src/cli/commands/exec';
import features from '../../src/cli/commands/features';
import kill from '../../src/cli/commands/kill';
import list from '../../src/cli/commands/list';
import pause from '../../src/cli/commands/pause';
import ps from '../../src/cli/commands/ps';
import restore from '../../src/cli/commands/restore';
import resume from '../../src/cli/commands/resume';
import run from '../../src/cli/commands/run';
import spec from '../../src/cli/commands/spec';
import start from '../../src/cli/commands/start';
import state from '../../src/cli/commands/state';
import update from '../../src/cli/commands/update';
import validate from '../../src/cli/commands/validate';
import { tempDir } from '../helpers/tsrunc';
import { fuzz } from './fuzz';
import { runTsruncAsync } from './proc';
import { cleanExit } from './verdict';

// ---- the command line as the CLI declares it ---------------------------------------------------

type Kind = 'boolean' | 'string' | 'number';
interface Flag {
  names: string[];
  kind: Kind;
}
interface Command {
  name: string;
  positionals: string[];
  flags: Flag[];
}

interface YargsOptions {
  key: Record<string, unknown>;
  alias: Record<string, string[]>;
  boolean: string[];
  number: string[];
}

interface CommandModule {
  command: string;
  builder: (y: Argv<GlobalArgs>) => unknown;
}
const MODULES: CommandModule[] = [
  checkpoint,
  create,
  del,
  events,
  exec,
  features,
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
] as unknown as CommandModule[];

/** Each command's flags and positionals, read from its yargs builder. */
function describeCommand(m: CommandModule): Command {
  const [name = '', ...rest] = m.command.split(' ');
  const positionals = rest.map((p) => p.replace(/[<>[\].]/g, ''));
  const opts = (m.builder(yargs([]) as unknown as Argv<GlobalArgs>) as { getOptions(): YargsOptions }).getOptions();
  const aliases = new Set(Object.values(opts.alias).flat());
  const flags: Flag[] = [];
  for (const key of Object.keys(opts.key)) {
    if (aliases.has(key) || positionals.includes(key) || key === 'version') continue;
    const kind: Kind = opts.boolean.includes(key) ? 'boolean' : opts.number.includes(key) ? 'number' : 'string';
    flags.push({ names: [key, ...(opts.alias[key] ?? [])], kind });
  }
  return { name, positionals, flags };
}

const COMMANDS = MODULES.map(describeCommand);
const GLOBAL: Flag[] = [
  { names: ['root'], kind: 'string' },
  { names: ['log'], kind: 'string' },
  { names: ['log-format'], kind: 'string' },
  { names: ['debug'], kind: 'boolean' },
  { names: ['systemd-cgroup'], kind: 'boolean' },
  { names: ['rootless'], kind: 'string' },
  { names: ['criu'], kind: 'string' },
  { names: ['help', 'h'], kind: 'boolean' },
];

// ---- values --------------------------------------------------------------------------------------

// Junk never holds "/" and is never only dots: any path it makes stays inside the case's cwd.
// (No NUL: the kernel cannot pass one in an argument.)
const junk = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom(
        'a',
        'Z',
        '0',
        '9',
        '-',
        '_',
        '.',
        ',',
        '+',
        ':',
        '=',
        ' ',
        '*',
        '$',
        '%',
        '\\',
        '"',
        "'",
        '\t',
        '\n',
        'é',
        '\ud83d\ude00',
        '\u202e',
      ),
    ),
    maxLength: 12,
  })
  .filter((s) => !/^\.*$/.test(s) || s === '');

const NUMBERS = [
  '0',
  '1',
  '-1',
  '3',
  '1024',
  '4294967296',
  '99999999999999999999',
  '1e3',
  '0x10',
  '1.5',
  '-0',
  'NaN',
  'Infinity',
  '',
  ' 5',
  '5k',
  'abc',
];
const SIGNALS = [
  'KILL',
  'SIGKILL',
  'TERM',
  'sigterm',
  '9',
  '15',
  '0',
  '64',
  '65',
  '-1',
  '999',
  'SIGRTMIN',
  'RTMIN+3',
  'SIGRTMAX-1',
  'SIGBOGUS',
  'SIG',
  '',
];
const IDS = ['c1', 'fuzz', 'a.b', 'x+y,z', '-c', '--', '', ' ', 'a b', 'é', 'x'.repeat(300), 'id\u0001', '.', '..'];

/** Paths relative to the case's cwd (the files exist or not, as the name says). */
const PATHS = [
  'bundle-bad',
  'bundle-missing',
  'process.json',
  'resources.json',
  'garbage.json',
  'empty',
  'dir',
  'nonexistent',
  'sock',
  'pid',
  'log.txt',
  '-',
  '',
];

function valueFor(flag: string, kind: Kind): fc.Arbitrary<string> {
  if (kind === 'number') return fc.oneof(fc.constantFrom(...NUMBERS), junk);
  if (kind === 'boolean') return fc.constantFrom('true', 'false', '1', '0', 'yes', '');
  const paths = fc.constantFrom(...PATHS);
  switch (flag) {
    case 'log-format':
      return fc.constantFrom('json', 'text', 'JSON', 'xml', '');
    case 'rootless':
      return fc.constantFrom('true', 'false', 'auto', 'maybe', '');
    case 'criu':
      return fc.constantFrom('/bin/false', 'nonexistent', '');
    case 'format':
      return fc.constantFrom('table', 'json', 'yaml', '');
    case 'user':
      return fc.constantFrom('0', '1000:1000', 'root', '0:', ':0', '-1', '4294967296', 'a:b');
    case 'cap':
      return fc.constantFrom('CAP_KILL', 'kill', 'CAP_BOGUS', 'ALL', '');
    case 'env':
      return fc.constantFrom('A=1', 'A', '=x', 'PATH=', '');
    case 'interval':
      return fc.constantFrom('1s', '0s', '-1s', '5', 'abc', '1h', '');
    case 'memory':
    case 'memory-reservation':
    case 'memory-swap':
    case 'kernel-memory':
    case 'kernel-memory-tcp':
      return fc.constantFrom('64m', '1g', '-1', '0', '1.5GiB', 'big', '');
    case 'manage-cgroups-mode':
      return fc.constantFrom('soft', 'full', 'strict', 'ignore', 'bogus');
    case 'empty-ns':
      return fc.constantFrom('network', 'pid', 'bogus');
    case 'page-server':
      return fc.constantFrom('127.0.0.1:1', 'x', ':');
    default:
      return fc.oneof({ weight: 3, arbitrary: paths }, { weight: 1, arbitrary: junk });
  }
}

/** One flag as typed: --name, -n, --name=value or --name value. */
function flagTokens(f: Flag): fc.Arbitrary<string[]> {
  return fc
    .tuple(fc.constantFrom(...f.names), valueFor(f.names[0] as string, f.kind), fc.nat(3))
    .map(([name, value, style]) => {
      const dash = name.length === 1 ? `-${name}` : `--${name}`;
      if (f.kind === 'boolean') return style === 0 ? [`${dash}=${value}`] : [dash];
      if (style === 0) return [`${dash}=${value}`];
      if (style === 1) return [dash];
      return [dash, value];
    });
}

function commandArgv(cmd: Command): fc.Arbitrary<string[]> {
  const global = fc.oneof(...GLOBAL.map(flagTokens));
  const flag =
    cmd.flags.length > 0
      ? fc.oneof({ weight: 3, arbitrary: fc.oneof(...cmd.flags.map(flagTokens)) }, { weight: 1, arbitrary: global })
      : global;
  const token = fc.oneof(
    { weight: 6, arbitrary: flag },
    { weight: 2, arbitrary: fc.constantFrom(...IDS).map((id) => [id]) },
    { weight: cmd.name === 'kill' ? 3 : 0, arbitrary: fc.constantFrom(...SIGNALS).map((s) => [s]) },
    { weight: 1, arbitrary: junk.map((j) => [j]) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        ['--'],
        ['-'],
        ['--help'],
        ['-h'],
        ['--bogus'],
        ['-z'],
        ['--no-pivot=false'],
        ['---x'],
        ['--=x'],
      ),
    },
  );
  return fc.tuple(fc.array(token, { maxLength: 6 }), fc.constantFrom(...IDS)).map(([tokens, id]) => {
    const flat = tokens.flat();
    // Most command lines have the id the command wants, somewhere.
    if (cmd.positionals.length > 0 && id.length % 4 !== 0)
      flat.splice(id.length % (flat.length + 1), 0, id === '' ? 'c1' : id);
    return [cmd.name, ...flat];
  });
}

interface Case {
  global: string[];
  argv: string[];
  stdin?: string;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  global: fc
    .array(
      fc.oneof(
        flagTokens(GLOBAL[1] as Flag),
        flagTokens(GLOBAL[2] as Flag),
        flagTokens(GLOBAL[3] as Flag),
        flagTokens(GLOBAL[4] as Flag),
        flagTokens(GLOBAL[5] as Flag),
        flagTokens(GLOBAL[6] as Flag),
      ),
      { maxLength: 3 },
    )
    .map((a) => a.flat()),
  argv: fc.oneof(
    { weight: 12, arbitrary: fc.oneof(...COMMANDS.map(commandArgv)) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.oneof(junk, fc.constantFrom('--help', '--version', '-v', 'help', 'lsit', 'create', '--root', '-')),
        { maxLength: 4 },
      ),
    },
  ),
  stdin: fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('{}', '{"args":["true"],"cwd":"/"}', '{"memory":{"limit":-5}}', 'not json', ''),
  ),
});

// ---- running a case ------------------------------------------------------------------------------

const PARALLEL = 3;
const work = tempDir(t, 'tsrunc-fuzz-argv');

const PREPARED = ['bundle-bad', 'dir', 'root', 'process.json', 'resources.json', 'garbage.json', 'empty'];

/** A fresh cwd holding the files the value pool names (bundle-bad has an invalid config). */
function prepare(slot: number): { cwd: string; root: string } {
  const cwd = path.join(work, `slot${slot}`);
  fs.rmSync(cwd, { recursive: true, force: true });
  fs.mkdirSync(path.join(cwd, 'bundle-bad'), { recursive: true });
  fs.mkdirSync(path.join(cwd, 'dir'));
  fs.mkdirSync(path.join(cwd, 'root'), { mode: 0o700 });
  fs.writeFileSync(
    path.join(cwd, 'bundle-bad', 'config.json'),
    JSON.stringify({
      ociVersion: '1.0.2',
      process: { cwd: '/', args: ['true'], user: { uid: 0, gid: 0 } },
      root: { path: 'no-rootfs' },
    }),
  );
  fs.writeFileSync(
    path.join(cwd, 'process.json'),
    JSON.stringify({ args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } }),
  );
  fs.writeFileSync(path.join(cwd, 'resources.json'), JSON.stringify({ pids: { limit: 10 } }));
  fs.writeFileSync(path.join(cwd, 'garbage.json'), '{"args": [tru');
  fs.writeFileSync(path.join(cwd, 'empty'), '');
  return { cwd, root: path.join(cwd, 'root') };
}

/** Every state.json under `dir`: a container record would mean something was created. */
function stateFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...stateFiles(p));
    else if (e.name === 'state.json') out.push(p);
  }
  return out;
}

/** The log's lines are runc's entries: JSON objects, or time="..." level=... msg=... text. */
function badLogLine(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('{')) {
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (typeof e['level'] !== 'string' || typeof e['msg'] !== 'string' || typeof e['time'] !== 'string')
          return line;
      } catch {
        return line;
      }
    } else if (!/^time="[^"]+" level=(debug|info|warning|error) msg=/.test(line)) {
      return line;
    }
  }
  return undefined;
}

const statuses = new Map<string, number>();
const usageSamples = new Set<string>();

async function runCase(c: Case, slot: number): Promise<void> {
  const { cwd, root } = prepare(slot);
  const argv = ['--root', root, ...c.global, ...c.argv];
  const r = await runTsruncAsync(argv, { cwd, input: c.stdin, timeoutMs: 60_000 });
  // Files the case made at the top of its cwd are --log files (spec's config.json aside);
  // a log may also have gone into the prepared empty file.
  const made = fs
    .readdirSync(cwd)
    .filter((f) => !PREPARED.includes(f) && f !== 'config.json' && fs.statSync(path.join(cwd, f)).isFile());
  const logs = [...made, 'empty'].map((f) => path.join(cwd, f));
  const logText = logs.map((f) => fs.readFileSync(f, 'utf8')).join('');
  const shown = `argv: ${JSON.stringify(argv.slice(2))}`;
  const debug = argv.some((a) => /^--debug(=(?!(false|0)?$).*)?$/s.test(a));
  // --debug shows a TsruncError's stack by design; an internal error is never acceptable.
  const unclean = cleanExit(debug ? { ...r, stderr: r.stderr.replace(/^\s+at .*$/gm, '') } : r, logText);
  if (unclean !== undefined) throw new Error(`${shown}\n${unclean}`);
  for (const f of logs) {
    const bad = badLogLine(fs.readFileSync(f, 'utf8'));
    if (bad !== undefined)
      throw new Error(`${shown}\nmalformed log line in ${path.basename(f)}: ${JSON.stringify(bad.slice(0, 300))}`);
  }
  // The (first) name after "not defined: " is on the command line, as typed or as the text
  // log quotes it (JSON string escapes); a list may follow it.
  // (In a JSON or text log line the message ends at an unescaped quote.)
  const undefinedFlag = /flag provided but not defined: ((?:[^"\\\n]|\\.)*)/.exec(`${r.stderr}\n${logText}`);
  if (undefinedFlag !== null) {
    const named = (undefinedFlag[1] as string).split(', ')[0] ?? '';
    const tokens = argv.flatMap((a) => [a, JSON.stringify(a).slice(1, -1)]);
    if (named === '' || !tokens.some((a) => a.includes(named)))
      throw new Error(`${shown}\nthe usage error names something not on the command line: ${r.stderr.slice(0, 400)}`);
  }
  const left = stateFiles(cwd);
  if (left.length > 0) throw new Error(`${shown}\ncontainer state was written: ${left.join(', ')}`);
  const key = `${c.argv[0] ?? '(none)'} exit ${r.status}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  if (r.status !== 0 && usageSamples.size < 12 && /flag provided|requires|must|invalid|unknown/i.test(r.stderr))
    usageSamples.add(r.stderr.trim().split('\n').pop()?.slice(0, 160) ?? '');
}

t.test('command lines', async (t) => {
  t.ok(
    COMMANDS.length >= 18,
    `${COMMANDS.length} commands, ${COMMANDS.reduce((n, c) => n + c.flags.length, 0)} flags read from the CLI`,
  );
  await fuzz(
    t,
    'random argv for every command',
    fc.asyncProperty(fc.array(caseArb, { minLength: PARALLEL, maxLength: PARALLEL }), async (cases) => {
      await Promise.all(cases.map((c, i) => runCase(c, i)));
    }),
    100,
    { shrink: false },
  );
  t.comment(
    `exit statuses: ${[...statuses.entries()]
      .sort()
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ')}`,
  );
  for (const s of usageSamples) t.comment(`sample: ${s}`);
});

// Command lines the fuzzing found mishandled once; each stays as a fixed case.
const regressions: { argv: string[]; message: RegExp; why: string; status?: number; stdout?: RegExp }[] = [
  // yargs' YError for a flag without its value went out as "internal error" (src/cli/yargs-cli.ts).
  {
    argv: ['exec', '--env', '--log-format=', 'x'],
    message: /exec: flag needs an argument: --env/,
    why: 'a repeatable flag with no value left',
  },
  // Extra positionals were reported as undefined flags, and yargs' list of unknown arguments was
  // split at ", " (which arguments may hold) into bogus flag names (src/cli/yargs-cli.ts).
  { argv: ['list', ', ', '%.'], message: /list: unexpected arguments: , , %\.$/m, why: 'arguments holding ", "' },
  { argv: ['fuzz\\', 'a'], message: /unknown command "fuzz\\\\"/, why: 'an unknown command', status: 3 },
  { argv: ['list', 'foo'], message: /list: unexpected argument: foo$/m, why: 'an argument list takes none of' },
  { argv: ['state', 'c1', 'c2'], message: /state: unexpected argument: c2$/m, why: 'a second container id' },
  // A flag given twice became an array: "internal error: The "paths[0]" argument must be of type string" (src/cli/yargs-cli.ts).
  {
    argv: ['start', '--root', 'dir', 'c1'],
    message: /container does not exist/,
    why: '--root given again after the command',
  },
  {
    argv: ['exec', '--cwd', '/', '--cwd', '/tmp', '-e', 'A=1', '--env', 'B=2', 'c1', 'true'],
    message: /exec failed: container does not exist/,
    why: 'a flag twice next to a repeatable one',
    status: 255,
  },
  { argv: ['list', ''], message: /list: unexpected argument: ""/, why: 'an empty argument' },
  { argv: ['validate', ' '], message: /validate: unexpected argument: " "/, why: 'an argument of a space' },
  // --version counted only as the very first argument; after --root it was "a command is required" (src/cli/main.ts).
  {
    argv: ['--version'],
    message: /^$/,
    why: '--version after other global flags',
    status: 0,
    stdout: /^tsrunc version /,
  },
  // A --process or --resources file that cannot be read: "internal error: ENOENT" (src/cli/context.ts readInput).
  {
    argv: ['exec', '--process', 'nonexistent', 'c1'],
    message: /exec failed: open nonexistent: ENOENT/,
    why: 'exec --process of a missing file',
    status: 255,
  },
  {
    argv: ['update', '--resources', 'dir', 'c1'],
    message: /open dir: EISDIR/,
    why: 'update --resources of a directory',
  },
  // A numeric update flag took any text: yargs made "abc" NaN (--pids-limit abc lifted the limit, exit 0) and "" 0 (src/cli/commands/update.ts).
  {
    argv: ['update', '--pids-limit', 'abc', 'c1'],
    message: /update: invalid value "abc" for --pids-limit: an integer is required/,
    why: 'update --pids-limit abc',
  },
  {
    argv: ['update', '--cpu-quota', '', 'c1'],
    message: /update: invalid value "" for --cpu-quota/,
    why: 'update --cpu-quota ""',
  },
  {
    argv: ['update', '--cpu-share', '1.5', 'c1'],
    message: /update: invalid value "1.5" for --cpu-share/,
    why: 'update --cpu-share 1.5',
  },
  // A negative value for a flag the spec holds unsigned went to the kernel (runc refuses it as a parse error).
  {
    argv: ['update', '--cpu-period', '-5', 'c1'],
    message: /update: invalid value "-5" for --cpu-period: a non-negative integer is required/,
    why: 'update --cpu-period -5',
  },
  {
    argv: ['update', '--blkio-weight', '-1', 'c1'],
    message: /update: invalid value "-1" for --blkio-weight: a non-negative integer is required/,
    why: 'update --blkio-weight -1',
  },
  {
    argv: ['update', '--cpu-quota', '-1', 'c1'],
    message: /container does not exist/,
    why: 'update --cpu-quota -1 (no limit) is a valid value',
  },
  // --debug=false turned debugging on: stacks on stderr (src/cli/main.ts).
  { argv: ['--debug=false', 'state', 'c1'], message: /container does not exist/, why: '--debug=false' },
];

t.test('regressions found by fuzzing', async (t) => {
  for (const [i, r] of regressions.entries()) {
    const { cwd, root } = prepare(i % PARALLEL);
    const res = await runTsruncAsync(
      ['--root', root, '--log', path.join(cwd, 'log.json'), '--log-format', 'json', ...r.argv],
      { cwd },
    );
    t.equal(res.status, r.status ?? 1, `${r.why}: exit ${r.status ?? 1}`);
    const log = fs.existsSync(path.join(cwd, 'log.json')) ? fs.readFileSync(path.join(cwd, 'log.json'), 'utf8') : '';
    t.equal(cleanExit(res, log), undefined, `${r.why}: a clean end`);
    t.match(res.stderr, r.message, `${r.why}: stderr ${r.message.source}`);
    if (r.stdout !== undefined) t.match(res.stdout, r.stdout, `${r.why}: stdout ${r.stdout.source}`);
  }
});
