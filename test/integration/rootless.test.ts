// Rootless: tsrunc run by an ordinary user the test makes (and removes) — the whole lifecycle
// with the state in $XDG_RUNTIME_DIR/tsrunc, a single-id and a subordinate-range mapping
// (newuidmap/newgidmap), hooks, seccomp and the console socket; on a host where the user has no
// cgroup of its own, a config with limits refused naming the limit and leaving nothing, and the
// cgroup commands refused clearly; what one user may not do to another's containers; and the
// host's cgroup mounts under /sys read-only to the container even when it removes what covers
// them (CVE-2023-25809's class). The delegated cgroup case runs in the systemd guest
// (test/integration/rootless-delegated.test.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { startReceiver } from '../helpers/console-receiver';
import {
  ordinaryUser,
  rootlessBundle,
  tsruncForUsers,
  userDir,
  type OrdinaryUser,
  type Rootless,
} from '../helpers/users';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (makes ordinary users)'
    : spawnSync('newuidmap', ['--help']).error !== undefined
      ? 'needs newuidmap (the uidmap package: scripts/setup.sh installs it)'
      : false;

let ids = 0;

function nextId(): string {
  return `rl${process.pid}-${++ids}`;
}

function state(r: Rootless, id: string): { status: string; pid: number; owner?: string } | undefined {
  const s = r.tsrunc(['state', id]);
  return s.status === 0 ? (JSON.parse(s.stdout) as { status: string; pid: number; owner?: string }) : undefined;
}

/** The user's live processes (a zombie left to the test runner to reap is not one). */
function userProcesses(user: OrdinaryUser): string[] {
  const r = spawnSync('ps', ['-o', 'pid=,stat=,args=', '-U', String(user.uid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && l.trim().split(/\s+/)[1]?.startsWith('Z') !== true);
}

/** The containers left in the user's root (none when it was never made). */
function rootEntries(r: Rootless): string[] {
  const root = path.join(r.user.runtimeDir, 'tsrunc');
  return fs.existsSync(root) ? fs.readdirSync(root) : [];
}

t.test(
  'as an ordinary user: create, start, state, exec, kill, delete, with the state in $XDG_RUNTIME_DIR/tsrunc',
  { skip },
  async (t) => {
    const r = rootlessBundle(t);
    const id = nextId();
    const created = r.tsrunc(['create', id]);
    t.equal(created.status, 0, 'create exits 0', { stderr: created.stderr });
    const root = path.join(r.user.runtimeDir, 'tsrunc');
    const st = fs.statSync(root);
    t.equal(st.uid, r.user.uid, "the default --root is $XDG_RUNTIME_DIR/tsrunc, the user's");
    t.equal(st.mode & 0o777, 0o700, 'and 0700');
    t.ok(fs.existsSync(path.join(root, id, 'state.json')), 'the container is recorded there');
    t.equal(state(r, id)?.status, 'created');
    t.equal(state(r, id)?.owner, r.user.name, 'state names the user as the owner');
    // Its init waits for start before its seccomp filter is loaded, with the user's host uid as
    // every process of the container has: it must not be traceable (a helper ran a filtered
    // syscall through it when it was), and so exec cannot join it yet (runc's can: it is dumpable).
    const pid0 = state(r, id)?.pid ?? 0;
    const seize = r.user.run('python3', [
      '-c',
      `import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); rc = libc.ptrace(0x4206, ${pid0}, 0, 0); print(rc, os.strerror(ctypes.get_errno()))`,
    ]);
    t.match(
      seize.stdout,
      /^-1 Operation not permitted/,
      `the waiting init cannot be traced by the user's uid: ${seize.stdout}${seize.stderr}`,
    );
    const early = r.tsrunc(['exec', id, 'id', '-u']);
    t.not(early.status, 0, 'exec into the created rootless container is refused');
    t.match(early.stderr, /cannot exec into a created rootless container before it starts/, 'saying why');
    const started = r.tsrunc(['start', id]);
    t.equal(started.status, 0, 'start exits 0', { stderr: started.stderr });
    t.equal(state(r, id)?.status, 'running');
    const e = r.tsrunc(['exec', id, 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; cat /proc/self/setgroups']);
    t.equal(e.status, 0, 'exec exits 0', { stderr: e.stderr });
    const [uid, gid, map, setgroups] = e.stdout.trim().split('\n');
    t.equal(uid, '0', 'root in the container');
    t.equal(gid, '0');
    t.same(map?.trim().split(/\s+/), ['0', String(r.user.uid), '1'], 'which is the user on the host, and no one else');
    t.equal(setgroups, 'deny', 'a single-id map denies setgroups (written without newgidmap)');
    const pid = state(r, id)?.pid ?? 0;
    t.equal(fs.statSync(`/proc/${pid}`).uid, r.user.uid, 'the container runs as the user on the host');
    const list = r.tsrunc(['list', '-q']);
    t.same(list.stdout.trim().split('\n'), [id], 'list shows it');
    t.equal(r.tsrunc(['kill', id, 'KILL']).status, 0, 'kill exits 0');
    for (let i = 0; i < 100 && state(r, id)?.status !== 'stopped'; i++) await new Promise((res) => setTimeout(res, 50));
    t.equal(state(r, id)?.status, 'stopped');
    const del = r.tsrunc(['delete', id]);
    t.equal(del.status, 0, 'delete exits 0', { stderr: del.stderr });
    t.same(fs.readdirSync(root), [], 'nothing of it is left in the root');
    t.same(userProcesses(r.user), [], 'no process of the user is left');
  },
);

t.test(
  "as an ordinary user: run gives the container's exit status, hooks run as the user, seccomp applies",
  { skip },
  async (t) => {
    const r = rootlessBundle(t);
    const hookOut = path.join(r.bundle, 'hook.out');
    r.spec.process!.args = ['sh', '-c', 'mkdir /tmp/denied 2>/dev/null && echo mkdir-allowed; exit 7'];
    r.spec.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `id -u > ${hookOut}`] }] };
    r.spec.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
    };
    r.writeConfig();
    const run = r.tsrunc(['run', nextId()]);
    t.equal(run.status, 7, "run exits with the container's status", { stderr: run.stderr });
    t.notMatch(run.stdout, /mkdir-allowed/, 'the seccomp filter denied mkdir');
    t.equal(fs.readFileSync(hookOut, 'utf8').trim(), String(r.user.uid), 'the prestart hook ran, as the user');
    t.same(rootEntries(r), [], 'run removed its container');
  },
);

t.test('as an ordinary user: a subordinate-range mapping goes through newuidmap and newgidmap', { skip }, async (t) => {
  const r = rootlessBundle(t, { subIds: true });
  const sub = r.user.subId as number;
  r.spec.linux!.uidMappings = [
    { containerID: 0, hostID: r.user.uid, size: 1 },
    { containerID: 1, hostID: sub, size: 65536 },
  ];
  r.spec.linux!.gidMappings = [
    { containerID: 0, hostID: r.user.gid, size: 1 },
    { containerID: 1, hostID: sub, size: 65536 },
  ];
  r.spec.process!.user = { uid: 1000, gid: 1000, additionalGids: [5, 100] };
  r.spec.process!.args = ['sh', '-c', 'id -u; id -G; cat /proc/self/uid_map; cat /proc/self/setgroups'];
  r.writeConfig();
  const run = r.tsrunc(['run', nextId()]);
  t.equal(run.status, 0, 'run exits 0', { stderr: run.stderr });
  const lines = run.stdout.trim().split('\n');
  t.equal(lines[0], '1000', 'the process runs as container uid 1000');
  t.same(lines[1]?.split(' ').sort(), ['100', '1000', '5'], 'with its supplementary groups (setgroups allowed)');
  t.same(lines[2]?.trim().split(/\s+/), ['0', String(r.user.uid), '1']);
  t.same(lines[3]?.trim().split(/\s+/), ['1', String(sub), '65536'], 'both ranges are mapped');
  t.equal(lines[4], 'allow');

  // A range the user was not given: newuidmap refuses, and the error says where ranges come from.
  r.spec.linux!.uidMappings = [
    { containerID: 0, hostID: r.user.uid, size: 1 },
    { containerID: 1, hostID: 10, size: 5 },
  ];
  r.writeConfig();
  const id = nextId();
  const bad = r.tsrunc(['run', id]);
  t.equal(bad.status, 1, 'a range not in /etc/subuid fails');
  t.match(bad.stderr, /\/linux\/uidMappings: newuidmap .* failed.*\/etc\/subuid/, 'naming the field and newuidmap');
  t.same(rootEntries(r), [], 'and leaves nothing');
  t.same(userProcesses(r.user), []);
});

t.test("as an ordinary user: the console socket gets a pty the container's root owns", { skip }, async (t) => {
  const r = rootlessBundle(t);
  const sock = path.join(r.bundle, 'console.sock');
  const outFile = path.join(r.bundle, 'console.out');
  const receiver = startReceiver(t, sock, 'id -u; tty; stat -c %u /dev/pts/0; exit 3\n', outFile, r.user);
  for (let i = 0; i < 600 && !fs.existsSync(sock); i++) await new Promise((res) => setTimeout(res, 50));
  r.spec.process!.terminal = true;
  r.spec.process!.args = ['sh'];
  r.writeConfig();
  const id = nextId();
  const created = r.tsrunc(['create', '--console-socket', sock, id]);
  t.equal(created.status, 0, 'create --console-socket exits 0', { stderr: created.stderr });
  t.equal(r.tsrunc(['start', id]).status, 0, 'start exits 0');
  t.ok(await receiver.closed(), 'the receiver saw the pty close');
  t.match(receiver.stderr.text, /received 1 fd\(s\)/);
  const out = fs.readFileSync(outFile, 'utf8').split(/\r?\n/);
  t.ok(out.includes('0'), `root in the container: ${out.join('|')}`);
  t.ok(out.includes('/dev/pts/0'), "the tty is the container's pts/0");
  t.equal(out[out.indexOf('/dev/pts/0') + 1], '0', "owned by the container's root (the user on the host)");
  for (let i = 0; i < 100 && state(r, id)?.status !== 'stopped'; i++) await new Promise((res) => setTimeout(res, 50));
  t.equal(r.tsrunc(['delete', id]).status, 0, 'delete exits 0');
  t.same(userProcesses(r.user), []);
});

/** The cgroup directories named `id` anywhere under /sys/fs/cgroup (what a create might have made). */
function cgroupDirsNamed(id: string): string[] {
  const r = spawnSync('find', ['/sys/fs/cgroup', '-xdev', '-maxdepth', '6', '-type', 'd', '-name', id], {
    encoding: 'utf8',
  });
  const found = r.stdout.split('\n').filter(Boolean);
  for (const mnt of fs.readdirSync('/sys/fs/cgroup')) {
    const r2 = spawnSync(
      'find',
      [path.join('/sys/fs/cgroup', mnt), '-xdev', '-maxdepth', '6', '-type', 'd', '-name', id],
      {
        encoding: 'utf8',
      },
    );
    found.push(...r2.stdout.split('\n').filter(Boolean));
  }
  return [...new Set(found)];
}

t.test('without a cgroup of its own: limits are refused naming them, and nothing is left', { skip }, async (t) => {
  const r = rootlessBundle(t);
  r.spec.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } };
  r.writeConfig();
  const id = nextId();
  const run = r.tsrunc(['run', id]);
  t.equal(run.status, 1, 'run fails');
  t.match(
    run.stderr,
    /\/linux\/resources\/(memory\/limit|pids\/limit): cannot set (memory|pids) limit: container could not join or create cgroup/,
    "naming the limit, in runc's words",
  );
  t.match(run.stderr, /rootless/, 'and why');
  t.same(rootEntries(r), [], 'no state is left');
  t.same(userProcesses(r.user), [], 'no process is left');
  t.same(cgroupDirsNamed(id), [], 'no cgroup was made');
});

t.test(
  'without a cgroup of its own: the cgroup commands say so; kill --all KILL takes the pid namespace down',
  { skip },
  async (t) => {
    const r = rootlessBundle(t);
    const id = nextId();
    const run = r.tsrunc(['run', '-d', id], { input: '' });
    t.equal(run.status, 0, 'run -d exits 0', { stderr: run.stderr });
    t.same(cgroupDirsNamed(id), [], 'the container has no cgroup');
    for (const args of [
      ['ps', id],
      ['pause', id],
      ['update', '--memory', '10M', id],
      ['events', '--stats', id],
      ['kill', '--all', id, 'TERM'],
    ]) {
      const res = r.tsrunc(args);
      t.equal(res.status, 1, `${args[0]} ${args[1]} fails`);
      t.match(res.stderr, /no cgroup/, `${args.join(' ')}: says the container has no cgroup`);
    }
    t.equal(state(r, id)?.status, 'running', 'and the container runs on');
    const shown = r.tsrunc([
      'exec',
      id,
      'sh',
      '-c',
      'ls /sys/fs/cgroup/*/cgroup.procs /sys/fs/cgroup/cgroup.procs 2>/dev/null; echo x > /sys/fs/cgroup/pids/cgroup.procs',
    ]);
    t.not(
      shown.stdout.trim(),
      '',
      "its /sys/fs/cgroup shows the cgroups its init is in (the caller's), as runc's: " + shown.stdout.split('\n')[0],
    );
    t.match(shown.stderr, /Read-only file system/, 'read-only');
    const pid = state(r, id)?.pid ?? 0;
    const child = r.tsrunc(['exec', '-d', id, 'sleep', '999']);
    t.equal(child.status, 0, 'exec -d exits 0', { stderr: child.stderr });
    const kill = r.tsrunc(['kill', '--all', id, 'KILL']);
    t.equal(kill.status, 0, 'kill --all KILL exits 0', { stderr: kill.stderr });
    for (let i = 0; i < 100 && userProcesses(r.user).length > 0; i++) await new Promise((res) => setTimeout(res, 50));
    t.same(userProcesses(r.user), [], "the init and the exec'd process are gone");
    t.equal(state(r, id)?.status, 'stopped', `the init (${pid}) is gone`);
    t.equal(r.tsrunc(['delete', id]).status, 0, 'delete exits 0');
  },
);

t.test("one user cannot see, signal or delete another's containers", { skip }, async (t) => {
  const a = rootlessBundle(t);
  const b = ordinaryUser(t);
  const id = nextId();
  t.equal(a.tsrunc(['run', '-d', id], { input: '' }).status, 0, 'user A runs a container');
  const aRoot = path.join(a.user.runtimeDir, 'tsrunc');
  const tsrunc = tsruncForUsers();
  for (const args of [['state', id], ['kill', id, 'KILL'], ['delete', '--force', id], ['exec', id, 'true'], ['list']]) {
    const res = b.run(tsrunc, ['--root', aRoot, ...args]);
    t.not(res.status, 0, `user B: ${args.join(' ')} in A's root fails`);
    t.match(res.stderr, /permission denied|EACCES/i, 'for lack of permission');
  }
  t.equal(state(a, id)?.status, 'running', "A's container is untouched");
  // B's own root, made writable by others: refused rather than trusted.
  const shared = userDir(t, b, 'tsrunc-shared-root-');
  fs.chmodSync(shared, 0o777);
  const res = b.run(tsrunc, ['--root', shared, 'list']);
  t.equal(res.status, 1, 'a state root others may write is refused');
  t.match(res.stderr, /writable by group and others|writable by others/);
  t.equal(a.tsrunc(['delete', '--force', id]).status, 0);
});

t.test(
  "a read-only rbind is read-only through its tree: the host's cgroup mounts under /sys and a submount the user owns (CVE-2023-25809 class)",
  { skip },
  async (t) => {
    const r = rootlessBundle(t);
    // A cgroup delegated to the user on the host (the container's root is that user), and a
    // directory of the user's with a filesystem of the user's mounted inside it.
    const hierarchy = fs.existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';
    const name = `tsrunc-rootless-${process.pid}`;
    const mine = path.join(hierarchy, name);
    fs.mkdirSync(mine);
    t.teardown(() => fs.rmdirSync(mine));
    execFileSync('chown', ['-R', `${r.user.uid}:${r.user.gid}`, mine]);
    const data = path.join(r.bundle, 'data');
    fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
    execFileSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=1m,uid=${r.user.uid},gid=${r.user.gid}`,
      'tsrunc-test',
      path.join(data, 'sub'),
    ]);
    t.teardown(() => void spawnSync('umount', ['-l', path.join(data, 'sub')]));
    execFileSync('chown', ['-R', `${r.user.uid}:${r.user.gid}`, data]);
    r.spec.mounts!.push({ destination: '/data', type: 'bind', source: data, options: ['rbind', 'ro'] });
    const inContainer = path.join('/sys/fs/cgroup', path.relative('/sys/fs/cgroup', hierarchy), name, 'pids.max');
    r.spec.process!.args = [
      'sh',
      '-c',
      `echo 7 > ${inContainer} && echo cgroup-written; echo x > /data/sub/x && echo sub-written; echo x > /data/x && echo top-written; true`,
    ];
    r.writeConfig();
    const run = r.tsrunc(['run', nextId()]);
    t.equal(run.status, 0, 'the container ran', { stderr: run.stderr });
    t.notMatch(run.stdout, /written/, `every write failed: ${run.stdout}${run.stderr}`);
    t.match(run.stderr, /\/data\/sub\/x: Read-only file system/, 'the submount is read-only (it was writable before)');
    t.equal(fs.readFileSync(path.join(mine, 'pids.max'), 'utf8').trim(), 'max', "the user's cgroup is unchanged");
    t.same(fs.readdirSync(path.join(data, 'sub')), [], "the user's submount is unchanged");
    // (a container given CAP_SYS_ADMIN in its user namespace can remount its own mounts writable:
    // they are not locked, as with runc and crun — docs/security.md says so)
  },
);
