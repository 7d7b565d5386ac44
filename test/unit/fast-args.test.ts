// The hand-written parser for the hot commands (src/cli/fast-args.ts) against yargs: its
// tables are what the commands' builders declare, and every argument list it takes, yargs
// takes too with the same arguments. Whatever it does not take goes to yargs (so errors and
// --help always come from one place).
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { COMMANDS, preScan } from '../../src/cli/main';
import type { AnyCommand } from '../../src/cli/context';
import { FAST_COMMANDS, GLOBAL_FLAGS, parseFast, type FlagSpec } from '../../src/cli/fast-args';
import { declaredOptions, parseWithYargs } from '../../src/cli/yargs-cli';
import { fuzz } from '../fuzz/fuzz';

function commandNamed(name: string): AnyCommand {
  const cmd = COMMANDS.find((c) => c.command.split(' ')[0] === name);
  if (cmd === undefined) throw new Error(`no command ${name}`);
  return cmd;
}

type Parsed = { command: string; args: Record<string, unknown> } | { error: string };

/** What yargs hands the handler, without its alias copies and $0. */
async function viaYargs(argv: string[]): Promise<Parsed> {
  const scan = preScan(argv);
  if (scan.unknownFlag !== undefined) return { error: `flag provided but not defined: ${scan.unknownFlag}` };
  let got: Parsed = { error: 'no command ran' };
  try {
    await parseWithYargs(scan.argv, COMMANDS, scan.command, async (cmd, args) => {
      const copy: Record<string, unknown> = { ...args };
      delete copy['$0'];
      for (const aliases of Object.values(declaredOptions(cmd).alias)) for (const a of aliases) delete copy[a];
      delete copy['h'];
      got = { command: cmd.command.split(' ')[0] as string, args: copy };
    });
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  return got;
}

function viaFast(argv: string[]): Parsed | undefined {
  const scan = preScan(argv);
  if (scan.unknownFlag !== undefined) return undefined;
  return parseFast(scan.argv);
}

function kindOf(name: string, d: ReturnType<typeof declaredOptions>): FlagSpec['kind'] {
  if (d.boolean.includes(name)) return 'boolean';
  const array = d.array.includes(name);
  if (d.number.includes(name)) return array ? 'numbers' : 'number';
  return array ? 'strings' : 'string';
}

t.test('the fast tables are what the builders declare', async (t) => {
  for (const [name, fast] of Object.entries(FAST_COMMANDS)) {
    const cmd = commandNamed(name);
    const d = declaredOptions(cmd);
    const positionals = [...cmd.command.matchAll(/[<[]([\w-]+)(\.\.)?[>\]]/g)].map((m) => ({
      name: m[1] as string,
      rest: m[2] !== undefined,
      required: m[0].startsWith('<'),
    }));
    t.same(
      fast.positionals.map((p) => p.name),
      positionals.map((p) => p.name),
      `${name}: positionals`,
    );
    for (const [i, p] of fast.positionals.entries()) {
      t.equal(p.rest === true, positionals[i]?.rest, `${name} ${p.name}: variadic or not`);
      t.equal(p.default === undefined, positionals[i]?.required, `${name} ${p.name}: required or defaulted`);
      if (p.default !== undefined) t.same(p.default, d.default[p.name], `${name} ${p.name}: default`);
    }
    const aliasNames = new Set(Object.values(d.alias).flat());
    const options = Object.keys(d.key).filter(
      (k) => k !== 'help' && k !== 'version' && !aliasNames.has(k) && !positionals.some((p) => p.name === k),
    );
    t.same(Object.keys(fast.flags).sort(), options.sort(), `${name}: the same flags`);
    for (const o of options) {
      const f = fast.flags[o] as FlagSpec;
      t.equal(f.kind, kindOf(o, d), `${name} --${o}: kind`);
      t.equal(f.alias, d.alias[o]?.[0], `${name} --${o}: alias`);
      t.same(f.default, d.default[o], `${name} --${o}: default`);
      t.same(f.choices, d.choices[o], `${name} --${o}: choices`);
      if (f.kind === 'strings' || f.kind === 'numbers') t.equal(d.narg[o], 1, `${name} --${o}: one value per flag`);
    }
  }
  t.same(Object.keys(GLOBAL_FLAGS).sort(), ['criu', 'debug', 'log', 'log-format', 'root', 'systemd-cgroup']);
});

/** Argument lists the fast path takes (as containerd's shim, conmon and the tests write them). */
const TAKEN: string[][] = [
  [
    '--root',
    '/run/x',
    '--log',
    '/tmp/log.json',
    '--log-format',
    'json',
    'create',
    '--bundle',
    '/b',
    '--pid-file',
    '/b/pid',
    'id1',
  ],
  [
    '--root=/r',
    '--systemd-cgroup',
    'create',
    '-b',
    '/b',
    '--console-socket',
    '/s.sock',
    '--no-pivot',
    '--no-new-keyring',
    '--preserve-fds',
    '2',
    'id1',
  ],
  ['create', 'id1', '--bundle=/b'],
  ['create', '--bundle=', 'id1'],
  ['create', '--dry-run', '--bundle', '/b', '123'],
  ['run', '-d', '--keep', '--no-subreaper', '--bundle', '/b', 'id1'],
  ['--root', '/r', 'start', 'id1'],
  ['state', 'id1'],
  ['state', ''],
  ['state', '../x'],
  ['--debug', 'state', 'x'],
  ['delete', '--force', 'id1'],
  ['delete', '-f', 'id1'],
  ['kill', 'id1'],
  ['kill', 'id1', '9'],
  ['kill', '--all', 'id1', 'KILL'],
  ['kill', '-a', 'id1', 'SIGTERM'],
  ['list'],
  ['list', '--format', 'json'],
  ['list', '-f', 'json'],
  ['list', '--format=table', '-q'],
  ['ps', '--format', 'json', 'id1'],
  ['ps', 'id1', 'aux'],
  // After the id, everything is ps(1)'s (runc: `ps ID -e -x`, `ps ID -f json`, `ps -- ID -e`).
  ['ps', 'id1', '-e', '-x'],
  ['ps', 'id1', '-f', 'json', '--', '-o', 'pid'],
  ['ps', '--', 'id1', '-e'],
  ['ps', '-f', 'json', 'id1', '--bogus'],
  ['--root', 'ps', 'ps', 'id1', '-e'],
  ['features'],
  ['pause', 'id1'],
  ['resume', 'id1'],
  ['exec', '--process', '/p.json', '--detach', '--pid-file', '/pid', '--console-socket', '/s', 'id1'],
  ['exec', '-p', '-', 'id1'],
  ['exec', '--process=-', 'id1'],
  [
    'exec',
    '-t',
    '-e',
    'A=1',
    '--env',
    'B=2',
    '-u',
    '0:0',
    '-g',
    '5',
    '-g',
    '6',
    '--cwd',
    '/tmp',
    '-c',
    'CAP_KILL',
    '--cgroup',
    'memory:sub',
    'id1',
    'sh',
    '-c',
    'echo $A',
  ],
  ['exec', '--no-new-privs', '--ignore-paused', '--preserve-fds', '1', 'id1', 'ls', '--', 'x'],
  ['exec', 'id1', '--', 'ls', '-l'],
  ['exec', 'id1'],
];

/** Argument lists left to yargs: help, errors and spellings the fast path does not read. */
const LEFT: string[][] = [
  [],
  ['--help'],
  ['state', '--help'],
  ['create', '-h', 'id'],
  ['state'],
  ['state', 'a', 'b'],
  ['state', '--bogus', 'id1'],
  ['--root', '/r', '--root', '/s', 'state', 'id1'],
  ['state', '--root', '/r', 'id1'],
  ['create', '--bundle', '/a', '--bundle', '/b', 'id1'],
  ['create', '--preserve-fds', 'abc', 'id1'],
  ['create', '--preserve-fds', '-1', 'id1'],
  ['create', '--pid-file', '-', 'id1'],
  ['create', '--bundle'],
  ['delete', '--force', 'true'],
  ['delete', '--force=false', 'id1'],
  ['run', '-dk', 'id1'],
  ['list', '--format', 'yaml'],
  ['--log-format', 'xml', 'list'],
  ['state', '--', 'id1'],
  ['state', '-', 'id1'],
  ['update', '--memory', '100', 'id1'],
  ['spec'],
  ['bogus'],
  ['exec', '-g', 'x', 'id1', 'ls'],
  ['exec', 'id1', 'ls', '-la', '--', 'x'],
];

t.test('what the fast path takes, yargs takes the same way', async (t) => {
  for (const argv of TAKEN) {
    const fast = viaFast(argv);
    t.ok(fast !== undefined, `fast path takes: ${JSON.stringify(argv)}`);
    t.strictSame(fast, await viaYargs(argv), `same arguments: ${JSON.stringify(argv)}`);
  }
});

t.test('the rest is left to yargs', async (t) => {
  for (const argv of LEFT) t.equal(viaFast(argv), undefined, `left to yargs: ${JSON.stringify(argv)}`);
});

t.test('generated argument lists: fast path and yargs agree', async (t) => {
  const values = [
    'id1',
    'x',
    '',
    '7',
    'true',
    'false',
    '-',
    '--',
    '/b',
    'json',
    'table',
    'yaml',
    'KILL',
    '-1',
    'A=1',
    'abc',
  ];
  const flags = new Set<string>();
  for (const c of Object.values(FAST_COMMANDS)) {
    for (const [name, f] of Object.entries(c.flags)) {
      flags.add(`--${name}`);
      if (f.alias !== undefined) flags.add(`-${f.alias}`);
      if (f.kind !== 'boolean') flags.add(`--${name}=/v`);
    }
  }
  const globals = [
    '--root',
    '/r',
    '--root=/r',
    '--log',
    '/l',
    '--log-format',
    'json',
    '--debug',
    '--systemd-cgroup',
    '--criu',
    '/c',
    '--bogus',
  ];
  const commands = [...Object.keys(FAST_COMMANDS), 'update', 'bogus'];
  let taken = 0;
  let total = 0;
  const anyList = fc
    .tuple(
      fc.array(fc.constantFrom(...globals), { maxLength: 3 }),
      fc.constantFrom(...commands),
      fc.array(fc.constantFrom(...values, ...flags), { maxLength: 6 }),
    )
    .map(([g, c, rest]) => [...g, c, ...rest]);
  // Mostly well-formed lists for one command: its own flags with plausible values, and ids.
  const commandList = fc.constantFrom(...Object.keys(FAST_COMMANDS)).chain((name) => {
    const spec = FAST_COMMANDS[name] as (typeof FAST_COMMANDS)[string];
    const own: string[][] = [];
    for (const [flag, f] of Object.entries(spec.flags)) {
      const forms = [`--${flag}`, ...(f.alias === undefined ? [] : [`-${f.alias}`])];
      const plausible =
        f.choices ??
        (f.kind === 'number' || f.kind === 'numbers' ? ['0', '3', 'x'] : f.kind === 'boolean' ? [] : ['/v', 'A=1', '']);
      for (const form of forms) {
        if (f.kind === 'boolean') own.push([form]);
        for (const v of plausible) own.push([form, v], ...(form.startsWith('--') ? [[`${form}=${v}`]] : []));
      }
    }
    const required = spec.positionals.filter((p) => p.default === undefined).map(() => 'id1');
    const extra =
      spec.positionals.length > required.length
        ? [[], ['KILL'], ['sh', 'x'], ['--', 'sh', '-c', 'x']]
        : [[], ['extra']];
    const noise = fc.constantFrom(['sh'], ['--'], ['-x'], ['true'], ['-']);
    const item =
      own.length === 0
        ? noise
        : fc.oneof({ arbitrary: fc.constantFrom(...own), weight: 6 }, { arbitrary: noise, weight: 1 });
    return fc
      .tuple(
        fc.array(fc.constantFrom(['--root', '/r'], ['--log-format', 'json'], ['--debug']), { maxLength: 2 }),
        fc.array(item, { maxLength: 4 }),
        fc.nat(4),
        fc.constantFrom(...extra),
      )
      .map(([g, items, at, more]) => {
        const rest = items.flat();
        const cut = Math.min(at, items.length);
        const before = items.slice(0, cut).flat();
        return [...g.flat(), name, ...before, ...required, ...rest.slice(before.length), ...more];
      });
  });
  const argvArb = fc.oneof({ arbitrary: anyList, weight: 1 }, { arbitrary: commandList, weight: 3 });
  await fuzz(
    t,
    'fast-args agrees with yargs',
    fc.asyncProperty(argvArb, async (argv) => {
      total++;
      const fast = viaFast(argv);
      if (fast === undefined) return;
      taken++;
      const slow = await viaYargs(argv);
      if (!isDeepStrictEqual(fast, slow))
        throw new Error(`fast ${JSON.stringify(fast)}\nyargs ${JSON.stringify(slow)}`);
    }),
    600,
  );
  t.ok(taken > total / 10, `the fast path took ${taken} of ${total} generated lists`);
});

t.test('ps: what follows the id is left for ps(1) as written, "--" and flags of ours too (as runc)', async (t) => {
  const cases: [string[], string[], string][] = [
    [['ps', 'id1', '-e', '-x'], ['-e', '-x'], 'table'],
    [['ps', 'id1', '-f', 'json', '--', '-o', 'pid'], ['-f', 'json', '--', '-o', 'pid'], 'table'],
    [['ps', '--', 'id1', '-e'], ['-e'], 'table'],
    [['ps', '--format', 'json', 'id1', 'aux'], ['aux'], 'json'],
  ];
  for (const [argv, psArgs, format] of cases) {
    for (const [how, parsed] of [
      ['fast path', viaFast(argv)],
      ['yargs', await viaYargs(argv)],
    ] as const) {
      const args = parsed !== undefined && 'args' in parsed ? parsed.args : {};
      t.same(
        [args['container-id'], args['format'], [...(args['ps-args'] as string[]), ...(args['_'] as string[]).slice(1)]],
        ['id1', format, psArgs],
        `${how}: ${JSON.stringify(argv)}`,
      );
    }
  }
});
