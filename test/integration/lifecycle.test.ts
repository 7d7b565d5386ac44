// The runtime-spec lifecycle through the CLI, as a shim drives it: create → start → state →
// kill → delete, run in the foreground, and the error texts callers match on.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { cgroupDirsOf, rootSkipReason, testContainer } from '../helpers/container';
import { waitForFile, waitForHandler, waitForStatus } from '../helpers/host';
import { TSRUNC, runTsrunc } from '../helpers/tsrunc';

const skip = rootSkipReason();

t.test('create, start, state, kill, delete', { skip }, async (t) => {
  const c = testContainer(t);
  const pidFile = path.join(c.bundle, 'init.pid');
  const created = c.tsrunc(['create', '--pid-file', pidFile, c.id]);
  t.equal(created.status, 0, created.stderr);
  t.equal(created.stdout, '', 'create prints nothing on stdout');
  const pidText = fs.readFileSync(pidFile, 'utf8');
  t.match(pidText, /^[0-9]+$/, 'pid file holds the pid alone, no newline');
  const state = JSON.parse(c.tsrunc(['state', c.id]).stdout) as Record<string, unknown>;
  t.equal(state['status'], 'created');
  t.equal(state['pid'], Number(pidText));
  t.equal(state['bundle'], c.bundle);
  t.equal(state['id'], c.id);
  t.ok(fs.existsSync(`/proc/${pidText}`), 'the init exists while created');
  t.equal(cgroupDirsOf(c.id).length > 0, true, 'cgroups exist while created');

  const started = c.tsrunc(['start', c.id]);
  t.equal(started.status, 0, started.stderr);
  t.equal(c.status(), 'running');
  t.match(fs.readFileSync(`/proc/${pidText}/cmdline`, 'utf8'), /^sleep\0/, 'the init exec-ed the process');

  const again = c.tsrunc(['start', c.id]);
  t.equal(again.status, 1);
  t.match(again.stderr, /cannot start an already running container/);

  const del = c.tsrunc(['delete', c.id]);
  t.equal(del.status, 1, 'a running container is not deleted without --force');
  t.match(del.stderr, /is not stopped: running/);

  t.equal(c.tsrunc(['kill', c.id, 'KILL']).status, 0);
  t.ok(await waitForStatus(c, 'stopped'), 'stopped after KILL');
  t.equal(JSON.parse(c.tsrunc(['state', c.id]).stdout).pid, 0, 'a stopped container reports pid 0');
  const killStopped = c.tsrunc(['kill', c.id, 'TERM']);
  t.equal(killStopped.status, 1);
  t.match(killStopped.stderr, /container not running/);

  t.equal(c.tsrunc(['delete', c.id]).status, 0);
  t.same(cgroupDirsOf(c.id), [], 'delete removes the cgroups');
  const gone = c.tsrunc(['state', c.id]);
  t.equal(gone.status, 1);
  t.match(gone.stderr, /container does not exist/);
  t.same(fs.readdirSync(c.root), [], 'no state left');
  const delGone = c.tsrunc(['delete', c.id]);
  t.match(delGone.stderr, /container does not exist/);
  const forceGone = c.tsrunc(['delete', '--force', c.id]);
  t.equal(forceGone.status, 0, 'delete --force of a container that is gone succeeds, as in runc');
  t.equal(forceGone.stderr, '');
});

t.test('delete of a created container kills its init', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  const pid = c.pid();
  t.equal(c.tsrunc(['delete', c.id]).status, 0);
  t.notOk(
    fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z',
    'init is gone',
  );
  t.same(cgroupDirsOf(c.id), []);
});

t.test('delete --force of a running container', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '--detach', c.id]).status, 0);
  t.equal(c.status(), 'running');
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  t.equal(c.status(), 'missing');
  t.same(cgroupDirsOf(c.id), []);
});

t.test('kill takes names, SIG names and numbers; --all reaches every process', { skip }, async (t) => {
  const c = testContainer(
    t,
    (s) => {
      s.process!.args = [
        'sh',
        '-c',
        'trap "echo got USR1 >> /tmp/sig" USR1; sleep 1000 & sleep 1000 & while true; do wait; done',
      ];
      s.root!.readonly = false;
    },
    { copyRootfs: true },
  );
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  // Until the shell has run its trap, pid 1 of the namespace ignores USR1.
  await waitForHandler(c.pid(), 10);
  t.equal(c.tsrunc(['kill', c.id, 'SIGUSR1']).status, 0);
  t.equal(c.tsrunc(['kill', c.id, 'USR1']).status, 0);
  t.equal(c.tsrunc(['kill', c.id, '10']).status, 0);
  t.match(await waitForFile(path.join(c.bundle, 'rootfs/tmp/sig')), /got USR1/);
  t.equal(c.tsrunc(['kill', c.id, '0']).status, 0, 'signal 0 checks that the init is alive (runc accepts it too)');
  const bad = c.tsrunc(['kill', c.id, 'NOPE']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /unknown signal/);
  const all = c.tsrunc(['kill', '--all', c.id, 'KILL']);
  t.equal(all.status, 0, all.stderr);
  t.ok(await waitForStatus(c, 'stopped'), 'stopped after kill --all');
});

t.test('run exits with the container status, 128+N for a signal', { skip }, async (t) => {
  const exit3 = testContainer(t, (s) => (s.process!.args = ['sh', '-c', 'echo out; echo err >&2; exit 3']));
  const r = exit3.tsrunc(['run', exit3.id]);
  t.equal(r.status, 3);
  t.equal(r.stdout, 'out\n', 'the container writes to the caller stdout');
  t.equal(r.stderr, 'err\n');
  t.equal(exit3.status(), 'missing', 'run deletes the container');

  // pid 1 cannot be killed from inside its namespace: the signal comes from the host side.
  const killedByHost = testContainer(t);
  const runP = new Promise<number | null>((resolve) => {
    const p = spawn(TSRUNC, ['--root', killedByHost.root, 'run', killedByHost.id], {
      cwd: killedByHost.bundle,
      stdio: 'ignore',
    });
    p.on('exit', (code) => resolve(code));
  });
  t.ok(await waitForStatus(killedByHost, 'running'), 'running');
  t.equal(killedByHost.tsrunc(['kill', killedByHost.id, 'KILL']).status, 0);
  t.equal(await runP, 137, 'SIGKILL → 137');
});

t.test('run forwards signals to the container', { skip }, async (t) => {
  const c = testContainer(
    t,
    (s) => (s.process!.args = ['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.05; done']),
  );
  const p = spawn(TSRUNC, ['--root', c.root, 'run', c.id], { cwd: c.bundle, stdio: 'ignore' });
  t.teardown(() => void p.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
  t.ok(await waitForStatus(c, 'running'), 'running');
  // Signals sent earlier would be lost, not forwarded: the container's shell has not trapped
  // TERM yet (pid 1 of its namespace ignores it), or run has not yet installed its forwarding
  // handlers after start (installed together; SIGHUP is one node never catches by itself).
  await waitForHandler(c.pid(), 15);
  await waitForHandler(p.pid ?? -1, 1);
  p.kill('SIGTERM');
  t.equal(await exited, 7);
});

t.test(
  'run forwards SIGALRM as runc does (it forwards every signal but SIGCHLD, SIGWINCH and SIGURG)',
  { skip },
  async (t) => {
    const c = testContainer(
      t,
      (s) => (s.process!.args = ['sh', '-c', 'trap "exit 9" ALRM; while true; do sleep 0.05; done']),
    );
    const p = spawn(TSRUNC, ['--root', c.root, 'run', c.id], { cwd: c.bundle, stdio: 'ignore' });
    t.teardown(() => void p.kill('SIGKILL'));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      p.on('exit', (code, signal) => resolve([code, signal])),
    );
    t.ok(await waitForStatus(c, 'running'), 'running');
    await waitForHandler(c.pid(), 14);
    await waitForHandler(p.pid ?? -1, 14);
    p.kill('SIGALRM');
    t.same(await exited, [9, null], 'the container got it (and tsrunc did not die of it)');
  },
);

t.test('run --keep leaves the stopped container; --detach returns at once', { skip }, async (t) => {
  const c = testContainer(t, (s) => (s.process!.args = ['true']));
  t.equal(c.tsrunc(['run', '--keep', c.id]).status, 0);
  t.equal(c.status(), 'stopped');
  t.equal(c.tsrunc(['delete', c.id]).status, 0);
});

t.test('a second create of the same id fails and leaves the first intact', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  const dup = c.tsrunc(['create', c.id]);
  t.equal(dup.status, 1);
  t.match(dup.stderr, /runc create failed: container with given ID already exists/);
  t.equal(c.status(), 'created');
});

t.test('list shows containers as runc does', { skip }, async (t) => {
  const a = testContainer(t);
  const b = testContainer(t, () => {}, { root: a.root });
  t.equal(a.tsrunc(['create', a.id]).status, 0);
  t.equal(b.tsrunc(['run', '-d', b.id]).status, 0);
  const json = JSON.parse(a.tsrunc(['list', '--format', 'json']).stdout) as { id: string; status: string }[];
  t.same(
    json.map((s) => [s.id, s.status]).sort(),
    [
      [a.id, 'created'],
      [b.id, 'running'],
    ].sort(),
  );
  t.same(a.tsrunc(['list', '-q']).stdout.trim().split('\n').sort(), [a.id, b.id].sort());
  const table = a.tsrunc(['list']).stdout.split('\n');
  t.match(table[0], /^ID +PID +STATUS +BUNDLE +CREATED +OWNER$/);
  t.equal(runTsrunc(['--root', a.root, 'list']).status, 0);
});

t.test(
  'the environment a shim gives: no HOME, a short PATH, no TTY, cwd /; stdout only what runc prints',
  { skip },
  async (t) => {
    const c = testContainer(t);
    const env = { PATH: '/usr/bin:/bin' };
    const log = path.join(c.bundle, 'log.json');
    const shim = ['--log', log, '--log-format', 'json'];
    const pidFile = path.join(c.bundle, 'init.pid');
    const created = c.tsrunc([...shim, 'create', '--bundle', c.bundle, '--pid-file', pidFile, c.id], { env, cwd: '/' });
    t.equal(created.status, 0, created.stderr);
    t.equal(created.stdout, '', 'create: nothing on stdout');
    t.equal(c.tsrunc([...shim, 'start', c.id], { env, cwd: '/' }).stdout, '', 'start: nothing on stdout');
    const state = runTsrunc(['--root', c.root, ...shim, 'state', c.id], { env, cwd: '/' });
    t.equal(
      (JSON.parse(state.stdout) as { status: string }).status,
      'running',
      'state: one JSON document and nothing else',
    );
    const ps = runTsrunc(['--root', c.root, ...shim, 'ps', '--format', 'json', c.id], { env, cwd: '/' });
    t.same(
      JSON.parse(ps.stdout),
      [Number(fs.readFileSync(pidFile, 'utf8'))],
      'ps --format json: one JSON array of host pids',
    );
    const features = runTsrunc([...shim, 'features'], { env, cwd: '/' });
    t.equal(
      (JSON.parse(features.stdout) as { ociVersionMax?: string }).ociVersionMax !== undefined,
      true,
      'features: one JSON document',
    );
    t.equal(
      runTsrunc(['--root', c.root, ...shim, 'kill', c.id, '9'], { env, cwd: '/' }).stdout,
      '',
      'kill: nothing on stdout',
    );
    t.ok(await waitForStatus(c, 'stopped'), 'stopped after kill');
    t.equal(
      runTsrunc(['--root', c.root, ...shim, 'delete', c.id], { env, cwd: '/' }).stdout,
      '',
      'delete: nothing on stdout',
    );
    t.same(fs.readdirSync(c.root), [], 'deleted');
    t.notOk(fs.existsSync(log) && /"level":"error"/.test(fs.readFileSync(log, 'utf8')), 'no error in the log');
  },
);
