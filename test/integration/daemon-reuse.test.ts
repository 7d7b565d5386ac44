// Workers that serve again (issue 17, `tsrunc daemon --max-commands N`): the same commands,
// with other cwds, umasks, environments, stdin, --log files and pid files from one command to
// the next, run through a server whose workers serve one command each and through one whose
// single worker serves them all; the caller sees the same (outputs, exit codes, --log lines,
// files written and their modes, pid files, the container's cgroups and fds). A worker that
// cannot be given back as it was — after `events`, or after a command that opened node's own
// stdio streams — exits instead of serving again (fails closed).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import {
  alive,
  childrenOf as childrenOfPid,
  fdRecordingPs,
  serverSockets,
  startDaemon,
  until,
  type TestDaemon,
} from '../helpers/daemon';
import { ordinaryUser, tsruncForUsers, userDir } from '../helpers/users';
import { makeFront } from '../helpers/front';
import { TSRUNC, tempDir, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason() || (fs.existsSync(TSRUNC) ? false : 'bin/tsrunc is not built');

/** The line of cli()'s call of main() (a frame that only a worker of one command's stacks have). */
const CLI_LINE =
  fs
    .readFileSync(path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts'), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('main(argv).then(')) + 1;

interface Seen {
  status: number | null;
  stdout: string;
  stderr: string;
  files: Record<string, string>;
}

/** Whether `pid`'s main thread waits in accept(2) (x86_64: 288, accept4), as a worker waits for its next caller. */
function waiting(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0] === '288';
  } catch {
    return false;
  }
}

/** How busy `pid`'s main thread has been: it blocks in accept(2) between callers, so this moves only when it serves. */
function switches(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  let n = 0;
  for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** The container's fds as names a second run can match (pipes and sockets without their inode). */
function fdKinds(pid: number, c: TestContainer): string[] {
  return fs
    .readdirSync(`/proc/${pid}/fd`)
    .sort((a, b) => Number(a) - Number(b))
    .map((fd) => {
      let to: string;
      try {
        to = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return `${fd} (gone)`;
      }
      const named = to.split(c.root).join('ROOT').split(c.bundle).join('BUNDLE').split(c.id).join('ID');
      return `${fd} ${named.replace(/^(pipe|socket|anon_inode):\[?\d*\]?.*$/, '$1').replace(/tsrunc-io-[^/]+/, 'IO')}`;
    });
}

/**
 * One run of the sequence through `front` at `socket`: every step's status, output and the files
 * it wrote, with what differs by nature (ids, paths, pids, times) named the same way.
 */
function sequence(
  t: Teardownable,
  front: string,
  socket: string,
  onStep: (name: string) => void,
  afterStep: () => void,
): Record<string, Seen> {
  const c = testContainer(t);
  const c2 = testContainer(t, (spec) => {
    spec.process!.args = ['/bin/sh', '-c', 'exit 3'];
  });
  const c3 = testContainer(t, (spec) => {
    spec.process!.terminal = true;
  });
  const work = tempDir(t, 'tsrunc-reuse');
  const dirs = ['a', 'b', 'c'].map((d) => {
    const p = path.join(work, d);
    fs.mkdirSync(p);
    return p;
  });
  const base = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TSRUNC_DAEMON_SOCKET: socket };
  const pids = new Map<string, number>();
  const name = (s: string): string => {
    let out = s
      .split(c.root)
      .join('ROOT')
      .split(c2.root)
      .join('ROOT2')
      .split(c.bundle)
      .join('BUNDLE')
      .split(c2.bundle)
      .join('BUNDLE2')
      .split(work)
      .join('WORK')
      .split(c.id)
      .join('ID')
      .split(c2.id)
      .join('ID2')
      .split(c3.root)
      .join('ROOT3')
      .split(c3.bundle)
      .join('BUNDLE3')
      .split(c3.id)
      .join('ID3');
    for (const [k, pid] of pids) out = out.replace(new RegExp(`\\b${pid}\\b`, 'g'), k);
    return (
      out
        .replace(/time="[^"]*"/g, 'time="T"')
        .replace(/"time":"[^"]*"/g, '"time":"T"')
        .replace(/"created":\s*"[^"]*"/g, '"created":"T"')
        .replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z/g, 'T')
        .replace(/pid \d+:/g, 'pid P:')
        .split('\n')
        // --debug's stack of an error: below main() the frames are the caller's of main()
        // (bin/tsrunc's cli(), a worker's), which differ by nature
        .filter((l) => !/^\s+at /.test(l) || /^\s+at src\/(?!daemon\/)/.test(l))
        .filter((l) => !l.includes(`src/cli/main.ts:${CLI_LINE}:`))
        .join('\n')
    );
  };
  const seen: Record<string, Seen> = {};
  const step = (
    label: string,
    args: string[],
    opts: { cwd?: string; umask?: string; env?: Record<string, string>; input?: string; files?: string[] } = {},
  ): Seen => {
    onStep(label);
    // The caller's umask is set by sh, which then execs the front: the front's is the caller's.
    const r = spawnSync('sh', ['-c', `umask ${opts.umask ?? '022'}; exec "$0" "$@"`, front, ...args], {
      cwd: opts.cwd ?? dirs[0],
      env: { ...base, ...opts.env },
      input: opts.input ?? '',
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    const files: Record<string, string> = {};
    for (const f of opts.files ?? []) {
      const p = path.resolve(opts.cwd ?? (dirs[0] as string), f);
      files[f] = fs.existsSync(p)
        ? `${(fs.statSync(p).mode & 0o7777).toString(8)} ${name(fs.readFileSync(p, 'utf8'))}`
        : '(none)';
    }
    afterStep();
    const s = { status: r.status, stdout: name(r.stdout ?? ''), stderr: name(r.stderr ?? ''), files };
    seen[label] = s;
    return s;
  };
  const R = ['--root', c.root];
  step('spec, umask 077', ['spec'], { cwd: dirs[0], umask: '077', files: ['config.json'] });
  step('spec, umask 022, another cwd', ['spec'], { cwd: dirs[1], umask: '022', files: ['config.json'] });
  step('spec where config.json exists', ['spec'], { cwd: dirs[1] });
  step('features', ['features']);
  step('state of none, --debug --log', [...R, '--debug', '--log', 'log1', 'state', 'nosuch'], {
    cwd: dirs[2],
    files: ['log1'],
  });
  step(
    'create, a relative pid file and --log json, umask 027',
    [...R, '--log', 'log2', '--log-format', 'json', 'create', '--bundle', c.bundle, '--pid-file', 'pidfile', c.id],
    { cwd: dirs[2], umask: '027', env: { FOO: 'from the caller' } },
  );
  const state = JSON.parse(spawnSync(TSRUNC, [...R, 'state', c.id], { encoding: 'utf8' }).stdout) as { pid: number };
  pids.set('PID', state.pid);
  seen['create, a relative pid file and --log json, umask 027']!.files = {
    pidfile: `${(fs.statSync(path.join(dirs[2] as string, 'pidfile')).mode & 0o7777).toString(8)} ${name(fs.readFileSync(path.join(dirs[2] as string, 'pidfile'), 'utf8'))}`,
    log2: name(fs.readFileSync(path.join(dirs[2] as string, 'log2'), 'utf8')),
    cgroup: name(fs.readFileSync(`/proc/${state.pid}/cgroup`, 'utf8')),
    fds: fdKinds(state.pid, c).join('\n'),
  };
  step('state created', [...R, 'state', c.id]);
  step('create of an id that exists', [...R, 'create', '--bundle', c.bundle, c.id]);
  step('start', [...R, 'start', c.id]);
  step('state running', [...R, 'state', c.id]);
  step('ps json', [...R, 'ps', '--format', 'json', c.id]);
  step('exec, output', [...R, 'exec', c.id, '/bin/echo', 'hello']);
  step('exec, the env it was given', [...R, 'exec', '--env', 'A=1', c.id, '/bin/sh', '-c', 'echo "A=$A FOO=$FOO"'], {
    env: { FOO: 'not the container' },
  });
  step('exec, exit status', [...R, 'exec', c.id, '/bin/sh', '-c', 'exit 7']);
  step('exec, stdin', [...R, 'exec', c.id, '/bin/sh', '-c', 'cat'], { input: 'piped in\n' });
  step('update --resources -', [...R, 'update', '--resources', '-', c.id], { input: '{"pids":{"limit":99}}' });
  step('pause', [...R, 'pause', c.id]);
  step('state paused', [...R, 'state', c.id]);
  step('resume', [...R, 'resume', c.id]);
  step('kill of an unknown signal', [...R, 'kill', c.id, 'SIGNOPE']);
  step('delete of a running container', [...R, 'delete', c.id]);
  step('kill KILL', [...R, 'kill', c.id, 'KILL']);
  spawnSync('sh', ['-c', `while kill -0 ${state.pid} 2>/dev/null; do sleep 0.02; done`]);
  step('state stopped', [...R, 'state', c.id]);
  step('delete', [...R, 'delete', c.id]);
  step('list, none', [...R, 'list']);
  step('run in the foreground, its exit status', ['--root', c2.root, 'run', '--bundle', c2.bundle, c2.id]);
  step('state after run', ['--root', c2.root, 'state', c2.id]);
  step('an unknown flag', [...R, 'state', '--nope', c.id]);
  step('a bundle without config.json', [...R, 'create', '--bundle', '/nonexistent', 'other']);
  // (a failed create: its worker once kept exec.fifo's fd, and exited rather than serve again)
  step('create with a console socket nobody listens on', [
    '--root',
    c3.root,
    'create',
    '--bundle',
    c3.bundle,
    '--console-socket',
    path.join(work, 'nobody.sock'),
    c3.id,
  ]);
  step('state after the failed create', ['--root', c3.root, 'state', c3.id]);
  return seen;
}

/**
 * The steps yargs parses (src/cli/fast-args.ts takes the others): yargs opens process.stdout and
 * process.stderr (streams node keeps for the fds they were made on), so their worker exits after.
 */
const YARGS_STEPS = [
  'spec, umask 077',
  'spec, umask 022, another cwd',
  'spec where config.json exists',
  'update --resources -',
  'an unknown flag',
];

t.test('a worker that serves again: the caller sees what a fresh worker shows', { skip }, async (t) => {
  const front = makeFront(t, { replyTimeoutMs: 120_000 });
  const fresh = await startDaemon(t, 2, 1);
  const direct = sequence(
    t,
    front,
    fresh.socket,
    () => undefined,
    () => undefined,
  );
  const again = await startDaemon(t, 1, 1000);
  const notServed: string[] = [];
  const retired: string[] = [];
  // Until the server has its one worker again, waiting for a caller (the step's own worker back,
  // or, if it exited, another one started).
  const settle = (): number[] => {
    for (;;) {
      const ws = again.workers();
      if (ws.length === 1 && ws.every(waiting)) return ws;
      spawnSync('sleep', ['0.02']);
    }
  };
  let current = '';
  let worker = 0;
  let busy = 0;
  const reused = sequence(
    t,
    front,
    again.socket,
    (label) => {
      current = label;
      [worker] = settle() as [number];
      busy = switches(worker);
    },
    () => {
      // served: its worker was busy (or is gone); gone: it did not serve again
      if (!settle().includes(worker)) retired.push(current);
      else if (switches(worker) === busy) notServed.push(current);
    },
  );
  t.same(notServed, [], 'every command was served');
  t.same(retired, YARGS_STEPS, 'a worker exited only after a command yargs parsed');
  for (const label of Object.keys(direct)) t.same(reused[label], direct[label], label);
  t.equal(direct['spec, umask 077']?.files['config.json']?.split(' ')[0], '600', 'umask 077 gave 600');
  t.equal(direct['spec, umask 022, another cwd']?.files['config.json']?.split(' ')[0], '644', 'umask 022 gave 644');
  t.equal(reused['exec, exit status']?.status, 7);
  t.equal(reused['run in the foreground, its exit status']?.status, 3);
  const stopped = new Promise((r) => again.child.once('exit', r));
  again.child.kill('SIGTERM');
  await stopped;
  const n = Object.keys(reused).length;
  const m = /stopped after serving (\d+) commands \((\d+) by a worker that had served before\)/.exec(again.log());
  t.equal(Number(m?.[1]), n, 'the server served them all');
  t.ok(Number(m?.[2]) >= n - YARGS_STEPS.length - 1, `most by a worker that had served before: ${m?.[2]}`);
  const reasons = [...again.log().matchAll(/serves no more after (\w+): (.*)/g)].map((x) => `${x[1]}: ${x[2]}`);
  t.equal(reasons.length, YARGS_STEPS.length, 'each exit said why');
  for (const r of reasons) t.match(r, /process\.std(out|err) was opened/);
});

/** Waits until `d`'s worker `w` is gone and another waits in its place. */
async function replaced(d: TestDaemon, w: number): Promise<number[]> {
  await until(() => !alive(w));
  return d.waitWorkers(1);
}

t.test('a worker that cannot be given back as it was exits instead (fails closed)', { skip }, async (t) => {
  const front = makeFront(t, { replyTimeoutMs: 120_000 });
  const d = await startDaemon(t, 1, 1000);
  const env = { PATH: process.env['PATH'], TSRUNC_DAEMON_SOCKET: d.socket };
  const c = testContainer(t);
  const R = ['--root', c.root];
  const run = (args: string[], input?: string): number | null =>
    spawnSync(front, args, { env, encoding: 'utf8', input: input ?? '', timeout: 60_000 }).status;
  t.equal(run([...R, 'create', '--bundle', c.bundle, c.id]), 0, 'created');
  t.equal(run([...R, 'start', c.id]), 0, 'started');
  let [w] = d.workers();
  t.equal(run([...R, 'state', c.id]), 0);
  t.same(d.workers(), [w], 'state: served again');

  // events runs until stopped, with timers: never served again.
  t.equal(run([...R, 'events', '--stats', c.id]), 0, 'events --stats');
  [w] = await replaced(d, w as number);
  t.pass('after events the worker exited');

  // A foreground exec with a terminal and no console socket relays the pty through node's
  // process.stdin and process.stdout, streams kept for the fds they were made on.
  t.equal(run([...R, 'exec', '-t', c.id, '/bin/true']), 0, 'exec -t, its pty relayed');
  [w] = await replaced(d, w as number);
  t.match(d.log(), /serves no more after exec: /, 'and says why');

  t.equal(run([...R, 'state', c.id]), 0);
  t.same(d.workers(), [w], 'served again after the replacement');
  t.equal(run([...R, 'kill', c.id, 'KILL']), 0);
  t.equal(run([...R, 'delete', '--force', c.id]), 0);
  t.same(d.workers(), [w]);
});

t.test('--max-commands: a worker serves that many, then another takes its place', { skip }, async (t) => {
  const front = makeFront(t, { replyTimeoutMs: 120_000 });
  const d = await startDaemon(t, 1, 3);
  const env = { PATH: process.env['PATH'], TSRUNC_DAEMON_SOCKET: d.socket };
  const root = tempDir(t, 'tsrunc-reuse-root');
  const [w] = d.workers();
  for (let i = 0; i < 2; i++) t.equal(spawnSync(front, ['--root', root, 'list'], { env }).status, 0);
  t.same(d.workers(), [w], 'two commands: the same worker');
  t.equal(spawnSync(front, ['--root', root, 'list'], { env }).status, 0);
  const [next] = await replaced(d, w as number);
  t.not(next, w, 'after the third, a new one');
  const bad = spawnSync(TSRUNC, ['daemon', '--max-commands', '0'], { encoding: 'utf8' });
  t.equal(bad.status, 3, 'a usage error');
  t.match(bad.stderr, /--max-commands must be 1 to 100000, got 0/);
});

t.test("a worker that serves again writes each caller's local time (TZ set, unset, another)", { skip }, async (t) => {
  // The sequence test masks times; here they are the point: a log entry's time is local, with
  // the offset (runc's RFC3339), so a zone left over from an earlier caller would show.
  const front = makeFront(t, { replyTimeoutMs: 120_000 });
  const d = await startDaemon(t, 1, 1000);
  const root = tempDir(t, 'tsrunc-reuse-root');
  const [w] = d.workers();
  /** The zone's offset as a log line's time ends ("Z", "+05:30"): served, or direct (no socket). */
  const offset = (zone: string | undefined, socket: string): string => {
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], TSRUNC_DAEMON_SOCKET: socket };
    if (zone !== undefined) env['TZ'] = zone;
    const r = spawnSync(front, ['--root', root, 'state', 'nosuch'], { env, encoding: 'utf8' });
    return /time="[0-9T:-]+?(Z|[+-]\d\d:\d\d)"/.exec(r.stderr)?.[1] ?? `(no time in ${JSON.stringify(r.stderr)})`;
  };
  for (const zone of ['Asia/Kolkata', undefined, 'America/St_Johns', undefined]) {
    const direct = offset(zone, '');
    t.equal(offset(zone, d.socket), direct, `TZ=${zone ?? '(unset)'}: ${direct}, as the direct path`);
  }
  t.equal(offset('Asia/Kolkata', ''), '+05:30', 'the zone does show');
  t.same(d.workers(), [w], 'all four by the same worker');
});

t.test('what a worker that served before starts inherits no fd of the server', { skip }, async (t) => {
  const d = await startDaemon(t, 1, 1000);
  const front = makeFront(t, { replyTimeoutMs: 120_000 });
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  // tsrunc ps runs ps(1) from PATH: this one records its open fds.
  const bin = tempDir(t, 'tsrunc-reuse-bin');
  fdRecordingPs(bin);
  const [w] = d.workers();
  const seen: string[][] = [];
  for (let i = 0; i < 3; i++) {
    const out = path.join(bin, `${i}.fds`);
    const env = { PATH: `${bin}:${process.env['PATH']}`, FDS_OUT: out, TSRUNC_DAEMON_SOCKET: d.socket };
    const r = spawnSync(front, ['--root', c.root, 'ps', c.id], { env, encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    seen.push(fs.readFileSync(out, 'utf8').trim().split('\n'));
    await until(() => waiting(w as number));
  }
  t.same(d.workers(), [w], 'one worker served the three');
  const kinds = (lines: string[]): string[] => lines.map((l) => l.replace(/\[\d+\]$/, '').replace(/\d\.fds$/, 'X.fds'));
  t.same(kinds(seen[2]!), kinds(seen[0]!), 'the third got the fds the first did');
  const serverInodes = serverSockets(d);
  t.ok(serverInodes.size > 0, 'the server has sockets to compare with');
  const leaked = seen.flat().filter((l) => serverInodes.has(l.split(' ')[1] as string));
  t.same(leaked, [], "none of them is the server's or its worker's (the listening socket, the IPC channel)");
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
});

t.test(
  "an ordinary user's server: --root defaults as on the direct path ($XDG_RUNTIME_DIR/tsrunc)",
  { skip },
  async (t) => {
    const user = ordinaryUser(t);
    const tsrunc = tsruncForUsers();
    const dir = userDir(t, user, 'tsrunc-user-daemon-');
    const socket = path.join(dir, 'tsrunc.sock');
    const log = path.join(dir, 'log');
    const server = spawn(tsrunc, ['daemon', '--socket', socket, '--spares', '1'], {
      uid: user.uid,
      gid: user.gid,
      env: { PATH: process.env['PATH'] },
      stdio: ['ignore', 'ignore', fs.openSync(log, 'w')],
    });
    const gone = new Promise((r) => server.once('exit', r));
    t.teardown(async () => {
      if (server.exitCode === null && server.signalCode === null) {
        server.kill('SIGTERM');
        await gone;
      }
    });
    await until(() => fs.existsSync(socket) || server.exitCode !== null);
    await until(() => childrenOfPid(server.pid as number).some(waiting) || server.exitCode !== null);
    t.equal(server.exitCode, null, fs.readFileSync(log, 'utf8'));
    fs.mkdirSync(path.join(user.runtimeDir, 'tsrunc'), { recursive: true, mode: 0o700 });
    fs.chownSync(path.join(user.runtimeDir, 'tsrunc'), user.uid, user.gid);
    for (const socketEnv of ['', socket]) {
      const r = user.run(tsrunc, ['list', '--format', 'json'], { env: user.env({ TSRUNC_DAEMON_SOCKET: socketEnv }) });
      // (runc's list of no container in json is `null`)
      t.same([r.status, r.stdout.trim(), r.stderr], [0, 'null', ''], socketEnv === '' ? 'direct' : 'served');
    }
    server.kill('SIGTERM');
    await gone;
    t.match(fs.readFileSync(log, 'utf8'), /stopped after serving 1 commands/, 'the second was served');
  },
);

t.test('a command that runs long does not leave callers without a spare', { skip }, async (t) => {
  const front = makeFront(t, { replyTimeoutMs: 120_000 });
  const d = await startDaemon(t, 1, 1000);
  const env = { PATH: process.env['PATH'], TSRUNC_DAEMON_SOCKET: d.socket };
  const c = testContainer(t);
  // (the init inherits the create's stdio: not a pipe spawnSync would wait on)
  t.equal(
    spawnSync(front, ['--root', c.root, 'create', '--bundle', c.bundle, c.id], { env, stdio: 'ignore' }).status,
    0,
  );
  // update --resources - reads the caller's stdin, held open here: its worker stays busy.
  const update = spawn(front, ['--root', c.root, 'update', '--resources', '-', c.id], {
    env,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const updated = new Promise<number | null>((r) => update.once('exit', (code) => r(code)));
  t.teardown(() => void update.kill('SIGKILL'));
  await until(() => d.workers().length === 2 || undefined);
  // (the one worker is busy; a patient front would wait for it for ever without another)
  const r = spawnSync(front, ['--root', c.root, 'state', c.id], { env, encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, `state served meanwhile: ${r.stderr}`);
  t.equal(update.exitCode, null, 'while the update still waits for its stdin');
  update.stdin!.end('{"pids":{"limit":50}}');
  t.equal(await updated, 0, 'the update then ends');
});
