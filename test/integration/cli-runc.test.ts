// Commands as runc 1.1.5 runs them, each case run with tsrunc and with runc (where installed)
// on twin containers and compared: ps's arguments after the id, kill --all on a stopped
// container, --debug entries.
import * as fs from 'node:fs';
import t from 'tap';
import { rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { waitForStatus } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { pollUntil, privateRoot, runCommand, runTsrunc, type RunResult, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason();
const noRunc = RUNC === undefined ? 'runc is not installed' : false;

interface Twins {
  ours: TestContainer;
  /** Runs runc on the twin; `ID` stands for its id. */
  runc(args: string[]): RunResult;
  runcId: string;
  runcPid(): number;
}

/** A test container and, with runc installed, its runc twin: both created and, with `start`, started. */
function twins(t: Teardownable, edit: Parameters<typeof testContainer>[1], start: boolean): Twins {
  const ours = testContainer(t, edit);
  const created = ours.tsrunc(['create', ours.id]);
  if (created.status !== 0) throw new Error(`tsrunc create: ${created.stderr}`);
  if (start && ours.tsrunc(['start', ours.id]).status !== 0) throw new Error('tsrunc start failed');
  if (RUNC === undefined)
    return {
      ours,
      runc: () => ({ status: null, signal: null, stdout: '', stderr: 'runc is not installed' }),
      runcId: '',
      runcPid: () => 0,
    };
  const twin = runcTwin(t, ours);
  const r = twin.run(['create', 'ID']);
  if (r.status !== 0) throw new Error(`runc create: ${r.stderr}`);
  if (start && twin.run(['start', 'ID']).status !== 0) throw new Error('runc start failed');
  return {
    ours,
    runc: twin.run,
    runcId: twin.id,
    runcPid: () => (JSON.parse(twin.run(['state', 'ID']).stdout) as { pid: number }).pid,
  };
}

/** ps output with the container's pid as "PID" and runs of spaces as one (column widths follow the pids). */
function normalPs(text: string, pid: number): string {
  return text
    .split('\n')
    .map((l) =>
      l
        .trim()
        .split(/\s+/)
        .join(' ')
        .replace(new RegExp(`\\b${pid}\\b`, 'g'), 'PID'),
    )
    .join('\n');
}

t.test('ps: every argument after the id is an argument of ps(1), as runc', { skip }, async (t) => {
  const c = twins(t, () => {}, true);
  const pid = c.ours.pid();
  const cases: { args: string[]; status: number; out?: RegExp; err?: RegExp; why: string }[] = [
    {
      args: ['ps', 'ID', '-e', '-x'],
      status: 0,
      out: /^PID TTY STAT TIME COMMAND\nPID \? S\w* [\d:]+ sleep 1000 PATH=\S+ TERM=xterm HOME=\/root\n$/,
      why: 'ps ID -e -x',
    },
    { args: ['ps', 'ID', '-o', 'pid,comm'], status: 0, out: /^PID COMMAND\nPID sleep\n$/, why: 'ps ID -o pid,comm' },
    {
      args: ['ps', 'ID', 'aux'],
      status: 0,
      out: /^USER PID .*COMMAND\nroot PID .* sleep 1000\n$/,
      why: 'BSD-style ps arguments',
    },
    {
      args: ['ps', 'ID'],
      status: 0,
      out: /^UID PID PPID C STIME TTY TIME CMD\nroot PID \d+ .* sleep 1000\n$/,
      why: 'no arguments: ps -ef',
    },
    {
      args: ['ps', '--', 'ID', '-o', 'pid,comm'],
      status: 0,
      out: /^PID COMMAND\nPID sleep\n$/,
      why: 'a "--" before the id ends the flags',
    },
    {
      args: ['ps', '--format', 'json', 'ID', '-e'],
      status: 0,
      out: /^\[PID\]\n$/,
      why: '--format json before the id (ps arguments then unused)',
    },
    { args: ['ps', '-f', 'json', 'ID'], status: 0, out: /^\[PID\]\n$/, why: '-f json before the id' },
    {
      args: ['ps', 'ID', '-f', 'json'],
      status: 1,
      err: /exit status 1: error: unknown user-defined format specifier/,
      why: '-f json after the id goes to ps',
    },
    {
      args: ['ps', 'ID', '--', '-e'],
      status: 1,
      err: /exit status 1: error: garbage option/,
      why: 'a "--" after the id goes to ps',
    },
    {
      args: ['ps', 'ID', '--bogus'],
      status: 1,
      err: /exit status 1: error: unknown gnu long option/,
      why: 'an unknown flag after the id goes to ps',
    },
    {
      args: ['ps', 'ID', '-o', 'comm'],
      status: 1,
      err: /couldn't find PID field in ps output/,
      why: 'ps output without a PID column',
    },
    {
      args: ['ps', '--bogus', 'ID'],
      status: 1,
      err: /flag provided but not defined: --?bogus/,
      why: 'an unknown flag before the id is ours',
    },
    {
      args: ['ps', 'nosuch', '-e'],
      status: 1,
      err: /container does not exist/,
      why: 'a missing container with ps arguments',
    },
  ];
  for (const k of cases) {
    const ours = c.ours.tsrunc(k.args.map((a) => (a === 'ID' ? c.ours.id : a)));
    t.equal(ours.status, k.status, `tsrunc ${k.why}: exit ${k.status}`, { stderr: ours.stderr });
    if (k.out !== undefined) t.match(normalPs(ours.stdout, pid), k.out, `tsrunc ${k.why}: output`);
    if (k.err !== undefined) t.match(ours.stderr, k.err, `tsrunc ${k.why}: message`);
    if (noRunc !== false) continue;
    const theirs = c.runc(k.args);
    t.equal(theirs.status, k.status, `runc ${k.why}: exit ${k.status}`, { stderr: theirs.stderr });
    if (k.out !== undefined) t.match(normalPs(theirs.stdout, c.runcPid()), k.out, `runc ${k.why}: output`);
    if (k.err !== undefined) t.match(theirs.stderr, k.err, `runc ${k.why}: message`);
  }
});

t.test('ps of a stopped container: a header, and null as json, as runc', { skip }, async (t) => {
  const c = twins(t, (s) => (s.process!.args = ['true']), true);
  t.ok(await waitForStatus(c.ours, 'stopped'), "tsrunc's container stopped");
  const ours = [c.ours.tsrunc(['ps', '--format', 'json', c.ours.id]), c.ours.tsrunc(['ps', c.ours.id])];
  t.same(
    ours.map((r) => r.status),
    [0, 0],
  );
  t.equal(ours[0]?.stdout, 'null\n', 'json: null');
  t.match(ours[1]?.stdout, /^UID +PID +PPID +C +STIME +TTY +TIME +CMD\n$/, 'table: the header alone');
  if (noRunc !== false) return;
  t.ok(
    await pollUntil(() => (JSON.parse(c.runc(['state', 'ID']).stdout) as { status: string }).status === 'stopped'),
    "runc's container stopped",
  );
  const theirs = [c.runc(['ps', '--format', 'json', 'ID']), c.runc(['ps', 'ID'])];
  t.same(
    theirs.map((r) => r.status),
    [0, 0],
  );
  t.equal(theirs[0]?.stdout, ours[0]?.stdout, 'runc: the same json');
  t.equal(theirs[1]?.stdout, ours[1]?.stdout, 'runc: the same table');
});

t.test(
  "kill --all of a stopped container whose cgroup is empty succeeds, as runc (containerd's shim runs it after every pid=POD container)",
  { skip },
  async (t) => {
    const c = twins(t, (s) => (s.process!.args = ['true']), true);
    t.ok(await waitForStatus(c.ours, 'stopped'), "tsrunc's container stopped");
    if (noRunc === false)
      t.ok(
        await pollUntil(() => (JSON.parse(c.runc(['state', 'ID']).stdout) as { status: string }).status === 'stopped'),
        "runc's container stopped",
      );
    const cases: { args: string[]; status: number; err: RegExp }[] = [
      { args: ['kill', '--all', 'ID', 'KILL'], status: 0, err: /^$/ },
      { args: ['kill', '--all', 'ID', '0'], status: 0, err: /^$/ },
      { args: ['kill', '-a', 'ID'], status: 0, err: /^$/ },
      { args: ['kill', 'ID', '0'], status: 1, err: /container not running/ },
      { args: ['kill', 'ID', 'KILL'], status: 1, err: /container not running/ },
    ];
    for (const k of cases) {
      const ours = c.ours.tsrunc(k.args.map((a) => (a === 'ID' ? c.ours.id : a)));
      t.equal(ours.status, k.status, `tsrunc ${k.args.join(' ')}: exit ${k.status}`);
      t.match(ours.stderr, k.err, `tsrunc ${k.args.join(' ')}: stderr`);
      if (noRunc !== false) continue;
      const theirs = c.runc(k.args);
      t.equal(theirs.status, k.status, `runc ${k.args.join(' ')}: exit ${k.status}`);
      t.match(theirs.stderr, k.err, `runc ${k.args.join(' ')}: stderr`);
    }
    t.equal(c.ours.tsrunc(['delete', c.ours.id]).status, 0, 'and it deletes');
  },
);

t.test(
  'kill --all of a stopped container reaches what is left in its cgroup (no pid namespace), as runc',
  { skip },
  async (t) => {
    const c = twins(
      t,
      (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
        s.process!.args = ['sh', '-c', 'sleep 1000 & exit 0'];
      },
      true,
    );
    const left = (r: RunResult): number[] => (JSON.parse(r.stdout) as number[] | null) ?? [];
    const check = async (name: string, run: (args: string[]) => RunResult, state: () => string): Promise<void> => {
      t.ok(await pollUntil(() => state() === 'stopped'), `${name}: the init exited`);
      const before = left(run(['ps', '--format', 'json', 'ID']));
      t.equal(before.length, 1, `${name}: its sleep is still in the cgroup`);
      const r = run(['kill', '--all', 'ID', 'KILL']);
      t.equal(r.status, 0, `${name}: kill --all exits 0`, { stderr: r.stderr });
      t.ok(
        await pollUntil(() => left(run(['ps', '--format', 'json', 'ID'])).length === 0),
        `${name}: the sleep was killed`,
      );
    };
    await check(
      'tsrunc',
      (args) => c.ours.tsrunc(args.map((a) => (a === 'ID' ? c.ours.id : a))),
      () => c.ours.status(),
    );
    if (noRunc === false)
      await check('runc', c.runc, () => (JSON.parse(c.runc(['state', 'ID']).stdout) as { status: string }).status);
  },
);

/** Entries of a log text (stderr or a --log file) in either format: level and msg, or why a line is not one. */
function logEntries(text: string): { level: string; msg: string }[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      if (l.startsWith('{')) {
        const e = JSON.parse(l) as { level?: unknown; msg?: unknown; time?: unknown };
        if (typeof e.level !== 'string' || typeof e.msg !== 'string' || typeof e.time !== 'string')
          throw new Error(`not a log entry: ${l}`);
        return { level: e.level, msg: e.msg };
      }
      const m = /^time="[^"]+" level=(\w+) msg=("(?:[^"\\]|\\.)*"|\S*)(?: .*)?$/.exec(l);
      if (m === null) throw new Error(`not a log entry: ${l}`);
      const msg = m[2] as string;
      return { level: m[1] as string, msg: msg.startsWith('"') ? (JSON.parse(msg) as string) : msg };
    });
}

t.test(
  '--debug writes level=debug entries saying what is done, to stderr or --log, text or json; none without it (runc writes some for create and exec)',
  { skip },
  async (t) => {
    for (const format of ['text', 'json'] as const) {
      for (const toFile of [false, true]) {
        for (const debug of [true, false]) {
          const how = `${format}${toFile ? ', --log' : ', stderr'}${debug ? '' : ', no --debug'}`;
          const c = testContainer(t);
          const log = `${c.bundle}/tsrunc-${format}.log`;
          const globals = ['--log-format', format, ...(toFile ? ['--log', log] : []), ...(debug ? ['--debug'] : [])];
          const entries: Record<string, { level: string; msg: string }[]> = {};
          for (const [name, args] of [
            ['create', ['create', c.id]],
            ['start', ['start', c.id]],
            ['exec', ['exec', c.id, 'true']],
            ['kill', ['kill', c.id, 'KILL']],
          ] as const) {
            const before = toFile && fs.existsSync(log) ? fs.statSync(log).size : 0;
            const r = c.tsrunc([...globals, ...args]);
            t.equal(r.status, 0, `${how}: ${name} exits 0`, { stderr: r.stderr });
            entries[name] = logEntries(toFile ? fs.readFileSync(log).subarray(before).toString('utf8') : r.stderr);
            if (toFile) t.equal(r.stderr, '', `${how}: ${name}: nothing on stderr`);
          }
          t.ok(await waitForStatus(c, 'stopped'), `${how}: stopped`);
          const before = toFile && fs.existsSync(log) ? fs.statSync(log).size : 0;
          const del = c.tsrunc([...globals, 'delete', c.id]);
          t.equal(del.status, 0, `${how}: delete exits 0`);
          entries['delete'] = logEntries(toFile ? fs.readFileSync(log).subarray(before).toString('utf8') : del.stderr);
          if (!debug) {
            t.same(entries, { create: [], start: [], exec: [], kill: [], delete: [] }, `${how}: no entries at all`);
            continue;
          }
          for (const [name, list] of Object.entries(entries)) {
            t.ok(list.length > 0 && list.every((e) => e.level === 'debug'), `${how}: ${name}: debug entries only`, {
              list,
            });
            t.match(
              list[0]?.msg,
              new RegExp(`^tsrunc \\d+\\.\\d+\\.\\d+ \\(commit \\S+\\), pid \\d+: .*${name} .*${c.id}`),
              `${how}: ${name}: the command line first`,
            );
          }
          const msgs = (name: string): string => (entries[name] ?? []).map((e) => e.msg).join('\n');
          t.match(msgs('create'), new RegExp(`create ${c.id}: bundle ${c.bundle}\\n`), `${how}: create: the bundle`);
          t.match(
            msgs('create'),
            new RegExp(
              `create ${c.id}: step 1/(\\d+): wait for the parent to place the process in its cgroups\\n(.*\\n)*create ${c.id}: step \\1/\\1: executing \\["sleep","1000"\\]\\n`,
            ),
            `${how}: create: each step of the plan`,
          );
          t.match(
            msgs('create'),
            new RegExp(`create ${c.id}: created, init pid \\d+ waits for start$`),
            `${how}: create: the init's pid`,
          );
          t.match(
            msgs('start'),
            new RegExp(`start ${c.id}: status created, init pid \\d+: releasing the init.*\\nstart ${c.id}: started`),
            `${how}: start`,
          );
          t.match(
            msgs('exec'),
            new RegExp(`exec ${c.id}: \\["true"\\] as 0:0 in /\\nexec ${c.id}: the process exited, status 0$`),
            `${how}: exec`,
          );
          t.match(
            msgs('kill'),
            new RegExp(
              `kill ${c.id}: status running, init pid \\d+: signal 9 to the init\\nkill ${c.id}: signal 9 sent$`,
            ),
            `${how}: kill`,
          );
          t.match(
            msgs('delete'),
            new RegExp(`delete ${c.id}: status stopped, init pid 0\\ndelete ${c.id}: deleted`),
            `${how}: delete`,
          );
        }
      }
    }
    if (noRunc !== false) return;
    // runc 1.1.5: its --debug entries (nsexec's stages, the init's) for create and exec, none without --debug.
    const c = testContainer(t);
    const twin = runcTwin(t, c);
    for (const format of ['text', 'json']) {
      for (const debug of [true, false]) {
        const log = `${twin.bundle}/runc-${format}-${debug}.log`;
        const g = ['--log-format', format, '--log', log, ...(debug ? ['--debug'] : [])];
        t.equal(twin.run([...g, 'create', 'ID']).status, 0);
        t.equal(twin.run([...g, 'start', 'ID']).status, 0);
        const afterCreate = logEntries(fs.readFileSync(log, 'utf8'));
        t.equal(twin.run([...g, 'exec', 'ID', 'true']).status, 0);
        const afterExec = logEntries(fs.readFileSync(log, 'utf8')).slice(afterCreate.length);
        t.equal(twin.run(['delete', '--force', 'ID']).status, 0);
        if (debug) {
          t.ok(
            afterCreate.length > 0 && afterCreate.every((e) => e.level === 'debug'),
            `runc ${format}: create writes debug entries`,
          );
          t.ok(
            afterExec.length > 0 && afterExec.every((e) => e.level === 'debug'),
            `runc ${format}: exec writes debug entries`,
          );
        } else {
          t.same([afterCreate, afterExec], [[], []], `runc ${format}, no --debug: no entries`);
        }
      }
    }
  },
);

/** An error line's message, without its time: what scripts and shims read of it. */
function errorMsg(stderr: string): string {
  const m = /level=error msg=("(?:[^"\\]|\\.)*"|\S+)/.exec(stderr);
  if (m === null) return `(no error line in ${JSON.stringify(stderr)})`;
  const quoted = m[1] as string;
  return quoted.startsWith('"') ? (JSON.parse(quoted) as string) : quoted;
}

t.test(
  "create and run fail in runc's words: a taken id, an invalid id (and the other commands' invalid id)",
  { skip },
  async (t) => {
    // Scripts that clean up after a crashed shim match "container with given ID already exists",
    // and shims show "OCI runtime create failed: runc create failed: ..." (runc 1.1.5's words).
    const c = twins(t, () => {}, false);
    const cases: { args: string[]; status: number; msg: string }[] = [
      { args: ['create', 'ID'], status: 1, msg: 'runc create failed: container with given ID already exists' },
      { args: ['run', '-d', 'ID'], status: 1, msg: 'runc run failed: container with given ID already exists' },
      { args: ['create', 'a/b'], status: 1, msg: 'runc create failed: invalid container ID format' },
      { args: ['run', '..'], status: 1, msg: 'runc run failed: invalid container ID format' },
      { args: ['state', 'a/b'], status: 1, msg: 'invalid container ID format' },
      { args: ['delete', '..'], status: 1, msg: 'invalid container ID format' },
      { args: ['exec', 'a/b', 'true'], status: 255, msg: 'exec failed: invalid container ID format' },
    ];
    for (const k of cases) {
      const ours = c.ours.tsrunc(k.args.map((a) => (a === 'ID' ? c.ours.id : a)));
      t.equal(ours.status, k.status, `${k.args.join(' ')}: exit ${k.status}`);
      t.equal(errorMsg(ours.stderr), k.msg, `${k.args.join(' ')}: "${k.msg}"`);
      if (noRunc !== false) continue;
      const theirs = c.runc(k.args);
      t.equal(theirs.status, k.status, `runc ${k.args.join(' ')}: exit ${k.status}`);
      t.equal(errorMsg(theirs.stderr), k.msg, `runc ${k.args.join(' ')}: the same words`);
    }
    t.equal(c.ours.status(), 'created', 'the first container is untouched');
  },
);

t.test("log entries' time as runc's: whole seconds, the local zone's offset", { skip }, async (t) => {
  const root = privateRoot(t);
  const env = { ...process.env, TZ: 'Asia/Kolkata' };
  const shape = /^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30" level=error msg="container does not exist"\n$/;
  const ours = runTsrunc(['--root', root, 'state', 'nosuch'], { env });
  t.match(ours.stderr, shape, `tsrunc: ${ours.stderr.trim()}`);
  if (noRunc !== false) return;
  const theirs = runCommand(RUNC as string, ['--root', root, 'state', 'nosuch'], { env });
  t.match(theirs.stderr, shape, `runc: ${theirs.stderr.trim()}`);
});
