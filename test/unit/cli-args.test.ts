// The command line as clients see it, through bin/tsrunc: bad arguments give a clear message
// and exit 1, errors reach --log as runc's JSON lines, --help and --version work, and the
// documents tsrunc prints (features, state, list) have the shapes clients parse.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { defaultSpec } from '../../src/spec/default-spec';
import { readProcStat } from '../../src/state/proc';
import { containerRecord, writeRecord } from '../helpers/records';
import {
  REPO_ROOT,
  killChild,
  lastLogEntry,
  privateRoot,
  rootEntries,
  runCommand,
  runTsrunc,
  tempDir,
  waitFor,
  writeBundle,
} from '../helpers/tsrunc';

/** Every runc command and the flags `runc COMMAND --help` lists (runc 1.1), plus tsrunc's own. */
const COMMAND_FLAGS: Record<string, string[]> = {
  checkpoint: [
    '--image-path',
    '--work-path',
    '--parent-path',
    '--leave-running',
    '--tcp-established',
    '--ext-unix-sk',
    '--shell-job',
    '--lazy-pages',
    '--status-fd',
    '--page-server',
    '--file-locks',
    '--pre-dump',
    '--manage-cgroups-mode',
    '--empty-ns',
    '--auto-dedup',
  ],
  create: ['--bundle', '--console-socket', '--pid-file', '--no-pivot', '--no-new-keyring', '--preserve-fds'],
  delete: ['--force'],
  events: ['--interval', '--stats'],
  exec: [
    '--console-socket',
    '--cwd',
    '--env',
    '--tty',
    '--user',
    '--additional-gids',
    '--process',
    '--detach',
    '--pid-file',
    '--process-label',
    '--apparmor',
    '--no-new-privs',
    '--cap',
    '--preserve-fds',
    '--cgroup',
    '--ignore-paused',
  ],
  features: [],
  kill: ['--all'],
  list: ['--format', '--quiet'],
  pause: [],
  ps: ['--format'],
  restore: [
    '--console-socket',
    '--image-path',
    '--work-path',
    '--tcp-established',
    '--ext-unix-sk',
    '--shell-job',
    '--file-locks',
    '--manage-cgroups-mode',
    '--bundle',
    '--detach',
    '--pid-file',
    '--no-subreaper',
    '--no-pivot',
    '--empty-ns',
    '--auto-dedup',
    '--lazy-pages',
    '--lsm-profile',
    '--lsm-mount-context',
  ],
  resume: [],
  run: [
    '--bundle',
    '--console-socket',
    '--detach',
    '--keep',
    '--pid-file',
    '--no-subreaper',
    '--no-pivot',
    '--no-new-keyring',
    '--preserve-fds',
  ],
  spec: ['--bundle', '--rootless'],
  start: [],
  state: [],
  update: [
    '--resources',
    '--blkio-weight',
    '--cpu-period',
    '--cpu-quota',
    '--cpu-share',
    '--cpu-rt-period',
    '--cpu-rt-runtime',
    '--cpuset-cpus',
    '--cpuset-mems',
    '--memory',
    '--memory-reservation',
    '--memory-swap',
    '--pids-limit',
    '--l3-cache-schema',
    '--mem-bw-schema',
  ],
  validate: ['--bundle'],
};
const COMMANDS = Object.keys(COMMAND_FLAGS);
/** Commands whose first positional is a container id. */
const ID_COMMANDS = [
  'checkpoint',
  'create',
  'delete',
  'events',
  'exec',
  'kill',
  'pause',
  'ps',
  'restore',
  'resume',
  'run',
  'start',
  'state',
  'update',
];
const GLOBAL_FLAGS = ['--root', '--log', '--log-format', '--debug', '--systemd-cgroup', '--rootless', '--help'];

const RUNC_TABLE_HEADER = 'ID          PID         STATUS      BUNDLE      CREATED     OWNER\n';

function which(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return path.join(dir, cmd);
    } catch {
      // not here
    }
  }
  return undefined;
}
const RUNC = which('runc');

function loadSchema(name: string): object {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'schema', name), 'utf8')) as object;
}

t.test('unknown flags', async (t) => {
  const root = privateRoot(t);
  const cwd = tempDir(t, 'tsrunc-cwd');
  t.test('global', async (t) => {
    for (const args of [
      ['--bogus', 'list'],
      ['--bogus=1', 'list'],
      ['--root', root, '-x', 'state', 'id1'],
    ]) {
      const r = runTsrunc(args, { cwd });
      t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
      t.match(r.stderr, /flag provided but not defined: -(-bogus|x)/, `${args.join(' ')}: names the flag`);
      t.equal(r.stdout, '');
    }
  });
  t.test('per command, before the id (where runc takes flags)', async (t) => {
    for (const cmd of COMMANDS) {
      const args = ['--root', root, cmd, '--bogus', ...(ID_COMMANDS.includes(cmd) ? ['id1'] : [])];
      const r = runTsrunc(args, { cwd });
      t.equal(r.status, 1, `${cmd}: exit 1`);
      t.match(r.stderr, 'flag provided but not defined: --bogus', `${cmd}: says which flag`);
    }
  });
  t.test('per command, after the id', async (t) => {
    for (const cmd of ['state', 'kill', 'delete', 'start', 'list']) {
      const args = ['--root', root, cmd, ...(ID_COMMANDS.includes(cmd) ? ['id1'] : []), '--bogus'];
      const r = runTsrunc(args, { cwd });
      t.equal(r.status, 1, `${cmd}: exit 1`);
      t.match(r.stderr, 'flag provided but not defined: --bogus', `${cmd}: says which flag`);
    }
  });
  t.test('a short flag', async (t) => {
    const r = runTsrunc(['--root', root, 'delete', '-Z', 'id1'], { cwd });
    t.equal(r.status, 1);
    t.match(r.stderr, 'flag provided but not defined: -Z');
  });
  t.test('the unknown flag reaches a json --log', async (t) => {
    const log = path.join(cwd, 'log.json');
    const r = runTsrunc(['--root', root, '--log', log, '--log-format', 'json', 'kill', '--bogus', 'id1', 'KILL'], {
      cwd,
    });
    t.equal(r.status, 1);
    t.match(lastLogEntry(log), { level: 'error', msg: /flag provided but not defined: --bogus/ });
  });
  t.same(rootEntries(root), [], 'nothing was created under --root');
  t.same(
    fs.readdirSync(cwd).filter((n) => n !== 'log.json'),
    [],
    'nothing was written in the current directory',
  );
});

t.test('a missing container id', async (t) => {
  const root = privateRoot(t);
  const cwd = tempDir(t, 'tsrunc-cwd');
  for (const cmd of ID_COMMANDS) {
    const r = runTsrunc(['--root', root, cmd], { cwd });
    t.equal(r.status, 1, `${cmd}: exit 1`);
    t.match(r.stderr, /requires a container id/, `${cmd}: clear message`);
    t.match(r.stderr, `see tsrunc ${cmd} --help`, `${cmd}: points at the command's help`);
    t.equal(r.stdout, '');
  }
  t.same(rootEntries(root), []);
});

t.test('a bad signal name', async (t) => {
  const root = privateRoot(t);
  const bundle = tempDir(t, 'tsrunc-bundle');
  writeRecord(root, containerRecord('exists', bundle, 0, 0, true));
  for (const id of ['exists', 'nosuch']) {
    for (const sig of ['BOGUS', 'SIGBOGUS', '65', 'RTMAX+1']) {
      const r = runTsrunc(['--root', root, 'kill', id, sig]);
      t.equal(r.status, 1, `kill ${id} ${sig}: exit 1`);
      // (the text log format escapes the quotes around the name)
      t.match(
        r.stderr,
        new RegExp(`unknown signal \\\\?"${sig.replace('+', '\\+')}\\\\?"`),
        `kill ${id} ${sig}: says the signal is unknown`,
      );
    }
  }
  t.same(rootEntries(root), ['exists'], 'the container record is untouched');
});

t.test('a bad container id', async (t) => {
  const root = privateRoot(t);
  const bundle = writeBundle(tempDir(t, 'tsrunc-bundle'), defaultSpec());
  const calls: string[][] = [
    ['state', '../x'],
    ['kill', '../x', 'KILL'],
    ['delete', '../x'],
    ['delete', '--force', '../x'],
    ['start', '../x'],
    ['create', '--bundle', bundle, '../x'],
    ['run', '--bundle', bundle, '../x'],
    ['state', '..'],
    ['state', 'a/b'],
    ['state', 'white space'],
  ];
  for (const args of calls) {
    const r = runTsrunc(['--root', root, ...args]);
    t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
    t.match(r.stderr, /invalid container ID format/, `${args.join(' ')}: says the id is invalid`);
  }
  t.same(rootEntries(root), [], 'nothing under --root');
  t.same(rootEntries(path.dirname(root)), ['root'], 'nothing next to --root (no ../x)');
  const empty = runTsrunc(['--root', root, 'state', '']);
  t.equal(empty.status, 1);
  t.match(empty.stderr, /container id cannot be empty/);
});

t.test('state of a container that does not exist', async (t) => {
  const root = privateRoot(t);
  const dir = tempDir(t, 'tsrunc-log');

  const plain = runTsrunc(['--root', root, 'state', 'nosuch']);
  t.equal(plain.status, 1);
  t.match(plain.stderr, 'container does not exist');
  t.equal(plain.stdout, '');

  const log = path.join(dir, 'log.json');
  fs.writeFileSync(log, '{"level":"info","msg":"an earlier line","time":"2024-01-01T00:00:00Z"}\n');
  const before = Date.now();
  const json = runTsrunc(['--root', root, '--log', log, '--log-format', 'json', 'state', 'nosuch']);
  const after = Date.now();
  t.equal(json.status, 1);
  t.match(json.stderr, 'container does not exist', 'also on stderr');
  const lines = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  t.equal(lines.length, 2, 'the log is appended to, one line per entry');
  const entry = lastLogEntry(log);
  t.equal(entry?.['level'], 'error');
  t.equal(entry?.['msg'], 'container does not exist');
  const time = String(entry?.['time']);
  t.match(time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'time is RFC 3339');
  // Within the command's run, whatever it took (a time in whole seconds may be truncated).
  t.ok(
    Date.parse(time) >= Math.floor(before / 1000) * 1000 && Date.parse(time) <= after,
    `time is when the command ran (${time})`,
  );

  const textLog = path.join(dir, 'log.txt');
  const text = runTsrunc(['--root', root, '--log', textLog, 'state', 'nosuch']);
  t.equal(text.status, 1);
  t.match(fs.readFileSync(textLog, 'utf8'), /level=error msg="container does not exist"/);
  t.same(rootEntries(root), []);
});

t.test('--help on every command', async (t) => {
  const top = runTsrunc(['--help']);
  t.equal(top.status, 0, 'tsrunc --help exits 0');
  for (const cmd of COMMANDS) t.match(top.stdout, new RegExp(`tsrunc ${cmd}\\b`), `lists ${cmd}`);
  for (const f of GLOBAL_FLAGS) t.match(top.stdout, f, `mentions ${f}`);
  t.equal(runTsrunc(['-h']).status, 0, '-h exits 0');

  for (const cmd of COMMANDS) {
    t.test(cmd, async (t) => {
      const r = runTsrunc([cmd, '--help']);
      t.equal(r.status, 0, 'exits 0', { stderr: r.stderr });
      t.match(r.stdout, `tsrunc ${cmd}`);
      for (const f of COMMAND_FLAGS[cmd] ?? []) t.match(r.stdout, new RegExp(`${f}\\b`), `mentions ${f}`);
      const short = runTsrunc([cmd, '-h']);
      t.equal(short.status, 0, '-h exits 0');
    });
  }
});

t.test(
  'an unknown command fails, with -h too (exit 3, as runc); help before it or `help COMMAND` prints help',
  async (t) => {
    const cwd = tempDir(t, 'tsrunc-cwd');
    const cases: [string[], number, string][] = [
      [['bogus'], 3, 'an unknown command'],
      [['bogus', '-h'], 3, 'an unknown command with -h'],
      [['bogus', '--help', 'x'], 3, 'an unknown command with --help and an argument'],
      [['help', 'bogus'], 3, 'help of an unknown command'],
      [['-h', 'bogus'], 0, '-h before an unknown command'],
      [['--help', 'bogus'], 0, '--help before an unknown command'],
      [['help'], 0, 'help'],
      [['help', 'kill'], 0, 'help of a command'],
    ];
    for (const [args, status, why] of cases) {
      const ours = runTsrunc(args, { cwd });
      t.equal(ours.status, status, `tsrunc ${why}: exit ${status}`, { stderr: ours.stderr });
      if (status === 0)
        t.match(
          ours.stdout,
          args.includes('kill') ? /tsrunc kill <container-id>/ : /Commands:/,
          `tsrunc ${why}: the help`,
        );
      else
        t.match(ours.stderr, /unknown command \\?"bogus\\?" \(see tsrunc --help\)/, `tsrunc ${why}: names the command`);
      if (status !== 0) t.equal(ours.stdout, '', `tsrunc ${why}: no help on stdout`);
      if (RUNC === undefined) continue;
      const theirs = runCommand(RUNC, args, { cwd });
      t.equal(theirs.status, status, `runc ${why}: exit ${status}`);
    }
    t.same(fs.readdirSync(cwd), [], 'nothing written');
  },
);

t.test('--log is created at start, even when nothing fails (not for --version or --help), as runc', async (t) => {
  const dir = tempDir(t, 'tsrunc-log');
  const root = privateRoot(t);
  const runtimes: [string, (args: string[]) => ReturnType<typeof runTsrunc>][] = [
    ['tsrunc', (a) => runTsrunc(a, { cwd: dir })],
  ];
  if (RUNC !== undefined) runtimes.push(['runc', (a) => runCommand(RUNC as string, a, { cwd: dir })]);
  for (const [name, run] of runtimes) {
    const log = (what: string): string => path.join(dir, `${name}-${what}.log`);
    const list = run(['--root', root, '--log', log('list'), 'list']);
    t.equal(list.status, 0, `${name} list exits 0`, { stderr: list.stderr });
    t.equal(
      fs.existsSync(log('list')) && fs.readFileSync(log('list'), 'utf8'),
      '',
      `${name}: list made an empty log file`,
    );
    t.equal(fs.statSync(log('list')).mode & 0o777, 0o644, `${name}: mode 0644`);
    const json = run(['--root', root, '--log', log('json'), '--log-format', 'json', 'list', '--format', 'json']);
    t.equal(json.status, 0);
    t.ok(fs.existsSync(log('json')), `${name}: with --log-format json too`);
    for (const flag of ['--version', '--help']) {
      t.equal(run(['--log', log(flag.slice(2)), flag]).status, 0);
      t.notOk(fs.existsSync(log(flag.slice(2))), `${name} ${flag}: no log file`);
    }
    const missing = run(['--root', root, '--log', path.join(dir, 'nosuchdir', 'x.log'), 'list']);
    t.equal(missing.status, 1, `${name}: a --log that cannot be opened fails the command`);
    t.match(missing.stderr, /open [^ ]*nosuchdir\/x\.log: .*no such file or directory/i, `${name}: and says why`);
    t.equal(missing.stdout, '', `${name}: before it does anything`);
  }
  // yargs also takes global flags after the command (runc refuses them): the log follows them.
  const late = path.join(dir, 'late.log');
  t.equal(runTsrunc(['--root', root, 'state', 'nosuch', '--log', late, '--log-format', 'json']).status, 1);
  t.match(
    lastLogEntry(late),
    { level: 'error', msg: 'container does not exist' },
    'a --log after the command is the log',
  );
});

t.test('every flag runc has, tsrunc has', { skip: RUNC === undefined ? 'runc is not on PATH' : false }, async (t) => {
  if (RUNC === undefined) return;
  for (const cmd of COMMANDS.filter((c) => c !== 'validate')) {
    const runcHelp = runCommand(RUNC, [cmd, '--help']).stdout;
    const flags = [...new Set([...runcHelp.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1] as string))].filter(
      (f) => f !== '--help',
    );
    const ours = runTsrunc([cmd, '--help']).stdout;
    const missing = flags.filter((f) => !new RegExp(`${f}\\b`).test(ours));
    t.same(missing, [], `${cmd}: ${flags.length} runc flags, none missing`);
  }
});

t.test('--version', async (t) => {
  for (const flag of ['--version', '-v']) {
    const r = runTsrunc([flag]);
    t.equal(r.status, 0, `${flag} exits 0`);
    t.match(
      r.stdout,
      /^tsrunc version \d+\.\d+\.\d+\ncommit: \S+\nspec: 1\.2\.0\nnode: v\d+\.\d+\.\d+\nlibseccomp: \d+\.\d+\.\d+\n$/,
      'version, commit, spec, node, libseccomp',
    );
  }
  // The commit is the build's `git describe --dirty --long --always`: a commit of this repository.
  const commit = /^commit: (\S+)$/m.exec(runTsrunc(['--version']).stdout)?.[1] ?? '';
  const hash = /(?:^|-g)([0-9a-f]{7,40})(?:-dirty)?$/.exec(commit)?.[1];
  if (runCommand('git', ['-C', REPO_ROOT, 'rev-parse', '--git-dir']).status === 0) {
    t.ok(
      hash !== undefined && runCommand('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${hash}^{commit}`]).status === 0,
      `the commit line names a commit of this repository (${commit})`,
    );
  } else {
    t.equal(commit, 'unknown', 'not built from git: unknown');
  }
  // Unbundled (the sources, as the library's users may run them) nothing defines the commit.
  const fromSources = runCommand(
    process.execPath,
    ['--import=tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), '--version'],
    { cwd: REPO_ROOT },
  );
  t.match(fromSources.stdout, /^commit: unknown$/m, 'from the sources: commit unknown');
  if (RUNC !== undefined) {
    // runc's lines, node in the place of go.
    const keys = (text: string): string[] =>
      text
        .trim()
        .split('\n')
        .map((l) => l.replace(/^(\w+) version .*$/, 'version').replace(/:.*$/, ''));
    t.same(
      keys(runTsrunc(['--version']).stdout),
      keys(runCommand(RUNC, ['--version']).stdout).map((k) => (k === 'go' ? 'node' : k)),
      'the shape of runc --version',
    );
  }
  // Clients exec the runtime by absolute path with a minimal environment.
  const bare = runTsrunc(['--version'], { env: {}, cwd: '/' });
  t.equal(bare.status, 0, 'runs with an empty environment', { stderr: bare.stderr });
  t.match(bare.stdout, 'tsrunc version');
});

t.test('features output validates against schema/features.schema.json', async (t) => {
  const r = runTsrunc(['features']);
  t.equal(r.status, 0, { stderr: r.stderr });
  const doc: unknown = JSON.parse(r.stdout);
  const validate = new Ajv({ allErrors: true, strict: true }).compile(loadSchema('features.schema.json'));
  t.ok(validate(doc), 'valid', { errors: validate.errors });
  t.match(doc, { ociVersionMin: '1.0.0', ociVersionMax: '1.2.0' });
  t.match(doc, { linux: { netDevices: { enabled: true } } }, 'linux.netDevices: supported, as runc 1.4 reports it');
  // Applied where the host has them (refused where not): supported, as runc reports them.
  t.match(
    doc,
    { linux: { apparmor: { enabled: true }, selinux: { enabled: true } } },
    'AppArmor and SELinux: supported',
  );
  if (RUNC !== undefined) {
    const lsm = (d: unknown): unknown => {
      const linux = (d as { linux?: Record<string, unknown> }).linux ?? {};
      return { apparmor: linux['apparmor'], selinux: linux['selinux'] };
    };
    t.same(
      lsm(doc),
      lsm(JSON.parse(runCommand(RUNC, ['features']).stdout)),
      "the same AppArmor and SELinux entries as runc's",
    );
  }
  t.notOk(validate({ ociVersionMax: '1.2.0' }), 'the schema is not vacuous (ociVersionMin is required)');
});

t.test('state output validates against schema/state.schema.json', async (t) => {
  const root = privateRoot(t);
  const bundle = tempDir(t, 'tsrunc-bundle');
  const validate = new Ajv({ allErrors: true, strict: true }).compile(loadSchema('state.schema.json'));

  // (It must outlive the checks below however slow the machine: killed at teardown.)
  const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => killChild(sleeper));
  const pid = sleeper.pid ?? 0;
  await waitFor(() => readProcStat(pid) !== undefined, 'sleep to exist');
  writeRecord(root, containerRecord('alive', bundle, pid, readProcStat(pid)?.startTime ?? 0, true));
  writeRecord(root, containerRecord('gone', bundle, 0, 0, true));

  for (const [id, status, wantPid] of [
    ['alive', 'running', pid],
    ['gone', 'stopped', 0],
  ] as const) {
    const r = runTsrunc(['--root', root, 'state', id]);
    t.equal(r.status, 0, `${id}: exit 0`, { stderr: r.stderr });
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    t.ok(validate(doc), `${id}: valid`, { errors: validate.errors });
    t.same(
      Object.keys(doc).sort(),
      ['annotations', 'bundle', 'created', 'id', 'ociVersion', 'owner', 'pid', 'rootfs', 'status'].sort(),
      `${id}: runc's fields`,
    );
    t.match(doc, {
      ociVersion: '1.2.0',
      id,
      status,
      pid: wantPid,
      bundle,
      rootfs: path.join(bundle, 'rootfs'),
      annotations: { 'org.example.test': id },
    });
    t.equal(doc['owner'], process.getuid?.() === 0 ? 'root' : doc['owner'], `${id}: owner`);
  }
  t.notOk(
    validate({ ociVersion: '1.2.0', id: 'x', status: 'running', bundle: '/b' }),
    'the schema is not vacuous (running needs a pid)',
  );
});

t.test('list', async (t) => {
  const root = privateRoot(t);
  t.test("table header is runc's", async (t) => {
    const r = runTsrunc(['--root', root, 'list']);
    t.equal(r.status, 0);
    t.equal(r.stdout, RUNC_TABLE_HEADER);
    if (RUNC !== undefined) {
      const runcRoot = privateRoot(t);
      t.equal(r.stdout, runCommand(RUNC, ['--root', runcRoot, 'list']).stdout, 'byte for byte what runc prints');
    }
  });
  t.test('json of an empty root is null, like runc', async (t) => {
    for (const args of [
      ['list', '--format', 'json'],
      ['list', '-f', 'json'],
      ['list', '--format=json'],
    ]) {
      const r = runTsrunc(['--root', root, ...args]);
      t.equal(r.status, 0);
      t.equal(r.stdout, 'null\n', args.join(' '));
    }
    const missing = runTsrunc(['--root', path.join(root, 'not-yet'), 'list', '--format', 'json']);
    t.equal(missing.stdout, 'null\n', 'a root that does not exist yet lists as empty');
    if (RUNC !== undefined) {
      t.equal(
        runCommand(RUNC, ['--root', privateRoot(t), 'list', '--format', 'json']).stdout,
        'null\n',
        'runc prints the same',
      );
    }
  });
  t.test('-q of an empty root prints nothing', async (t) => {
    const r = runTsrunc(['--root', root, 'list', '-q']);
    t.equal(r.status, 0);
    t.equal(r.stdout, '');
  });
  t.test('a bad --format', async (t) => {
    const r = runTsrunc(['--root', root, 'list', '--format', 'yaml']);
    t.equal(r.status, 1);
    t.match(r.stderr, /yaml/);
  });
  t.test('rows line up under the header', async (t) => {
    const bundle = tempDir(t, 'tsrunc-bundle');
    writeRecord(root, containerRecord('a-rather-long-container-id', bundle, 0, 0, true));
    writeRecord(root, containerRecord('b', bundle, 0, 0, true));
    const r = runTsrunc(['--root', root, 'list']);
    t.equal(r.status, 0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    t.equal(lines.length, 3);
    const header = lines[0] ?? '';
    const cols = ['PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'].map((c) => header.indexOf(c));
    t.ok(
      cols.every((c, i) => c > (cols[i - 1] ?? 0)),
      'header columns in order',
    );
    for (const line of lines.slice(1)) {
      t.match(line.slice(cols[0]), /^0\s/, 'PID column');
      t.match(line.slice(cols[1]), /^stopped\s/, 'STATUS column');
      t.match(line.slice(cols[2]), new RegExp(`^${bundle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s`), 'BUNDLE column');
    }
    const q = runTsrunc(['--root', root, 'list', '-q']);
    t.equal(q.stdout, 'a-rather-long-container-id\nb\n');
  });
});
