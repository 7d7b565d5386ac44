// podman on tsrunc: podman → conmon → tsrunc, with `--runtime bin/tsrunc --cgroup-manager
// cgroupfs --events-backend file`, private storage, and `--rootfs` of a busybox tree.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { cgroupFile } from '../helpers/cgroup-tree';
import { busyboxRootfs, rootSkipReason } from '../helpers/container';
import { waitForHandler } from '../helpers/host';
import { haveCommand, inPty, podmanSetup, type Podman } from '../helpers/clients';
import { TSRUNC, pollUntil, tempDir } from '../helpers/tsrunc';

const skip =
  rootSkipReason() || (haveCommand('podman') ? false : 'podman is not installed (scripts/setup.sh installs it)');

let p: Podman;
let rootfs: string;
let run: string[];

function status(name: string): string {
  return p.podman(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]).stdout.trim();
}

/** Resolves once the init of container `name` catches `signo`: its shell has run its trap (until then pid 1 ignores the signal). */
async function trapped(name: string, signo: number): Promise<void> {
  await waitForHandler(Number(p.podman(['inspect', '-f', '{{.State.Pid}}', name]).stdout), signo);
}

/** The cgroup of container `name` (below the hierarchy roots). */
function cgroupOf(name: string): string {
  return `${p.cgroupParent}/libpod-${p.podman(['inspect', '-f', '{{.Id}}', name]).stdout.trim()}`;
}

t.before(() => {
  if (skip !== false) return;
  p = podmanSetup(t);
  // podman creates mount points (/run/.containerenv, /etc/hosts ...) in the rootfs: a copy of its own.
  rootfs = path.join(tempDir(t, 'tsrunc-podman-rootfs'), 'rootfs');
  execFileSync('cp', ['-a', busyboxRootfs(t), rootfs]);
  run = ['--runtime', TSRUNC, ...p.runFlags];
});

t.test('podman run: output and exit status', { skip }, async (t) => {
  const r = p.podman(['run', '--rm', ...run, '--rootfs', rootfs, 'sh', '-c', 'echo hello from podman; exit 0']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'hello from podman\n');
  const code = p.podman(['run', '--name', 'exit-code', ...run, '--rootfs', rootfs, 'sh', '-c', 'exit 42']);
  t.equal(code.status, 42, "podman run exits with the container's code");
  t.equal(status('exit-code'), 'exited 42', 'podman inspect reports the code of a process that exited on its own');
  t.equal(p.podman(['rm', 'exit-code']).status, 0);
});

t.test('podman run --read-only and --tmpfs (podman adds tmpcopyup to every tmpfs it makes)', { skip }, async (t) => {
  const ro = p.podman([
    'run',
    '--rm',
    '--read-only',
    ...run,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'touch /x 2>/dev/null || echo root-ro; touch /tmp/x /run/x /var/tmp/x && echo tmp-rw',
  ]);
  t.equal(ro.status, 0, ro.stderr);
  t.equal(ro.stdout, 'root-ro\ntmp-rw\n', '--read-only: a read-only root with writable /tmp, /run, /var/tmp');
  const tmpfs = p.podman([
    'run',
    '--rm',
    '--tmpfs',
    '/etc',
    ...run,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'grep -c root /etc/passwd; grep " /etc " /proc/self/mountinfo | sed "s/.* - //" | cut -d" " -f1',
  ]);
  t.equal(tmpfs.status, 0, tmpfs.stderr);
  t.equal(tmpfs.stdout, '1\ntmpfs\n', "--tmpfs /etc: a tmpfs that holds the image's /etc (tmpcopyup)");
});

t.test('podman run -d, ps, inspect, logs, top, stats', { skip }, async (t) => {
  const r = p.podman([
    'run',
    '-d',
    '--name',
    'web',
    ...run,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'echo started; exec sleep 1000',
  ]);
  t.equal(r.status, 0, r.stderr);
  t.match(p.podman(['ps']).stdout, /\bweb\n/, 'podman ps lists it');
  t.equal(p.podman(['inspect', '-f', '{{.OCIRuntime}}', 'web']).stdout.trim(), TSRUNC, 'podman ran it with tsrunc');
  t.equal(status('web'), 'running 0');
  const pid = Number(p.podman(['inspect', '-f', '{{.State.Pid}}', 'web']).stdout);
  t.ok(
    pid > 0 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u00001000\u0000',
    "inspect names the live init pid (from tsrunc's pid file)",
  );
  t.ok(await pollUntil(() => p.podman(['logs', 'web']).stdout === 'started\n'), 'podman logs shows the output');
  const top = p.podman(['top', 'web']);
  t.equal(top.status, 0, top.stderr);
  t.match(top.stdout, /sleep 1000/, 'podman top lists the init');
  const stats = p.podman(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'web']);
  t.equal(stats.status, 0, stats.stderr);
  t.match(stats.stdout, /^web 1\n/, 'podman stats reads the cgroup tsrunc made');
});

t.test('podman exec, with and without -t', { skip }, async (t) => {
  const ex = p.podman(['exec', 'web', 'sh', '-c', 'echo in-exec; exit 3']);
  t.equal(ex.status, 3, "the exec's exit code");
  t.equal(ex.stdout, 'in-exec\n');
  const tty = p.podman(['exec', '-t', 'web', 'tty']);
  t.equal(tty.status, 0, tty.stderr);
  t.match(tty.stdout, /^\/dev\/pts\/\d+\r?\n$/, "exec -t gets a pty from tsrunc's console socket");
});

t.test('podman pause / unpause', { skip }, async (t) => {
  t.equal(p.podman(['pause', 'web']).status, 0);
  t.equal(status('web'), 'paused 0');
  const frozen = fs
    .readFileSync(cgroupFile(cgroupOf('web'), 'freezer', 'freezer.state', 'cgroup.freeze'), 'utf8')
    .trim();
  t.match(frozen, /^(FROZEN|1)$/, "the container's cgroup is frozen (v1 freezer.state, or v2 cgroup.freeze)");
  t.equal(p.podman(['unpause', 'web']).status, 0);
  t.equal(status('web'), 'running 0');
});

t.test('podman update --memory --cpus', { skip }, async (t) => {
  const r = p.podman(['update', '--memory', '64m', '--cpus', '0.5', 'web']);
  t.equal(r.status, 0, r.stderr);
  t.equal(
    fs.readFileSync(cgroupFile(cgroupOf('web'), 'memory', 'memory.limit_in_bytes', 'memory.max'), 'utf8').trim(),
    String(64 * 1024 * 1024),
  );
  const quota = cgroupFile(cgroupOf('web'), 'cpu', 'cpu.cfs_quota_us', 'cpu.max');
  if (quota.endsWith('cpu.max')) t.match(fs.readFileSync(quota, 'utf8'), /^50000 100000/);
  else t.equal(fs.readFileSync(quota, 'utf8').trim(), '50000');
});

t.test('podman kill delivers the signal; podman rm', { skip }, async (t) => {
  const r = p.podman([
    'run',
    '-d',
    '--name',
    'trapper',
    ...run,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'trap "echo got-usr1; exit 9" USR1; while true; do sleep 0.1; done',
  ]);
  t.equal(r.status, 0, r.stderr);
  await trapped('trapper', 10);
  t.equal(p.podman(['kill', '-s', 'USR1', 'trapper']).status, 0);
  t.ok(await pollUntil(() => status('trapper') === 'exited 9'), `exited with the trap's code (${status('trapper')})`);
  t.ok(
    await pollUntil(() => p.podman(['logs', 'trapper']).stdout === 'got-usr1\n'),
    `podman logs: ${JSON.stringify(p.podman(['logs', 'trapper']).stdout)}`,
  );
  t.equal(p.podman(['rm', 'trapper']).status, 0);
  t.equal(p.podman(['rm', '-f', '-t', '0', 'web']).status, 0, 'podman rm -f of a running container');
});

t.test('podman stop: SIGTERM, then SIGKILL after the grace period', { skip }, async (t) => {
  p.podman([
    'run',
    '-d',
    '--name',
    'polite',
    ...run,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'trap "echo got-term; exit 7" TERM; while true; do sleep 0.1; done',
  ]);
  await trapped('polite', 15);
  // (A grace period that a loaded machine's shell surely answers within; it exits at once when it works.)
  t.equal(p.podman(['stop', '-t', '30', 'polite']).status, 0);
  t.equal(status('polite'), 'exited 7', 'a process that handles SIGTERM exits with its own code');
  p.podman([
    'run',
    '-d',
    '--name',
    'stubborn',
    ...run,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'trap "" TERM; while true; do sleep 0.1; done',
  ]);
  t.equal(p.podman(['stop', '-t', '1', 'stubborn']).status, 0);
  t.equal(status('stubborn'), 'exited 137', 'then SIGKILL');
  t.equal(p.podman(['rm', 'polite', 'stubborn']).status, 0);
});

t.test('podman restart', { skip }, async (t) => {
  p.podman(['run', '-d', '--name', 'again', ...run, '--rootfs', rootfs, 'sh', '-c', 'echo run; exec sleep 1000']);
  const before = Number(p.podman(['inspect', '-f', '{{.State.Pid}}', 'again']).stdout);
  const r = p.podman(['restart', '-t', '1', 'again']);
  t.equal(r.status, 0, r.stderr);
  t.equal(status('again'), 'running 0');
  t.not(Number(p.podman(['inspect', '-f', '{{.State.Pid}}', 'again']).stdout), before, 'a new init');
  t.equal(p.podman(['rm', '-f', '-t', '0', 'again']).status, 0);
});

t.test('podman run -t: a real pty', { skip }, async (t) => {
  const r = inPty([
    'podman',
    ...p.globals,
    'run',
    '--rm',
    '-t',
    ...run,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'tty; stty -a',
  ]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\/dev\/pts\/\d+\n/, 'its stdout is a pty');
  t.match(r.stdout, /speed \d+ baud/, "stty reads the terminal's settings");
});

t.test("podman run of a missing executable shows tsrunc's error", { skip }, async (t) => {
  const r = p.podman(['run', '--rm', ...run, '--rootfs', rootfs, 'no-such-program']);
  t.equal(r.status, 127, 'podman maps "not found" to 127');
  t.match(
    r.stderr,
    /no-such-program.*executable file not found in \$PATH/,
    'the message tsrunc printed reaches the user',
  );
});

t.test('the runtime named in containers.conf', { skip }, async (t) => {
  // The containers.conf of docs/integration.md.
  const own = podmanSetup(
    t,
    () =>
      `[engine]\nruntime = "tsrunc"\nruntime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "tsrunc"]\n\n[engine.runtimes]\ntsrunc = ["${TSRUNC}"]\n`,
  );
  const r = own.podman([
    'run',
    '--name',
    'dflt',
    ...own.runFlags,
    '--rootfs',
    rootfs,
    'sh',
    '-c',
    'echo from-containers-conf',
  ]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'from-containers-conf\n');
  t.equal(own.podman(['inspect', '-f', '{{.OCIRuntime}}', 'dflt']).stdout.trim(), 'tsrunc');
  t.equal(own.podman(['rm', 'dflt']).status, 0);
  t.same(await own.stop(), [], 'nothing left (seen before the sweep)');
});

t.test(
  'runtime_supports_json in containers.conf: podman passes --log-format json to tsrunc and shows its message plain',
  { skip },
  async (t) => {
    // A wrapper named in containers.conf records the arguments podman (conmon) gives tsrunc.
    const dir = tempDir(t, 'tsrunc-podman-argv');
    const argvLog = path.join(dir, 'argv.log');
    const wrapper = path.join(dir, 'tsrunc-argv');
    fs.writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec '${TSRUNC}' "$@"\n`, {
      mode: 0o755,
    });
    for (const supportsJson of [false, true]) {
      fs.writeFileSync(argvLog, '');
      const json = supportsJson ? 'runtime_supports_json = ["tsrunc"]\n' : '';
      const own = podmanSetup(
        t,
        () => `[engine]\nruntime = "tsrunc"\n${json}\n[engine.runtimes]\ntsrunc = ["${wrapper}"]\n`,
      );
      const r = own.podman(['run', '--rm', ...own.runFlags, '--rootfs', rootfs, 'no-such-program']);
      t.equal(r.status, 127, `${supportsJson ? 'with' : 'without'} it: podman maps "not found" to 127`);
      const create =
        fs
          .readFileSync(argvLog, 'utf8')
          .split('\n')
          .find((l) => /(^| )create /.test(l)) ?? '';
      if (supportsJson) {
        t.match(
          create,
          /^--log-format=json --log \S+ create /,
          'podman passes --log-format=json (and --log) to tsrunc create',
        );
        t.match(
          r.stderr,
          /^Error: tsrunc: [^\n"]*no-such-program[^\n]*executable file not found in \$PATH/m,
          "and shows tsrunc's message alone",
        );
        t.notMatch(r.stderr, /level=error/, 'not a log line');
      } else {
        t.match(create, /^create /, 'without it, podman passes no --log-format');
        t.match(
          r.stderr,
          /^Error: tsrunc: time="[^"]+" level=error msg="[^\n]*no-such-program/m,
          "and shows tsrunc's text log line as the message",
        );
      }
      t.same(await own.stop(), [], 'nothing left (seen before the sweep)');
    }
  },
);

t.test('nothing is left: no container, conmon, mount or cgroup', { skip }, async (t) => {
  t.equal(p.podman(['ps', '-aq']).stdout, '', 'no container');
  t.same(await p.stop(), [], 'seen before the sweep that would remove them');
});
