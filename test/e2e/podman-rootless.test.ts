// podman rootless on tsrunc (issue 16): an ordinary user the test makes, with subordinate ids,
// runs podman with tsrunc as its OCI runtime. podman re-executes itself in a user namespace of
// the user's ids (newuidmap/newgidmap: root in it is the user, 1..N its subordinate ids) and
// conmon runs tsrunc there, as root of that namespace, with XDG_RUNTIME_DIR and no USER, and
// without --root: tsrunc's default root is then $XDG_RUNTIME_DIR/tsrunc, as runc's is
// $XDG_RUNTIME_DIR/runc. The containers share podman's user namespace (the config has no user
// namespace of its own, so tsrunc binds the devices instead of making them), and on a cgroup v1
// or hybrid host podman gives no cgroupsPath and no limits: they run without a cgroup.
//
// The user's podman configuration is where a user keeps it, ~/.config/containers: containers.conf
// (tsrunc named as the runtime, cgroupfs, the file events backend, no network — neither
// slirp4netns nor passt is installed here) and storage.conf (vfs, graph root and run root in a
// private directory of the user's). The image is the busybox OCI archive, loaded with `podman
// load`. Everything goes with the user in teardown: its processes (podman's pause process, which
// holds the user namespace, among them), home, runtime directory and storage.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { haveCommand, mountsUnder } from '../helpers/clients';
import { busyboxRootfs } from '../helpers/container';
import { waitForHandler } from '../helpers/host';
import { buildOciArchive } from '../helpers/oci-image';
import { pollUntil, type RunResult } from '../helpers/tsrunc';
import { ordinaryUser, tsruncForUsers, userDir, type OrdinaryUser } from '../helpers/users';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (makes an ordinary user with subordinate ids)'
    : !haveCommand('podman')
      ? 'podman is not installed (scripts/setup.sh installs it)'
      : spawnSync('newuidmap', ['--help']).error !== undefined
        ? 'needs newuidmap (the uidmap package: scripts/setup.sh installs it)'
        : false;

const IMAGE = 'localhost/tsrunc-busybox:latest';

let user: OrdinaryUser;
/** The user's private directory: podman's storage (graph root, run root, tmp) and the image archive. */
let dir: string;
let tsrunc: string;

/** podman as the user, with the configuration in its home. */
function podman(args: string[], timeoutMs = 120_000): RunResult {
  return user.run('podman', args, { env: user.env(), timeoutMs });
}

function status(name: string): string {
  return podman(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]).stdout.trim();
}

/** tsrunc's state root for the user: podman passes no --root, so it is tsrunc's default. */
function stateRoot(): string {
  return path.join(user.runtimeDir, 'tsrunc');
}

function stateEntries(): string[] {
  return fs.existsSync(stateRoot()) ? fs.readdirSync(stateRoot()) : [];
}

/**
 * podman's pause process, which holds the user namespace podman re-executes itself in (its pid
 * in pause.pid of the engine's tmp_dir; podman's default tmp_dir is $XDG_RUNTIME_DIR/libpod/tmp).
 */
function pausePid(): number | undefined {
  for (const tmp of [path.join(dir, 'tmp'), path.join(user.runtimeDir, 'libpod', 'tmp')]) {
    try {
      return Number(fs.readFileSync(path.join(tmp, 'pause.pid'), 'utf8').trim());
    } catch {
      // not there
    }
  }
  return undefined;
}

/** The user's live processes other than podman's pause process (a zombie left to be reaped is not one). */
function userProcesses(): string[] {
  const pause = pausePid();
  const r = spawnSync('ps', ['-o', 'pid=,stat=,args=', '-U', String(user.uid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => {
    const [pid, stat] = l.trim().split(/\s+/);
    return l.trim() !== '' && stat?.startsWith('Z') !== true && Number(pid) !== pause;
  });
}

/** Writes `text` to `file` in the user's home, the user's (as are the directories made for it). */
function writeUserFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  for (let d = path.dirname(file); d.startsWith(`${user.home}/`); d = path.dirname(d))
    fs.chownSync(d, user.uid, user.gid);
  fs.writeFileSync(file, text);
  fs.chownSync(file, user.uid, user.gid);
}

t.before(() => {
  if (skip !== false) return;
  user = ordinaryUser(t, { subIds: true });
  dir = userDir(t, user, 'tsrunc-podman-rootless-');
  tsrunc = tsruncForUsers();
  writeUserFile(
    path.join(user.home, '.config', 'containers', 'containers.conf'),
    [
      '[containers]',
      'netns = "none"',
      '',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `tmp_dir = "${dir}/tmp"`,
      'runtime = "tsrunc"',
      'runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "tsrunc"]',
      '',
      '[engine.runtimes]',
      `tsrunc = ["${tsrunc}"]`,
      '',
    ].join('\n'),
  );
  writeUserFile(
    path.join(user.home, '.config', 'containers', 'storage.conf'),
    ['[storage]', 'driver = "vfs"', `graphroot = "${dir}/storage"`, `runroot = "${dir}/run"`, ''].join('\n'),
  );
  // Torn down before the user and its directory go (teardowns run last first): the containers,
  // then every process of the user, so that nothing holds the storage being removed.
  t.teardown(() => {
    try {
      podman(['rm', '-af', '-t', '0']);
    } catch {
      // the user is gone already: nothing of its to remove
    }
    for (let i = 0; i < 20 && spawnSync('pkill', ['-KILL', '-U', String(user.uid)]).status === 0; i++)
      spawnSync('sleep', ['0.1']);
  });
  const work = path.join(dir, 'image');
  fs.mkdirSync(work, { mode: 0o755 });
  const archive = buildOciArchive(busyboxRootfs(t), work, IMAGE);
  fs.chmodSync(archive, 0o644);
  const loaded = podman(['load', '-i', archive]);
  if (loaded.status !== 0) throw new Error(`podman load as ${user.name}: ${loaded.stderr}`);
});

t.test('podman info: rootless, in the user namespace of its subordinate ids, with tsrunc', { skip }, async (t) => {
  const r = podman(['info', '--format', 'json']);
  t.equal(r.status, 0, 'podman info', { stderr: r.stderr });
  const info = JSON.parse(r.stdout) as {
    host: {
      security: { rootless: boolean };
      ociRuntime: { name: string; path: string };
      cgroupManager: string;
      eventLogger: string;
      idMappings: { uidmap: { container_id: number; host_id: number; size: number }[] };
    };
    store: { graphDriverName: string; graphRoot: string };
  };
  t.equal(info.host.security.rootless, true, 'podman runs rootless');
  t.match(info.host.ociRuntime, { name: 'tsrunc', path: tsrunc }, 'its runtime is tsrunc');
  t.equal(info.host.cgroupManager, 'cgroupfs', 'the cgroupfs manager (no systemd here)');
  t.equal(info.host.eventLogger, 'file', 'the file events backend');
  t.equal(info.store.graphDriverName, 'vfs', 'vfs storage');
  t.equal(info.store.graphRoot, path.join(dir, 'storage'), "the storage is in the user's private directory");
  t.same(
    info.host.idMappings.uidmap[0],
    { container_id: 0, host_id: user.uid, size: 1 },
    'root in its user namespace is the user',
  );
  t.ok(
    info.host.idMappings.uidmap.some((m) => m.host_id === user.subId && m.size === 65536),
    'and its subordinate ids are mapped (newuidmap)',
  );
  t.match(podman(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout, `${IMAGE}\n`, 'the image is loaded');
});

t.test('podman run --rm: output and exit status', { skip }, async (t) => {
  const r = podman([
    'run',
    '--rm',
    IMAGE,
    'sh',
    '-c',
    'echo hello from rootless podman; id -u; cat /proc/self/uid_map; for d in null zero urandom; do test -c /dev/$d && echo /dev/$d; done',
  ]);
  t.equal(r.status, 0, 'podman run --rm exits 0', { stderr: r.stderr });
  const [hello, uid, ...rest] = r.stdout.trim().split('\n');
  t.equal(hello, 'hello from rootless podman', "the container's output");
  t.equal(uid, '0', 'root in the container');
  t.same(rest[0]?.trim().split(/\s+/), ['0', String(user.uid), '1'], 'which is the user on the host');
  t.ok(
    rest.some((l) => l.trim().split(/\s+/)[1] === String(user.subId)),
    "the container shares podman's user namespace, subordinate ids included",
  );
  t.same(rest.slice(-3), ['/dev/null', '/dev/zero', '/dev/urandom'], 'its devices (bound: none can be made there)');
  const code = podman(['run', '--rm', IMAGE, 'sh', '-c', 'exit 3']);
  t.equal(code.status, 3, "podman run exits with the container's code");
  t.equal(podman(['ps', '-aq']).stdout, '', '--rm removed both');
  t.same(stateEntries(), [], "and tsrunc's state of both is gone");
});

t.test('podman run -d, exec, logs, stop, rm', { skip }, async (t) => {
  const r = podman([
    'run',
    '-d',
    '--name',
    'web',
    IMAGE,
    'sh',
    '-c',
    'trap "echo got-term; exit 7" TERM; echo started; while true; do sleep 0.1; done',
  ]);
  t.equal(r.status, 0, 'podman run -d exits 0', { stderr: r.stderr });
  const id = r.stdout.trim();
  t.equal(status('web'), 'running 0', 'it runs');
  t.equal(podman(['inspect', '-f', '{{.OCIRuntime}}', 'web']).stdout.trim(), 'tsrunc', 'podman ran it with tsrunc');
  const record = path.join(stateRoot(), id, 'state.json');
  t.ok(fs.existsSync(record), "tsrunc's record of it is in its default root, $XDG_RUNTIME_DIR/tsrunc");
  const pid = Number(podman(['inspect', '-f', '{{.State.Pid}}', 'web']).stdout);
  const state = JSON.parse(fs.readFileSync(record, 'utf8')) as { initPid: number; cgroups: Record<string, string> };
  t.equal(state.initPid, pid, "inspect names the init tsrunc started (from tsrunc's pid file)");
  t.same(state.cgroups, {}, 'no cgroup: podman asks for none on this host, and the user could make none');
  t.equal(fs.statSync(`/proc/${pid}`).uid, user.uid, 'the container runs as the user on the host');
  const list = user.run(tsrunc, ['list', '-q']);
  t.equal(list.stdout, `${id}\n`, 'the user sees it with `tsrunc list` (the same default root)');

  const ex = podman(['exec', 'web', 'sh', '-c', 'echo in-exec; exit 3']);
  t.equal(ex.status, 3, "podman exec exits with the process's code");
  t.equal(ex.stdout, 'in-exec\n', 'and shows its output');
  t.ok(await pollUntil(() => podman(['logs', 'web']).stdout === 'started\n'), 'podman logs shows the output');

  await waitForHandler(pid, 15);
  t.equal(podman(['stop', '-t', '30', 'web']).status, 0, 'podman stop');
  t.equal(status('web'), 'exited 7', 'the init got SIGTERM and exited with its own code');
  t.equal(podman(['logs', 'web']).stdout, 'started\ngot-term\n', "podman logs shows the trap's output too");

  t.equal(podman(['rm', 'web']).status, 0, 'podman rm');
  t.equal(podman(['ps', '-aq']).stdout, '', 'no container is left');
  t.notOk(fs.existsSync(path.join(stateRoot(), id)), "tsrunc's state is gone");
});

t.test("podman run of a missing executable shows tsrunc's error", { skip }, async (t) => {
  const r = podman(['run', '--rm', IMAGE, 'no-such-program']);
  t.equal(r.status, 127, 'podman maps "not found" to 127');
  t.match(
    r.stderr,
    /^Error: tsrunc: [^\n]*no-such-program[^\n]*executable file not found in \$PATH/m,
    "tsrunc's message reaches the user (runtime_supports_json: plain, not a log line)",
  );
});

t.test('nothing is left: no container, no process of the user, no state, no mount', { skip }, async (t) => {
  t.equal(podman(['ps', '-aq']).stdout, '', 'podman ps -a lists no container');
  const pause = pausePid();
  if (pause !== undefined && fs.existsSync(`/proc/${pause}`))
    t.equal(
      fs.readFileSync(`/proc/${pause}/comm`, 'utf8'),
      'podman pause\n',
      "the one left out is podman's pause process",
    );
  await pollUntil(() => userProcesses().length === 0, 30_000);
  t.same(userProcesses(), [], "no process of the user but podman's pause process (no conmon, no container)");
  t.same(stateEntries(), [], "nothing in tsrunc's root");
  t.same([...mountsUnder(dir), ...mountsUnder(user.home)], [], "no mount in the host's view");
});
