// Docker on tsrunc: a private dockerd (its own data root, exec root, socket and managed
// containerd) started with `--add-runtime tsrunc=bin/tsrunc`, driven with the docker CLI as
// a user would: dockerd → containerd → containerd-shim-runc-v2 → tsrunc.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { cgroupFile } from '../helpers/cgroup-tree';
import { rootSkipReason } from '../helpers/container';
import { waitForHandler } from '../helpers/host';
import { haveCommand, inPty, startDockerd, DOCKER_CLI, type Dockerd } from '../helpers/clients';
import { TSRUNC, pollUntil } from '../helpers/tsrunc';

const skip =
  rootSkipReason() ||
  (haveCommand('dockerd') && fs.existsSync(DOCKER_CLI)
    ? false
    : 'dockerd is not installed (scripts/setup.sh installs docker.io)');

let d: Dockerd;
const R = ['--runtime', 'tsrunc', '--network', 'none'];

function status(name: string): string {
  return d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]).stdout.trim();
}

/** Resolves once the init of container `name` catches `signo`: its shell has run its trap (until then pid 1 ignores the signal). */
async function trapped(name: string, signo: number): Promise<void> {
  await waitForHandler(Number(d.docker(['inspect', '-f', '{{.State.Pid}}', name]).stdout), signo);
}

/** The cgroup of container `name` (below the hierarchy roots). */
function cgroupOf(name: string): string {
  return `${d.cgroupParent}/${d.docker(['inspect', '-f', '{{.Id}}', name]).stdout.trim()}`;
}

t.before(async () => {
  if (skip === false) d = await startDockerd(t);
});

t.test('docker run: output and exit status', { skip }, async (t) => {
  const r = d.docker(['run', '--rm', ...R, d.image, 'sh', '-c', 'echo hello from $(hostname); exit 0']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^hello from [0-9a-f]{12}\n$/);
  const inspectRuntime = d.docker(['run', '--name', 'exit-code', ...R, d.image, 'sh', '-c', 'exit 42']);
  t.equal(inspectRuntime.status, 42, "docker run exits with the container's code");
  t.equal(status('exit-code'), 'exited 42', 'docker inspect reports the code of a process that exited on its own');
  t.equal(d.docker(['rm', 'exit-code']).status, 0);
});

t.test('docker run -d, ps, inspect, logs, top, stats', { skip }, async (t) => {
  const id = d
    .docker(['run', '-d', '--name', 'web', ...R, d.image, 'sh', '-c', 'echo started; exec sleep 1000'])
    .stdout.trim();
  t.match(id, /^[0-9a-f]{64}$/);
  t.match(d.docker(['ps']).stdout, /\bweb\n/, 'docker ps lists it');
  t.equal(d.docker(['inspect', '-f', '{{.HostConfig.Runtime}}', 'web']).stdout.trim(), 'tsrunc');
  t.equal(status('web'), 'running 0');
  const pid = Number(d.docker(['inspect', '-f', '{{.State.Pid}}', 'web']).stdout);
  t.ok(pid > 0 && fs.existsSync(`/proc/${pid}`), "inspect names the live init pid (from tsrunc's pid file)");
  // dockerd 20.10 gives every runc-type runtime the root <exec-root>/runtime-runc.
  const record = JSON.parse(
    fs.readFileSync(path.join(d.execRoot, 'runtime-runc', 'moby', id, 'state.json'), 'utf8'),
  ) as { formatVersion?: number; initPid?: number };
  t.match(record, { formatVersion: 1, initPid: pid }, 'tsrunc (its state format) created the container');
  t.ok(await pollUntil(() => d.docker(['logs', 'web']).stdout === 'started\n'), 'docker logs shows the output');
  const top = d.docker(['top', 'web']);
  t.equal(top.status, 0, top.stderr);
  t.match(
    top.stdout,
    new RegExp(`\\n\\S+\\s+${pid}\\s+.*sleep 1000`),
    'docker top lists the init (tsrunc ps --format json)',
  );
  const stats = d.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', 'web']);
  t.equal(stats.status, 0, stats.stderr);
  t.match(stats.stdout, /^web 1 \d/, 'docker stats reads the cgroup tsrunc made');
});

t.test('docker exec, with and without -t', { skip }, async (t) => {
  const ex = d.docker(['exec', 'web', 'sh', '-c', 'echo in-exec; cat /proc/1/cmdline; exit 3']);
  t.equal(ex.status, 3, "the exec's exit code");
  t.equal(ex.stdout, 'in-exec\nsleep\u00001000\u0000');
  const tty = d.docker(['exec', '-t', 'web', 'tty']);
  t.equal(tty.status, 0, tty.stderr);
  t.match(tty.stdout, /^\/dev\/pts\/\d+\r?\n$/, "exec -t gets a pty from tsrunc's console socket");
});

t.test('docker pause / unpause', { skip }, async (t) => {
  t.equal(d.docker(['pause', 'web']).status, 0);
  t.equal(status('web'), 'paused 0');
  const frozen = fs
    .readFileSync(cgroupFile(cgroupOf('web'), 'freezer', 'freezer.state', 'cgroup.freeze'), 'utf8')
    .trim();
  t.match(frozen, /^(FROZEN|1)$/, "the container's cgroup is frozen (v1 freezer.state, or v2 cgroup.freeze)");
  t.equal(d.docker(['unpause', 'web']).status, 0);
  t.equal(status('web'), 'running 0');
});

t.test('docker update --memory --cpus', { skip }, async (t) => {
  // docker sends memory.kernel too: tsrunc ignores it, as runc 1.1 does.
  const r = d.docker(['update', '--memory', '64m', '--memory-swap', '128m', '--cpus', '0.5', 'web']);
  t.equal(r.status, 0, r.stderr);
  t.equal(
    fs.readFileSync(cgroupFile(cgroupOf('web'), 'memory', 'memory.limit_in_bytes', 'memory.max'), 'utf8').trim(),
    String(64 * 1024 * 1024),
  );
  const quota = cgroupFile(cgroupOf('web'), 'cpu', 'cpu.cfs_quota_us', 'cpu.max');
  t.equal(fs.readFileSync(quota, 'utf8').trim(), quota.endsWith('cpu.max') ? '50000 100000' : '50000');
  t.match(
    d.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', 'web']).stdout,
    /^67108864 500000000/,
  );
});

t.test('docker kill delivers the signal; docker rm', { skip }, async (t) => {
  const r = d.docker([
    'run',
    '-d',
    '--name',
    'trapper',
    ...R,
    d.image,
    'sh',
    '-c',
    'trap "echo got-usr1; exit 9" USR1; while true; do sleep 0.1; done',
  ]);
  t.equal(r.status, 0, r.stderr);
  await trapped('trapper', 10);
  t.equal(d.docker(['kill', '-s', 'USR1', 'trapper']).status, 0);
  t.ok(await pollUntil(() => status('trapper') === 'exited 9'), `exited with the trap's code (${status('trapper')})`);
  t.ok(
    await pollUntil(() => d.docker(['logs', 'trapper']).stdout === 'got-usr1\n'),
    `docker logs: ${JSON.stringify(d.docker(['logs', 'trapper']).stdout)}`,
  );
  t.equal(d.docker(['rm', 'trapper']).status, 0);
  t.equal(d.docker(['rm', '-f', 'web']).status, 0, 'docker rm -f of a running container');
  t.same(fs.readdirSync(path.join(d.execRoot, 'runtime-runc', 'moby')), [], "tsrunc's state root is empty again");
});

t.test('docker stop: SIGTERM, then SIGKILL after the grace period', { skip }, async (t) => {
  d.docker([
    'run',
    '-d',
    '--name',
    'polite',
    ...R,
    d.image,
    'sh',
    '-c',
    'trap "echo got-term; exit 7" TERM; while true; do sleep 0.1; done',
  ]);
  await trapped('polite', 15);
  // (A grace period that a loaded machine's shell surely answers within; it exits at once when it works.)
  t.equal(d.docker(['stop', '-t', '30', 'polite']).status, 0);
  t.equal(status('polite'), 'exited 7', 'a process that handles SIGTERM exits with its own code');
  d.docker([
    'run',
    '-d',
    '--name',
    'stubborn',
    ...R,
    d.image,
    'sh',
    '-c',
    'trap "" TERM; while true; do sleep 0.1; done',
  ]);
  t.equal(d.docker(['stop', '-t', '1', 'stubborn']).status, 0);
  t.equal(status('stubborn'), 'exited 137', 'then SIGKILL');
  t.equal(d.docker(['rm', 'polite', 'stubborn']).status, 0);
});

t.test('docker restart', { skip }, async (t) => {
  d.docker(['run', '-d', '--name', 'again', ...R, d.image, 'sh', '-c', 'echo run; exec sleep 1000']);
  const before = Number(d.docker(['inspect', '-f', '{{.State.Pid}}', 'again']).stdout);
  const r = d.docker(['restart', '-t', '1', 'again']);
  t.equal(r.status, 0, r.stderr);
  const after = Number(d.docker(['inspect', '-f', '{{.State.Pid}}', 'again']).stdout);
  t.equal(status('again'), 'running 0');
  t.not(after, before, 'a new init');
  t.ok(await pollUntil(() => d.docker(['logs', 'again']).stdout === 'run\nrun\n'), 'the command ran twice');
  t.equal(d.docker(['rm', '-f', 'again']).status, 0);
});

t.test('docker run -t: a real pty', { skip }, async (t) => {
  const r = inPty([DOCKER_CLI, 'run', '--rm', '-t', ...R, d.image, 'sh', '-c', 'tty; stty -a'], {
    env: { ...process.env, DOCKER_HOST: `unix://${d.dir}/docker.sock`, DOCKER_CONFIG: `${d.dir}/cli` },
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\/dev\/pts\/\d+\n/, 'its stdout is a pty');
  t.match(r.stdout, /speed \d+ baud/, "stty reads the terminal's settings");
});

t.test("docker run of a missing executable shows tsrunc's error", { skip }, async (t) => {
  const r = d.docker(['run', '--rm', ...R, d.image, 'no-such-program']);
  t.equal(r.status, 127, 'docker maps "not found" to 127');
  t.match(
    r.stderr,
    /OCI runtime create failed: .*no-such-program.*executable file not found in \$PATH/,
    'the message from tsrunc --log reaches the user',
  );
  // The docker CLI reads runc's lower-case words in the message: 127 for a missing file, 126 for
  // one it may not execute (with capitalised errno text both were 125).
  const missing = d.docker(['run', '--rm', ...R, d.image, '/nonexistent']);
  t.equal(missing.status, 127, `a missing path: 127 (${missing.stderr.trim()})`);
  const denied = d.docker(['run', '--rm', ...R, d.image, '/etc/passwd']);
  t.equal(denied.status, 126, `a file without execute permission: 126 (${denied.stderr.trim()})`);
});

t.test(
  'HOME inside a docker container is /root (docker sends none; tsrunc sets it as runc does)',
  { skip },
  async (t) => {
    const r = d.docker(['run', '--rm', ...R, d.image, 'sh', '-c', 'echo $HOME']);
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, '/root\n');
  },
);

t.test('--default-runtime tsrunc from daemon.json', { skip }, async (t) => {
  // The daemon.json of docs/integration.md.
  const own = await startDockerd(t, {
    flags: [],
    daemonJson: { runtimes: { tsrunc: { path: TSRUNC } }, 'default-runtime': 'tsrunc' },
  });
  const r = own.docker(['run', '--name', 'dflt', '--network', 'none', own.image, 'sh', '-c', 'echo default-runtime']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'default-runtime\n');
  t.equal(own.docker(['inspect', '-f', '{{.HostConfig.Runtime}}', 'dflt']).stdout.trim(), 'tsrunc');
  t.equal(own.docker(['rm', 'dflt']).status, 0);
  t.same(await own.stop(), [], 'nothing left once the daemon stopped (seen before the sweep)');
});

t.test('nothing is left: no container, shim, mount, cgroup or daemon', { skip }, async (t) => {
  t.equal(d.docker(['ps', '-aq']).stdout, '', 'no container');
  t.same(await d.stop(), [], 'seen before the sweep that would remove them');
});
