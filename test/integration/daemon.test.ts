// The resident server (issue 17): create, run, exec and the commands that start no container
// process are answered by a warm worker of `tsrunc daemon` (a served create's init, a run's init
// and an exec's process started by the front, the caller's process, as runc's is: a subreaper
// caller inherits it; in the foreground the front reaps it and passes signals on to it), and the
// caller cannot tell (outputs, exit codes, --log lines, files written, fds, a relayed pty); anything short of a worker of this build that serves this caller leaves the
// front on the direct path with nothing done (no server, another build, a stuck server, a
// directory others can enter); another uid, a root with fewer capabilities and a container are
// refused; a killed worker and a killed front end as a killed tsrunc; no fd of the server's
// reaches what a worker starts.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, runWithFiles, testContainer } from '../helpers/container';
import {
  alive,
  childrenOf,
  fdRecordingPs,
  serverSockets,
  startDaemon,
  until,
  type TestDaemon,
} from '../helpers/daemon';
import { makeFront } from '../helpers/front';
import { TSRUNC, runCommand, tempDir, type RunResult, type Teardownable } from '../helpers/tsrunc';
import { ordinaryUser } from '../helpers/users';

/** sh's arguments that run `front args` with fd 3 the caller's file `extra` (the shell opens it before exec'ing the front). */
function withFd3(extra: string, front: string, args: string[]): string[] {
  return ['-c', `exec "$0" "$@" 3<"${extra}"`, front, ...args];
}

const skip = rootSkipReason() || (fs.existsSync(TSRUNC) ? false : 'bin/tsrunc is not built');

/** A front that waits as long as it takes for a worker (the default gives up after 250 ms). */
function patientFront(t: Parameters<typeof makeFront>[0]): string {
  return makeFront(t, { replyTimeoutMs: 120_000 });
}

function envFor(socket: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, TSRUNC_DAEMON_SOCKET: socket, ...extra };
}

/** Runs `front args` and says whether a worker of `d` served it. */
function runVia(
  d: TestDaemon,
  front: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; served?: boolean } = {},
): RunResult & { served: boolean } {
  const before = d.workers();
  const env = opts.env ?? envFor(opts.served === false ? '' : d.socket);
  const r = runCommand(front, args, { env, cwd: opts.cwd });
  return { ...r, served: before.some((p) => !alive(p)) };
}

/** The line of cli()'s call of main() (a frame only the direct path's stacks have). */
const CLI_LINE =
  fs
    .readFileSync(path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts'), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('main(argv).then(')) + 1;

const mask = (s: string): string =>
  s
    .replace(/time="[^"]*"/g, 'time="T"')
    .replace(/"time":"[^"]*"/g, '"time":"T"')
    .replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z/g, 'T');

t.test('every served command: what the caller sees is what the direct path shows', { skip }, async (t) => {
  const d = await startDaemon(t, 3);
  const front = patientFront(t);
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0, 'created (direct path)');
  t.equal(c.tsrunc(['start', c.id]).status, 0, 'started');
  const logs = tempDir(t, 'tsrunc-daemon-logs');
  const r = ['--root', c.root];
  const cases: [string, string[]][] = [
    ['state', [...r, 'state', c.id]],
    ['list', [...r, 'list']],
    ['list json', [...r, 'list', '--format', 'json']],
    ['ps json', [...r, 'ps', '--format', 'json', c.id]],
    ['events --stats', [...r, 'events', '--stats', c.id]],
    ['kill WINCH', [...r, 'kill', c.id, 'WINCH']],
    ['features', ['features']],
    ['help of a served command', ['state', '--help']],
    ['no such container, --log json', [...r, '--log', 'LOG', '--log-format', 'json', 'state', 'nosuch']],
    ['no such container, --log text --debug', [...r, '--debug', '--log', 'LOG', 'state', 'nosuch']],
    ['an unknown global flag', ['--bogus', 'list']],
    ['an unknown flag of a served command', [...r, 'state', '--nope', c.id]],
    ['start of a running container', [...r, 'start', c.id]],
    ['kill of an unknown signal', [...r, 'kill', c.id, 'SIGNOPE']],
    ['pause', [...r, 'pause', c.id]],
    ['state paused', [...r, 'state', c.id]],
    ['resume', [...r, 'resume', c.id]],
    ['create of an id that exists', [...r, '--log', 'LOG', 'create', '--bundle', c.bundle, c.id]],
    ['create of a bundle without config.json', [...r, 'create', '--bundle', '/nonexistent', 'other']],
  ];
  let n = 0;
  for (const [name, args] of cases) {
    const seen: Record<'direct' | 'served', { status: number | null; stdout: string; stderr: string; log: string }> =
      {} as never;
    for (const way of ['direct', 'served'] as const) {
      const log = path.join(logs, `${n++}.log`);
      const argv = args.map((a) => (a === 'LOG' ? log : a));
      const res = runVia(d, front, argv, { served: way === 'served' });
      t.equal(res.served, way === 'served', `${name}: ${way}`);
      seen[way] = {
        status: res.status,
        stdout: mask(res.stdout),
        stderr: mask(res.stderr).replaceAll(log, 'LOG'),
        log: fs.existsSync(log) ? mask(fs.readFileSync(log, 'utf8')).replaceAll(log, 'LOG') : '(none)',
      };
      if (way === 'direct' && name === 'pause') runVia(d, front, [...r, 'resume', c.id], { served: false });
      if (way === 'direct' && name === 'resume') runVia(d, front, [...r, 'pause', c.id], { served: false });
    }
    // --debug names the pid of the process the caller started (the front's, either way). Its
    // stack of an error differs below main(): the worker's callers are not boot.cjs's.
    const dbg = (s: string): string =>
      s
        .replace(/pid \d+:/g, 'pid P:')
        .split('\n')
        .filter((l) => !/^\s+at /.test(l) || /^\s+at src\/(?!daemon\/)/.test(l))
        .filter((l) => !l.includes(`src/cli/main.ts:${CLI_LINE}:`))
        .join('\n');
    t.same(
      { ...seen.served, stderr: dbg(seen.served.stderr), log: dbg(seen.served.log) },
      { ...seen.direct, stderr: dbg(seen.direct.stderr), log: dbg(seen.direct.log) },
      name,
    );
  }
  // spec writes config.json in the caller's cwd, with the caller's umask.
  const a = tempDir(t, 'tsrunc-spec-direct');
  const b = tempDir(t, 'tsrunc-spec-served');
  t.notOk(runVia(d, front, ['spec'], { cwd: a, served: false }).served);
  t.ok(runVia(d, front, ['spec'], { cwd: b }).served, 'spec served');
  t.equal(fs.readFileSync(path.join(b, 'config.json'), 'utf8'), fs.readFileSync(path.join(a, 'config.json'), 'utf8'));
  t.equal(fs.statSync(path.join(b, 'config.json')).mode, fs.statSync(path.join(a, 'config.json')).mode, 'mode');
  const again = runVia(d, front, ['spec'], { cwd: a });
  const againDirect = runVia(d, front, ['spec'], { cwd: a, served: false });
  t.same([again.status, mask(again.stderr)], [againDirect.status, mask(againDirect.stderr)], 'an existing config.json');
  // stdin is the caller's: update --resources -
  const upd = (served: boolean): RunResult & { served: boolean } => {
    const before = d.workers();
    const res = spawnSync(front, [...r, 'update', '--resources', '-', c.id], {
      input: '{"pids":{"limit":100}}',
      env: envFor(served ? d.socket : ''),
      encoding: 'utf8',
    });
    return {
      status: res.status,
      signal: res.signal,
      stdout: res.stdout,
      stderr: res.stderr,
      served: before.some((p) => !alive(p)),
    };
  };
  const u1 = upd(false);
  const u2 = upd(true);
  t.ok(u2.served, 'update served');
  t.same([u2.status, u2.stdout, u2.stderr], [u1.status, u1.stdout, u1.stderr], 'update --resources -');
  const del = runVia(d, front, [...r, 'delete', '--force', c.id]);
  t.ok(del.served, 'delete served');
  t.same([del.status, del.stdout, del.stderr], [0, '', '']);
  t.equal(c.status(), 'missing', 'deleted');
  t.match(d.log(), /serving uid 0/);
});

t.test('help and --version take the direct path', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const before = d.workers();
  for (const args of [['--version'], ['help'], ['--help', 'state']])
    t.equal(runCommand(front, args, { env: envFor(d.socket) }).status, 0, args.join(' '));
  t.same(d.workers(), before, 'no worker was used');
});

/** `front args` started in the background (stdout and stderr collected), and whether a worker of `d` took it. */
function startVia(
  tt: Teardownable,
  d: TestDaemon,
  front: string,
  args: string[],
  served: boolean,
  opts: { stdin?: 'ignore' | 'pipe' } = {},
): {
  child: ReturnType<typeof spawn>;
  out: () => string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
  served: () => boolean;
} {
  const before = d.workers();
  const child = spawn(front, args, {
    env: envFor(served ? d.socket : ''),
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (a, b) => r([a, b])));
  tt.teardown(() => void child.kill('SIGKILL'));
  return { child, out: () => out, exit, served: () => before.some((p) => !alive(p)) };
}

/** The child of `parent` that runs `comm` (the container's process once tsrunc-init has exec'd it). */
async function childRunning(parent: number, comm: string): Promise<number> {
  return until(() =>
    childrenOf(parent).find((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    }),
  );
}

// A shell that says it is ready, and exits 42 on SIGTERM (busybox sh runs the trap between sleeps).
const TRAPPER = ['sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done'];

t.test('a served exec: the same status, output, --log lines and pid file as the direct path', { skip }, async (t) => {
  const d = await startDaemon(t, 3);
  const front = patientFront(t);
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0, 'running');
  const out = tempDir(t, 'tsrunc-daemon-exec');
  const r = ['--root', c.root];
  const cases: [string, string[]][] = [
    ['exit status and output', [...r, 'exec', c.id, 'sh', '-c', 'echo out; echo err >&2; exit 3']],
    ['a missing program, --log json', [...r, '--log', 'LOG', '--log-format', 'json', 'exec', c.id, '/nope']],
    ['--pid-file', [...r, 'exec', '--pid-file', 'PID', c.id, 'true']],
    ['-t without a terminal of the caller', [...r, 'exec', '-t', c.id, 'sh', '-c', 'tty; exit 4']],
    ['no such container', [...r, 'exec', 'nosuch', 'true']],
  ];
  let n = 0;
  for (const [name, args] of cases) {
    const seen: Record<string, unknown> = {};
    for (const way of ['direct', 'served'] as const) {
      const log = path.join(out, `${n}.log`);
      const pidFile = path.join(out, `${n++}.pid`);
      const argv = args.map((a) => (a === 'LOG' ? log : a === 'PID' ? pidFile : a));
      const res = runVia(d, front, argv, { served: way === 'served' });
      t.equal(res.served, way === 'served', `${name}: ${way}`);
      seen[way] = {
        status: res.status,
        stdout: res.stdout.replace(/\/dev\/pts\/\d+/, 'PTS'),
        stderr: mask(res.stderr).replaceAll(log, 'LOG'),
        log: fs.existsSync(log) ? mask(fs.readFileSync(log, 'utf8')).replaceAll(log, 'LOG') : '(none)',
        pidFile: fs.existsSync(pidFile) ? /^[1-9]\d*$/.test(fs.readFileSync(pidFile, 'utf8')) : '(none)',
      };
    }
    t.same(seen['served'], seen['direct'], name);
  }
  // --detach: the process runs on in the container, the front gone.
  const pidFile = path.join(out, 'detached.pid');
  const det = runVia(d, front, [...r, 'exec', '--detach', '--pid-file', pidFile, c.id, 'sleep', '300']);
  t.same([det.served, det.status, det.stdout, det.stderr], [true, 0, '', ''], 'exec --detach served');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(alive(pid), 'its process runs');
  t.equal(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sleep');
  t.equal(
    fs.readlinkSync(`/proc/${pid}/ns/pid`),
    fs.readlinkSync(`/proc/${c.pid()}/ns/pid`),
    "in the container's pid namespace",
  );
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  await until(() => !alive(pid));
});

t.test("a served foreground exec: the front's child, signals forwarded, its status", { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0, 'running');
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const x = startVia(
      t,
      d,
      front,
      ['--root', c.root, 'exec', c.id, ...TRAPPER.slice(0, 2), TRAPPER[2]!.replace('TERM', sig.slice(3))],
      true,
    );
    await until(() => x.out().includes('ready'));
    const sh = await childRunning(x.child.pid as number, 'sh');
    t.equal(
      fs.readlinkSync(`/proc/${sh}/ns/mnt`),
      fs.readlinkSync(`/proc/${c.pid()}/ns/mnt`),
      "the exec'd process is the front's child, in the container",
    );
    process.kill(x.child.pid as number, sig);
    t.same(await x.exit, [42, null], `${sig} sent to the front reached the process (its trap's status)`);
    t.ok(x.served(), 'served');
    t.equal(x.out(), 'ready\n');
  }
  // A process killed by a signal: 128+N, as the direct path.
  const k = startVia(t, d, front, ['--root', c.root, 'exec', c.id, 'sh', '-c', 'echo ready; exec sleep 300'], true);
  await until(() => k.out().includes('ready'));
  const sleeper = await childRunning(k.child.pid as number, 'sleep');
  process.kill(sleeper, 'SIGKILL');
  t.same(await k.exit, [137, null], 'killed: 137');
  t.ok(k.served(), 'served');
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
});

t.test("a served exec's process has stdio and --preserve-fds only, as the direct path's", { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0, 'running');
  const extra = path.join(c.bundle, 'extra');
  fs.writeFileSync(extra, 'x');
  const seen: Record<string, string[]> = {};
  for (const way of ['direct', 'served'] as const) {
    const before = d.workers();
    const child = spawn(
      'sh',
      withFd3(extra, front, ['--root', c.root, 'exec', '--preserve-fds', '1', c.id, 'sleep', '300']),
      { env: envFor(way === 'served' ? d.socket : ''), stdio: ['ignore', 'ignore', 'ignore'] },
    );
    t.teardown(() => void child.kill('SIGKILL'));
    const exit = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (a, b) => r([a, b])));
    const sleeper = await childRunning(child.pid as number, 'sleep');
    seen[way] = fdKinds(sleeper, c);
    process.kill(child.pid as number, 'SIGTERM');
    t.same(await exit, [143, null], 'SIGTERM forwarded: 143');
    t.equal(
      before.some((p) => !alive(p)),
      way === 'served',
      way,
    );
  }
  t.same(seen['served'], seen['direct'], 'the same fds');
  t.same(
    seen['served']!.map((l) => l.split(' ')[0]),
    ['0', '1', '2', '3'],
    "stdio and the preserved fd: nothing of the front's or the worker's",
  );
  t.ok(seen['served']![3]!.endsWith('/extra'), "fd 3 is the caller's file");
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
});

t.test(
  "a served foreground run: its status, the init the front's child, signals forwarded, a pty relayed",
  { skip },
  async (t) => {
    const d = await startDaemon(t, 2);
    const front = patientFront(t);
    // The exit status passes through, and the container is deleted after.
    const c1 = testContainer(t, (s) => (s.process!.args = ['sh', '-c', 'echo hi; exit 7']));
    const r1 = runVia(d, front, ['--root', c1.root, 'run', '--bundle', c1.bundle, c1.id]);
    t.same([r1.served, r1.status, r1.stdout, r1.stderr], [true, 7, 'hi\n', ''], 'exit 7 served');
    t.equal(c1.status(), 'missing', 'deleted (no --keep)');
    // A signal sent to the front reaches the init, the front's child (its subreaper).
    const c2 = testContainer(t, (s) => (s.process!.args = TRAPPER));
    const x = startVia(t, d, front, ['--root', c2.root, 'run', '--bundle', c2.bundle, c2.id], true);
    await until(() => x.out().includes('ready'));
    const init = c2.pid();
    t.equal(childrenOf(x.child.pid as number).includes(init), true, "the container's init is the front's child");
    process.kill(x.child.pid as number, 'SIGTERM');
    t.same(await x.exit, [42, null], 'SIGTERM reached the init');
    t.ok(x.served(), 'served');
    t.equal(c2.status(), 'missing', 'deleted');
    // -t without a console socket: the worker relays the pty on the caller's stdio.
    for (const way of ['direct', 'served'] as const) {
      const c3 = testContainer(t, (s) => {
        s.process!.terminal = true;
        s.process!.args = ['sh'];
      });
      const before = d.workers();
      const r3 = runCommand(front, ['--root', c3.root, 'run', '--bundle', c3.bundle, c3.id], {
        env: envFor(way === 'served' ? d.socket : ''),
        input: 'tty; echo hi-$((6*7)); exit 3\n',
      });
      t.equal(
        before.some((p) => !alive(p)),
        way === 'served',
        `-t ${way}`,
      );
      t.equal(r3.status, 3, r3.stderr);
      t.match(r3.stdout, /^hi-42\r?$/m, 'relayed');
      t.match(r3.stdout, /^\/dev\/pts\/0\r?$/m, 'on a pty');
    }
    // On a real terminal (script(1)'s pty as the caller's stdin and stdout, 40x100) the front takes
    // the direct path even with a server there: a worker relaying from outside the caller's session
    // would escape job control (a backgrounded job would read what is typed at the shell).
    for (const way of ['direct', 'served'] as const) {
      const c5 = testContainer(t, (s) => {
        s.process!.terminal = true;
        s.process!.args = ['sh', '-c', 'stty size; echo hi-$((6*7)); exit 6'];
      });
      const before = d.workers();
      const r5 = runCommand(
        'script',
        [
          '-qec',
          `stty rows 40 cols 100; '${front}' --root '${c5.root}' run --bundle '${c5.bundle}' ${c5.id}`,
          '/dev/null',
        ],
        { env: envFor(way === 'served' ? d.socket : '') },
      );
      t.equal(
        before.some((p) => !alive(p)),
        false,
        `-t on a terminal with${way === 'served' ? '' : 'out'} a server: direct`,
      );
      t.equal(r5.status, 6, r5.stderr);
      t.match(r5.stdout, /^hi-42\r?$/m, 'relayed');
      t.match(r5.stdout, /^40 100\r?$/m, "the terminal's size");
    }
    // And exec -t relayed, in a container run detached.
    const c4 = testContainer(t);
    t.equal(c4.tsrunc(['run', '-d', c4.id]).status, 0);
    const before = d.workers();
    const r4 = runCommand(front, ['--root', c4.root, 'exec', '-t', c4.id, 'sh'], {
      env: envFor(d.socket),
      input: 'tty; echo hi-$((6*7)); exit 5\n',
    });
    t.ok(
      before.some((p) => !alive(p)),
      'exec -t served',
    );
    t.equal(r4.status, 5, r4.stderr);
    t.match(r4.stdout, /^hi-42\r?$/m, 'relayed');
    t.equal(c4.tsrunc(['delete', '--force', c4.id]).status, 0);
  },
);

t.test('fallback: no server, another build, a directory others can enter, a stuck server', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const root = tempDir(t, 'tsrunc-daemon-root');
  const expect = runCommand(front, ['--root', root, 'list'], { env: envFor('') });
  t.equal(expect.status, 0);

  const none = runVia(d, front, ['--root', root, 'list'], { env: envFor(path.join(d.dir, 'nosuch.sock')) });
  t.same([none.served, none.status, none.stdout], [false, 0, expect.stdout], 'no socket there');

  const other = makeFront(t, { build: 'f'.repeat(32), replyTimeoutMs: 120_000 });
  const mismatch = runVia(d, other, ['--root', root, 'list']);
  t.same([mismatch.served, mismatch.status, mismatch.stdout, mismatch.stderr], [false, 0, expect.stdout, '']);
  await until(() => d.log().includes('refused a caller: another build'));

  fs.chmodSync(d.dir, 0o755);
  const open = runVia(d, front, ['--root', root, 'list']);
  fs.chmodSync(d.dir, 0o700);
  t.same([open.served, open.status, open.stdout], [false, 0, expect.stdout], 'a directory others can enter');

  // A stuck server (every process of it stopped): the front's default patience runs out and
  // the command runs directly; the worker that later reads the abandoned request does nothing.
  const impatient = makeFront(t, { replyTimeoutMs: 100 });
  const workers = d.workers();
  const logged = d.log().length;
  for (const p of [d.pid, ...workers]) process.kill(p, 'SIGSTOP');
  const specDir = tempDir(t, 'tsrunc-daemon-stuck');
  // Its stdout and stderr close while the server is still stopped: no fd of the caller's waits
  // in the server's queue (they go only with GO).
  const child = spawn(impatient, ['spec'], { env: envFor(d.socket), cwd: specDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stuckErr = '';
  child.stderr.on('data', (b: Buffer) => (stuckErr += b.toString()));
  child.stdout.resume();
  const [stuckCode] = await new Promise<unknown[]>((r) => child.once('close', (...a) => r(a)));
  t.equal(stuckCode, 0, stuckErr);
  const written = fs.statSync(path.join(specDir, 'config.json'));
  for (const p of [d.pid, ...workers]) process.kill(p, 'SIGCONT');
  // (accepted by a worker once it runs again: the front is gone by then, before its peer check or after)
  await until(() =>
    /refused a caller: (no SO_PEERPIDFD|cannot read|the peer is gone)|went away before GO/.test(d.log().slice(logged)),
  );
  t.same(d.workers(), workers, 'no worker ran the abandoned command');
  const after = fs.statSync(path.join(specDir, 'config.json'));
  t.same([after.ino, after.mtimeMs], [written.ino, written.mtimeMs], 'config.json written once');
});

t.test('a killed worker, a killed server and a killed front end as a killed tsrunc does', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  t.equal(c.tsrunc(['start', c.id]).status, 0);

  /** `events` (runs until stopped) through the server; resolves with its worker. */
  const follow = async (): Promise<{ child: ReturnType<typeof spawn>; worker: number; exit: Promise<unknown[]> }> => {
    const before = d.workers();
    const child = spawn(front, ['--root', c.root, 'events', c.id], {
      env: envFor(d.socket),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exit = new Promise<unknown[]>((r) => child.once('exit', (...a) => r(a)));
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout!.resume();
    const frontIn = await until(() => {
      try {
        return fs.readlinkSync(`/proc/${child.pid}/fd/0`);
      } catch {
        return undefined;
      }
    });
    const worker = await until(() =>
      before.find((w) => {
        try {
          return fs.readlinkSync(`/proc/${w}/fd/0`) === frontIn;
        } catch {
          return false;
        }
      }),
    );
    return { child, worker, exit: exit.then((a) => [...a, stderr]) };
  };

  const a = await follow();
  process.kill(a.worker, 'SIGKILL');
  const [codeA, sigA, errA] = await a.exit;
  t.same([codeA, sigA, errA], [null, 'SIGKILL', ''], 'the front dies of the signal its worker died of');

  const b = await follow();
  process.kill(b.child.pid as number, 'SIGKILL');
  await b.exit;
  await until(() => !alive(b.worker));
  t.pass('the worker of a killed front is killed');

  const s = await follow();
  process.kill(s.child.pid as number, 'SIGTERM');
  const [codeS, sigS] = await s.exit;
  t.same(
    [codeS, sigS],
    [null, 'SIGTERM'],
    'a signal to the front reaches the command (events dies of SIGTERM, as node does)',
  );

  const k = await follow();
  process.kill(d.pid, 'SIGKILL');
  const [codeK, sigK, errK] = await k.exit;
  t.same([codeK, sigK], [null, 'SIGKILL'], 'the server killed midway: the front ends as a killed tsrunc');
  t.match(errK, /worker was lost/);
  await until(() => !alive(k.worker));
  t.equal(c.status(), 'running', 'the container is untouched');
});

t.test('another uid is refused, even past the directory', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const user = ordinaryUser(t);
  // The directory keeps the user out; an O_PATH fd of the socket, opened by root and the socket
  // opened up, lets it connect: the server still refuses it (SO_PEERCRED).
  fs.chmodSync(d.socket, 0o666);
  const opath = fs.openSync(d.socket, fs.constants.O_RDONLY | 0o10000000);
  t.teardown(() => fs.closeSync(opath));
  const client = `
    const net = require('node:net');
    const s = net.connect('/proc/self/fd/3');
    const got = [];
    s.on('data', (b) => got.push(b));
    s.on('error', (e) => { process.stdout.write('error ' + e.code); });
    s.on('close', () => process.stdout.write(Buffer.concat(got).toString('hex')));`;
  const before = d.workers();
  const r = spawnSync(process.execPath, ['-e', client], {
    env: { PATH: '/usr/bin:/bin' },
    uid: user.uid,
    gid: user.gid,
    stdio: ['ignore', 'pipe', 'pipe', opath],
    encoding: 'utf8',
  });
  t.equal(r.status, 0, r.stderr);
  const reply = Buffer.from(r.stdout, 'hex');
  t.equal(reply.length, 48, 'one REPLY, then the connection closed');
  t.equal(reply.readUInt32LE(8), 3, 'REFUSED');
  await until(() => d.log().match(new RegExp(`refused a caller: uid ${user.uid} is not the server's`)));
  t.same(d.workers(), before, 'no worker was used');
  // Through the directory, the user does not reach the socket at all.
  const direct = spawnSync(
    process.execPath,
    ['-e', `require('node:net').connect(${JSON.stringify(d.socket)}).on('error', (e) => process.stdout.write(e.code))`],
    {
      env: { PATH: '/usr/bin:/bin' },
      uid: user.uid,
      gid: user.gid,
      encoding: 'utf8',
    },
  );
  t.equal(direct.stdout, 'EACCES');
});

t.test('a root with fewer capabilities is refused (and runs directly)', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const root = tempDir(t, 'tsrunc-daemon-root');
  const before = d.workers();
  const r = runCommand('setpriv', ['--bounding-set', '-sys_admin', '--', front, '--root', root, 'list'], {
    env: envFor(d.socket),
  });
  t.equal(r.status, 0, r.stderr);
  await until(() => /refused a caller: its Cap\w+ differ/.test(d.log()));
  t.same(d.workers(), before, 'no worker was used');
});

t.test('a container cannot use the socket, even bound into it', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const c = testContainer(t, (spec) => {
    spec.process!.args = ['/tsrunc', 'list'];
    spec.process!.env = ['PATH=/bin', 'TSRUNC_DAEMON_SOCKET=/daemon/tsrunc.sock'];
    spec.mounts!.push(
      { destination: '/daemon', type: 'bind', source: d.dir, options: ['rbind'] },
      { destination: '/tsrunc', type: 'bind', source: front, options: ['bind', 'ro'] },
    );
  });
  const before = d.workers();
  const r = c.tsrunc(['run', c.id]);
  t.equal(r.status, 127, 'the front in the container falls back, and finds no node there');
  t.match(r.stdout + r.stderr, /cannot run/);
  await until(() => d.log().match(/refused a caller: (another \w+ namespace|another root directory)/));
  t.same(d.workers(), before, 'no worker was used');
});

t.test('what a worker starts inherits no fd of the server', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  // tsrunc ps runs ps(1) from PATH: this one records its open fds.
  const bin = tempDir(t, 'tsrunc-daemon-bin');
  fdRecordingPs(bin);
  const seen: Record<string, string[]> = {};
  for (const way of ['direct', 'served']) {
    const out = path.join(bin, `${way}.fds`);
    const env = envFor(way === 'served' ? d.socket : '', { PATH: `${bin}:${process.env['PATH']}`, FDS_OUT: out });
    const r = runVia(d, front, ['--root', c.root, 'ps', c.id], { env });
    t.equal(r.served, way === 'served', way);
    t.equal(r.status, 0, r.stderr);
    seen[way] = fs.readFileSync(out, 'utf8').trim().split('\n');
  }
  // Of the same kinds (the harness's stdio are socketpairs, libuv's pipes).
  const kinds = (lines: string[]): string[] =>
    lines.map((l) => l.replace(/\[\d+\]$/, '').replace(/(direct|served)\.fds$/, 'X.fds'));
  // (a caller's own fds above 2 reach ps(1) through node on the direct path, not through a
  // worker: fewer, never more)
  const direct = new Set(kinds(seen['direct']!));
  t.same(
    kinds(seen['served']!).filter((l) => !direct.has(l)),
    [],
    'no fd the direct path does not give',
  );
  t.same(
    kinds(seen['served']!).filter((l) => Number(l.split(' ')[0]) < 3),
    kinds(seen['direct']!).filter((l) => Number(l.split(' ')[0]) < 3),
    'stdin, stdout, stderr alike',
  );
  // None is one of the server's (its listening socket, its workers' channels).
  const serverInodes = serverSockets(d);
  t.ok(serverInodes.size > 0, 'the server has sockets to compare with');
  const leaked = seen['served']!.filter((l) => serverInodes.has(l.split(' ')[1] as string));
  t.same(leaked, [], "none of them is the server's");
});

t.test("the shipped units: valid, and the server takes systemd's socket", { skip }, async (t) => {
  const units = path.join(__dirname, '..', '..', 'contrib', 'systemd');
  const dir = tempDir(t, 'tsrunc-units');
  fs.writeFileSync(
    path.join(dir, 'tsrunc-daemon.service'),
    fs.readFileSync(path.join(units, 'tsrunc-daemon.service'), 'utf8').replace('/usr/local/bin/tsrunc', TSRUNC),
  );
  fs.copyFileSync(path.join(units, 'tsrunc-daemon.socket'), path.join(dir, 'tsrunc-daemon.socket'));
  const verify = spawnSync(
    'systemd-analyze',
    ['verify', path.join(dir, 'tsrunc-daemon.socket'), path.join(dir, 'tsrunc-daemon.service')],
    { encoding: 'utf8' },
  );
  if (verify.error === undefined) t.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
  const activate = spawnSync('sh', ['-c', 'command -v systemd-socket-activate'], { encoding: 'utf8' }).stdout.trim();
  if (activate === '') {
    t.comment('no systemd-socket-activate: socket activation not tried');
    return;
  }
  // As the .socket unit makes it: a 0700 directory, the socket handed over as fd 3.
  const sockDir = tempDir(t, 'tsrunc-activated');
  fs.chmodSync(sockDir, 0o700);
  const socket = path.join(sockDir, 'tsrunc.sock');
  const logFile = path.join(sockDir, 'log');
  const log = fs.openSync(logFile, 'w');
  const server = spawn(activate, ['-l', socket, TSRUNC, 'daemon', '--socket', socket, '--spares', '1'], {
    stdio: ['ignore', 'ignore', log],
    env: { PATH: process.env['PATH'] },
  });
  fs.closeSync(log);
  const exited = new Promise((r) => server.once('exit', r));
  t.teardown(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await exited;
    }
  });
  await until(() => fs.existsSync(socket));
  const front = patientFront(t);
  const root = tempDir(t, 'tsrunc-daemon-root');
  // The first connection starts the server (systemd-socket-activate execs it then).
  const r = runCommand(front, ['--root', root, 'list'], { env: envFor(socket) });
  t.equal(r.status, 0, r.stderr);
  await until(() => fs.readFileSync(logFile, 'utf8').includes('serving uid 0'));
  t.match(fs.readFileSync(logFile, 'utf8'), /\(socket from systemd\)/, "systemd's socket taken, none bound");
  server.kill('SIGTERM');
  await exited;
  t.ok(fs.existsSync(socket), "systemd's socket is left to systemd");
});

// A caller that is a subreaper (as containerd's shim is): it runs create, reads whose child the
// container's init is once tsrunc has exited, then start, kill (and reaps the init itself: only
// its parent can) and delete. The same on both paths: the served create's init is started by the
// front the caller exec'd, as runc's by runc.
for (const [way, how] of [
  ['served', 'create'],
  ['direct', 'create'],
  ['served', 'run -d'],
  ['direct', 'run -d'],
] as const) {
  t.test(`parentage (${way}): a subreaper caller inherits the init after ${how}`, { skip }, async (t) => {
    const d = await startDaemon(t, 2);
    const front = patientFront(t);
    const c = testContainer(t);
    const caller = `
    const { spawnSync } = require('node:child_process');
    const fs = require('node:fs');
    const addon = require(${JSON.stringify(path.join(__dirname, '..', '..', 'build', 'Release', 'tsrunc.node'))});
    addon.setSubreaper(true);
    const ppidOf = (pid) => {
      const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    };
    const workers = () => fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).filter((p) => { try { return ppidOf(p) === ${d.pid}; } catch { return false; } });
    const env = { ...process.env, TSRUNC_DAEMON_SOCKET: ${JSON.stringify(way === 'served' ? d.socket : '')} };
    const run = (args) => spawnSync(${JSON.stringify(front)}, ['--root', ${JSON.stringify(c.root)}, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    const before = workers();
    const created = spawnSync(${JSON.stringify(front)}, ['--root', ${JSON.stringify(c.root)}, ...${JSON.stringify(how.split(' '))}, '--bundle', ${JSON.stringify(c.bundle)}, ${JSON.stringify(c.id)}], { env, stdio: 'ignore' });
    const createServed = before.some((p) => !fs.existsSync('/proc/' + p));
    const state = JSON.parse(run(['state', ${JSON.stringify(c.id)}]).stdout);
    const ppid = ppidOf(state.pid);
    const started = ${how === 'create'} ? run(['start', ${JSON.stringify(c.id)}]).status : 0;
    const running = JSON.parse(run(['state', ${JSON.stringify(c.id)}]).stdout).status;
    const killed = run(['kill', ${JSON.stringify(c.id)}, 'KILL']).status;
    const reaped = addon.waitPid(state.pid, false);
    const stopped = JSON.parse(run(['state', ${JSON.stringify(c.id)}]).stdout).status;
    const deleted = run(['delete', ${JSON.stringify(c.id)}]).status;
    process.stdout.write(JSON.stringify({ me: process.pid, created: created.status, createServed, status: state.status, ppid, started, running, killed, signal: reaped.signal, stopped, deleted }));`;
    const r = runCommand(process.execPath, ['-e', caller], { env: { PATH: process.env['PATH'] } });
    t.equal(r.status, 0, r.stderr);
    const seen = JSON.parse(r.stdout) as Record<string, unknown>;
    t.same(
      [seen['created'], seen['createServed'], seen['status']],
      [0, way === 'served', how === 'create' ? 'created' : 'running'],
      `${how} (${way})`,
    );
    t.equal(seen['ppid'], seen['me'], "the init is the subreaper caller's child");
    t.same(
      [seen['started'], seen['running'], seen['killed'], seen['signal'], seen['stopped'], seen['deleted']],
      [0, 'running', 0, 9, 'stopped', 0],
      'start, kill (the caller reaps the init), delete',
    );
  });
}

/**
 * A process's fds as "N kind" lines (inode numbers masked: pipe, socket, anon_inode:[x] kept;
 * the container's own paths named ROOT, BUNDLE and ID).
 */
function fdKinds(pid: number, c: { root: string; bundle: string; id: string }): string[] {
  return fs
    .readdirSync(`/proc/${pid}/fd`)
    .map(Number)
    .sort((a, b) => a - b)
    .map((fd) => {
      let to: string;
      try {
        to = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        to = '(gone)';
      }
      const named = to.split(c.root).join('ROOT').split(c.bundle).join('BUNDLE').split(c.id).join('ID');
      return `${fd} ${named.replace(/^(pipe|socket):\[\d+\]$/, '$1').replace(/tsrunc-io-[^/]+/, 'IO')}`;
    });
}

t.test('a served create leaves the container the fds the direct path does', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const seen: Record<string, { created: string[]; started: string[] }> = {};
  for (const way of ['direct', 'served'] as const) {
    const c = testContainer(t);
    const env = envFor(way === 'served' ? d.socket : '');
    const before = d.workers();
    const r = runWithFiles(front, ['--root', c.root, 'create', '--bundle', c.bundle, c.id], { env });
    t.equal(r.status, 0, r.stderr);
    t.equal(
      before.some((p) => !alive(p)),
      way === 'served',
      `create ${way === 'served' ? 'served' : 'on the direct path'}`,
    );
    const pid = c.pid();
    const created = fdKinds(pid, c);
    t.equal(c.tsrunc(['start', c.id]).status, 0);
    await until(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] !== 'tsrunc-init');
    seen[way] = { created, started: fdKinds(pid, c) };
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  }
  t.same(seen['served'], seen['direct'], 'the same fds, created and started');
  t.same(
    seen['served']!.started.map((l) => l.split(' ')[0]),
    ['0', '1', '2'],
    "stdio only: nothing of the front's or the worker's",
  );
});

t.test("a served create with --preserve-fds hands on the caller's fds, and only those", { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const seen: Record<string, string[]> = {};
  for (const way of ['direct', 'served'] as const) {
    const c = testContainer(t);
    const extra = path.join(c.bundle, 'extra');
    fs.writeFileSync(extra, 'x');
    const before = d.workers();
    const r = runWithFiles(
      'sh',
      withFd3(extra, front, ['--root', c.root, 'create', '--preserve-fds', '1', '--bundle', c.bundle, c.id]),
      { env: envFor(way === 'served' ? d.socket : '') },
    );
    t.equal(r.status, 0, r.stderr);
    t.equal(
      before.some((p) => !alive(p)),
      way === 'served',
      way,
    );
    seen[way] = fdKinds(c.pid(), c);
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  }
  t.same(seen['served'], seen['direct'], 'the same fds');
  t.ok(
    seen['served']!.some((l) => l.startsWith('3 ') && l.endsWith('/extra')),
    "fd 3 is the caller's file",
  );
});

/**
 * A served `create` of `c` through a patient front, paused in its worker at `point` (the
 * marker is named by the front's pid: the worker's process.pid); the front's stderr is a pipe.
 */
async function pausedServedCreate(
  t: Parameters<typeof makeFront>[0],
  d: TestDaemon,
  c: { root: string; bundle: string; id: string },
  point: 'create:spawned' | 'create:hooks',
): Promise<{
  child: ReturnType<typeof spawn>;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
  stderr: NodeJS.ReadableStream;
}> {
  const hooks = tempDir(t, 'tsrunc-daemon-hooks');
  fs.chmodSync(hooks, 0o700);
  fs.writeFileSync(path.join(hooks, 'armed'), '');
  const child = spawn(patientFront(t), ['--root', c.root, 'create', '--bundle', c.bundle, c.id], {
    env: envFor(d.socket, { TSRUNC_TEST_HOOKS_DIR: hooks, TSRUNC_TEST_PAUSE_AT: point }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (a, b) => r([a, b])));
  await until(() => fs.existsSync(path.join(hooks, `${point}.${child.pid}.paused`)));
  return { child, exit, stderr: child.stderr! };
}

t.test('a served create whose worker is killed after the spawn ends as a killed tsrunc', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const c = testContainer(t);
  const before = d.workers();
  const { child, exit, stderr: err } = await pausedServedCreate(t, d, c, 'create:spawned');
  let stderr = '';
  err.on('data', (b: Buffer) => (stderr += b.toString()));
  // The worker has taken the front's stderr as its own.
  const worker = before.find((w) => {
    try {
      return fs.readlinkSync(`/proc/${w}/fd/2`) === fs.readlinkSync(`/proc/${child.pid}/fd/2`);
    } catch {
      return false;
    }
  });
  t.ok(worker !== undefined, 'the worker running the create');
  const init = childrenOf(child.pid as number);
  t.equal(init.length, 1, "tsrunc-init is the front's child");
  process.kill(worker as number, 'SIGKILL');
  t.same(await exit, [null, 'SIGKILL'], 'the front dies of the signal its worker died of');
  t.equal(stderr, '', 'and says nothing, as a killed tsrunc');
  await until(() => !alive(init[0] as number));
  t.pass('the init died with the front (its parent-death signal), as with a killed tsrunc');
  t.equal(c.status(), 'stopped', "state: what faults.test.ts's table says for create:spawned");
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  t.equal(c.status(), 'missing');
});

t.test(
  'a served create whose front is killed while its server cannot act: the init ends with the front',
  { skip },
  async (t) => {
    // The worker holds the init's sync socket and is killed only once its server has seen the
    // front go: the init must not wait for that (a `state` meanwhile said "created" for an init
    // about to die, and `start` then failed). Here the server is stopped, so only the front's
    // death can end the init, which waits at the hooks, after its pid namespace's fork.
    const d = await startDaemon(t, 2);
    const c = testContainer(t);
    const { child, exit } = await pausedServedCreate(t, d, c, 'create:hooks');
    const record = JSON.parse(fs.readFileSync(path.join(c.root, c.id, 'state.json'), 'utf8')) as { initPid?: number };
    const init = record.initPid ?? 0;
    t.ok(init > 0 && alive(init), 'the record names the live init');
    t.notOk(childrenOf(child.pid as number).includes(init), "the init is past the fork (not the front's child)");
    process.kill(d.pid, 'SIGSTOP');
    t.teardown(() => {
      try {
        process.kill(d.pid, 'SIGCONT');
      } catch {
        // gone
      }
    });
    process.kill(child.pid as number, 'SIGKILL');
    t.same(await exit, [null, 'SIGKILL']);
    const deadline = Date.now() + 10_000;
    while (alive(init) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.notOk(alive(init), 'the init ended with the front, its server still stopped');
    process.kill(d.pid, 'SIGCONT');
    t.equal(c.status(), 'stopped');
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
    t.equal(c.status(), 'missing');
  },
);

t.test('a served create: the same status, output, --log lines and pid file as the direct path', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const front = patientFront(t);
  const seen: Record<string, unknown> = {};
  for (const way of ['direct', 'served'] as const) {
    const c = testContainer(t);
    const out = tempDir(t, 'tsrunc-daemon-create');
    const log = path.join(out, 'log');
    const pidFile = path.join(out, 'pid');
    const before = d.workers();
    const res = runWithFiles(
      front,
      [
        '--root',
        c.root,
        '--log',
        log,
        '--log-format',
        'json',
        'create',
        '--bundle',
        c.bundle,
        '--pid-file',
        pidFile,
        c.id,
      ],
      { env: envFor(way === 'served' ? d.socket : '') },
    );
    t.equal(
      before.some((p) => !alive(p)),
      way === 'served',
      way,
    );
    const pid = c.pid();
    const name = (s: string): string =>
      mask(s.split(c.id).join('ID').split(c.root).join('ROOT').split(String(pid)).join('PID'));
    seen[way] = {
      status: res.status,
      stdout: name(res.stdout),
      stderr: name(res.stderr),
      log: fs.existsSync(log) ? name(fs.readFileSync(log, 'utf8')) : '(none)',
      pidFile: name(fs.readFileSync(pidFile, 'utf8')),
      pidFileMode: fs.statSync(pidFile).mode,
      state: c.status(),
      cgroup: name(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')),
    };
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  }
  t.same(seen['served'], seen['direct'], 'the same');
});

t.test('SIGUSR1 opens no inspector in the server or a worker (root processes), nor ends them', { skip }, async (t) => {
  const d = await startDaemon(t, 2);
  const targets = [d.pid, ...(await d.waitWorkers(2))];
  // (after their start-up: a node process has no listener until its entry runs, see security.md)
  await new Promise((r) => setTimeout(r, 3000));
  t.ok(targets.length >= 2, 'the server and a worker');
  for (const pid of targets) process.kill(pid, 'SIGUSR1');
  await new Promise((r) => setTimeout(r, 1000));
  for (const pid of targets) t.ok(alive(pid), `${pid} is alive`);
  const listening = fs.readFileSync('/proc/net/tcp', 'utf8') + fs.readFileSync('/proc/net/tcp6', 'utf8');
  // 9229 = 0x240D, state 0A = LISTEN
  t.notMatch(listening, /:240D [0-9A-F:]+ 0A /, 'nothing listens on the inspector port');
});
