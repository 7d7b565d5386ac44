// Rootless with a delegated cgroup, under a real systemd (PID 1; scripts/v2-guest.sh --systemd,
// as .ci/run runs it): an ordinary user's systemd manager (user@UID.service) owns a subtree of
// the cgroup v2 tree, and tsrunc run from inside it (a service of that manager, as a user's
// login session would be) gives a container its limits there — with the cgroupfs driver (a
// cgroup beside the caller's, as runc's fs2 places it) and with --systemd-cgroup (a scope of the
// user's manager, over the user's bus). The cgroup commands work on it, and delete removes it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { rootlessBundle, tsruncForUsers, type Rootless } from '../helpers/users';
import type { RunResult } from '../helpers/tsrunc';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (makes ordinary users)'
    : !fs.existsSync('/run/systemd/system')
      ? 'systemd is not PID 1 here (run it in scripts/v2-guest.sh --systemd, as .ci/run does)'
      : fs.existsSync('/sys/fs/cgroup/cgroup.controllers')
        ? false
        : 'needs a pure cgroup v2 host (systemd delegates no cgroup v1 to users)';

const LIMIT = 64 * 1024 * 1024;

/** A user with a running user manager, and a bundle of theirs with a memory and a pids limit. */
function delegated(t: Test): Rootless & { manager: string; inManager(args: string[]): RunResult } {
  const r = rootlessBundle(t, { systemdUser: true });
  const manager = `/sys/fs/cgroup/user.slice/user-${r.user.uid}.slice/user@${r.user.uid}.service`;
  r.spec.linux!.resources = { memory: { limit: LIMIT }, pids: { limit: 64 } };
  r.writeConfig();
  const bus = `unix:path=${r.user.runtimeDir}/bus`;
  const tsrunc = tsruncForUsers();
  return {
    ...r,
    manager,
    // A service of the user's manager runs tsrunc: its cgroup is in the delegated subtree.
    inManager: (args) =>
      r.user.run(
        'systemd-run',
        [
          '--user',
          '--quiet',
          '--wait',
          '--pipe',
          '--collect',
          `--working-directory=${r.bundle}`,
          `--setenv=XDG_RUNTIME_DIR=${r.user.runtimeDir}`,
          `--setenv=DBUS_SESSION_BUS_ADDRESS=${bus}`,
          '--',
          tsrunc,
          ...args,
        ],
        { env: r.user.env({ DBUS_SESSION_BUS_ADDRESS: bus }), input: '' },
      ),
  };
}

function cgroupOf(pid: number): string {
  const line = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return path.join('/sys/fs/cgroup', line?.slice(3) ?? '/');
}

function state(r: Rootless, id: string): { status: string; pid: number } | undefined {
  const s = r.tsrunc(['state', id]);
  return s.status === 0 ? (JSON.parse(s.stdout) as { status: string; pid: number }) : undefined;
}

async function commandsWork(t: Test, r: Rootless, id: string, extra: string[] = []): Promise<string> {
  const pid = state(r, id)?.pid ?? 0;
  const dir = cgroupOf(pid);
  t.equal(fs.readFileSync(path.join(dir, 'memory.max'), 'utf8').trim(), String(LIMIT), `memory.max in ${dir}`);
  t.equal(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim(), '64', 'pids.max');
  t.equal(fs.statSync(dir).uid, r.user.uid, "the cgroup is the user's");
  const ps = r.tsrunc([...extra, 'ps', '--format', 'json', id]);
  t.same(JSON.parse(ps.stdout || '[]'), [pid], 'ps lists the init', { stderr: ps.stderr });
  t.equal(r.tsrunc([...extra, 'pause', id]).status, 0, 'pause');
  t.equal(state(r, id)?.status, 'paused');
  t.equal(r.tsrunc([...extra, 'resume', id]).status, 0, 'resume');
  const up = r.tsrunc([...extra, 'update', '--memory', String(2 * LIMIT), id]);
  t.equal(up.status, 0, 'update', { stderr: up.stderr });
  t.equal(fs.readFileSync(path.join(dir, 'memory.max'), 'utf8').trim(), String(2 * LIMIT), 'update set memory.max');
  const stats = r.tsrunc([...extra, 'events', '--stats', id]);
  t.equal(stats.status, 0, 'events --stats', { stderr: stats.stderr });
  t.ok(
    (JSON.parse(stats.stdout) as { data: { memory: { usage: { limit: number } } } }).data.memory.usage.limit > 0,
    'with memory statistics',
  );
  t.equal(r.tsrunc([...extra, 'kill', '--all', id, 'KILL']).status, 0, 'kill --all');
  for (let i = 0; i < 100 && state(r, id)?.status !== 'stopped'; i++) await new Promise((res) => setTimeout(res, 50));
  const del = r.tsrunc([...extra, 'delete', id]);
  t.equal(del.status, 0, 'delete', { stderr: del.stderr });
  t.notOk(fs.existsSync(dir), 'the cgroup is gone');
  return dir;
}

t.test('cgroupfs: the container gets its limits in the cgroup delegated to the user', { skip }, async (t) => {
  const r = delegated(t);
  const id = `rd${process.pid}-fs`;
  const run = r.inManager(['run', '-d', id]);
  t.equal(run.status, 0, 'run -d (in a service of the user manager) exits 0', { stderr: run.stderr + run.stdout });
  const dir = await commandsWork(t, r, id);
  t.match(dir, new RegExp(`^${r.manager}/app\\.slice/${id}$`), "beside the caller's service, as runc's fs2 places it");
});

t.test('--systemd-cgroup: a scope of the user manager, over the user bus, with the limits', { skip }, async (t) => {
  const r = delegated(t);
  const id = `rd${process.pid}-sd`;
  const run = r.inManager(['--systemd-cgroup', 'run', '-d', id]);
  t.equal(run.status, 0, 'run -d exits 0', { stderr: run.stderr + run.stdout });
  const pid = state(r, id)?.pid ?? 0;
  t.equal(cgroupOf(pid), `${r.manager}/user.slice/runc-${id}.scope`, "runc-ID.scope in the user manager's user.slice");
  const show = spawnSync(
    'systemctl',
    ['--user', `--machine=${r.user.name}@.host`, 'show', '-p', 'MemoryMax', '-p', 'TasksMax', `runc-${id}.scope`],
    { encoding: 'utf8' },
  );
  if (show.status === 0) t.match(show.stdout, `MemoryMax=${LIMIT}`, 'the limit is a property of the unit');
  await commandsWork(t, r, id, ['--systemd-cgroup']);
  const gone = spawnSync('systemctl', ['--user', `--machine=${r.user.name}@.host`, 'is-active', `runc-${id}.scope`], {
    encoding: 'utf8',
  });
  t.notMatch(gone.stdout, /^active/m, 'the unit is gone after delete');
});
