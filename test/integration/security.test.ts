// One test per attack class runc has had a CVE for, each attempting the attack and showing
// that it fails (docs/security.md maps CVE → defence → test). Classes covered elsewhere are
// named there: symlinked mount destinations (mounts.test.ts), the init's fds
// (process.test.ts), exec's inheritable capabilities (exec.test.ts), /dev/console from the
// container's own pty (console.test.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, runContainer, testContainer, userNamespace } from '../helpers/container';
import type { RunResult } from '../helpers/tsrunc';

const skip = rootSkipReason();

t.test('CVE-2019-5736: an image whose program is #!/proc/self/exe never runs a host binary', { skip }, async (t) => {
  const writeEvil = (_s: unknown, bundle: string): void => {
    fs.writeFileSync(path.join(bundle, 'rootfs/bin/evil'), '#!/proc/self/exe\n', { mode: 0o755 });
  };
  const r = runContainer(
    t,
    (s, bundle) => {
      writeEvil(s, bundle);
      s.process!.args = ['/bin/evil'];
    },
    { copyRootfs: true },
  );
  t.equal(r.status, 127, 'tsrunc-init, run from a sealed memfd, refuses to be an interpreter');
  t.match(r.stderr, /tsrunc-init: not a program to run directly/);
  t.notMatch(r.stderr + r.stdout, /node|Node\.js/, 'node never ran in the container');

  const c = testContainer(t, (s, bundle) => writeEvil(s, bundle), { copyRootfs: true });
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const e = c.tsrunc(['exec', c.id, '/bin/evil']);
  t.equal(e.status, 127, 'the same through exec');
  const exe = c.tsrunc(['exec', c.id, 'sh', '-c', 'readlink /proc/self/exe; readlink /proc/1/exe']);
  t.equal(exe.stdout, '/bin/busybox\n/bin/busybox\n', "processes' exe links name the container's binaries");
});

t.test('CVE-2024-21626: a working directory through a leaked fd is refused or stays inside', { skip }, async (t) => {
  // Each attempt either runs in a working directory inside the container (pwd prints a path,
  // not "(unreachable)/..."), or is refused for that working directory (no such fd: nothing
  // leaked). Anything else fails the attempt, and the count of the two must be every attempt.
  const FDS = [3, 4, 5, 6, 7, 8, 9];
  const judge = (what: string, r: RunResult, refusedStatus: number, refusal: RegExp): 'ran' | 'refused' | 'neither' => {
    const ranInside = r.status === 0 && /^\/.*\n/.test(r.stdout) && !/unreachable/.test(r.stdout);
    const verdict = ranInside ? 'ran' : r.status === refusedStatus && refusal.test(r.stderr) ? 'refused' : 'neither';
    t.not(verdict, 'neither', `${what}: ran inside the container, or was refused for its working directory`, {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
    });
    return verdict;
  };
  const count = (verdicts: string[]): string =>
    `${verdicts.filter((v) => v === 'ran').length} ran, ${verdicts.filter((v) => v === 'refused').length} refused`;

  // create: the missing directory is made (as runc makes it) or entered; either refuses the path.
  const created = FDS.map((fd) => {
    const cwd = `/proc/self/fd/${fd}`;
    const r = runContainer(t, (s) => {
      s.process!.cwd = cwd;
      s.process!.args = ['sh', '-c', 'pwd; ls / | head -3'];
    });
    return judge(`run, cwd ${cwd}`, r, 1, new RegExp(`(creating directory|changing directory to) ${cwd}[: ]`));
  });
  t.equal(
    created.filter((v) => v !== 'neither').length,
    FDS.length,
    `run: every attempt ran inside or was refused (${count(created)})`,
  );

  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const execs = FDS.map((fd) => {
    const cwd = `/proc/self/fd/${fd}`;
    const e = c.tsrunc(['exec', '--cwd', cwd, c.id, 'pwd']);
    return judge(`exec, cwd ${cwd}`, e, 255, new RegExp(`exec failed: changing directory to ${cwd} `));
  });
  t.equal(
    execs.filter((v) => v !== 'neither').length,
    FDS.length,
    `exec: every attempt ran inside or was refused (${count(execs)})`,
  );
  const fds = c.tsrunc(['exec', c.id, 'ls', '/proc/self/fd']);
  t.same(
    fds.stdout
      .trim()
      .split('\n')
      .map(Number)
      .sort((a, b) => a - b),
    [0, 1, 2, 3],
    "an exec'd process has 0-2 and ls's own directory fd, nothing of the runtime",
  );
});

t.test('CVE-2025-31133: masking binds only the real /dev/null', { skip }, async (t) => {
  const decoy = path.join(fs.mkdtempSync('/tmp/tsrunc-decoy-'), 'dev');
  t.teardown(() => fs.rmSync(path.dirname(decoy), { recursive: true, force: true }));
  fs.mkdirSync(decoy);
  // The container's /dev is a directory the image controls, where "null" is not a device.
  fs.writeFileSync(path.join(decoy, 'null'), 'not a device');
  const c = testContainer(t, (s) => {
    s.mounts = (s.mounts ?? []).filter((m) => !m.destination.startsWith('/dev'));
    s.mounts.push({ destination: '/dev', type: 'bind', source: decoy, options: ['rbind'] });
    s.linux!.maskedPaths = ['/proc/version'];
  });
  const r = c.tsrunc(['create', c.id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /masking \/proc\/version: \/dev\/null is not the null device/);
  t.equal(fs.readFileSync(path.join(decoy, 'null'), 'utf8'), 'not a device');
});

t.test('CVE-2023-25809: a container in a user namespace cannot write /sys/fs/cgroup', { skip }, async (t) => {
  const r = runContainer(
    t,
    (s, bundle) => {
      userNamespace(s, { bundle });
      s.process!.args = [
        'sh',
        '-c',
        'mkdir /sys/fs/cgroup/pids/x 2>&1; echo 1 > /sys/fs/cgroup/pids/cgroup.procs 2>&1; echo done',
      ];
    },
    { copyRootfs: true },
  );
  t.equal(r.status, 0, r.stderr);
  // (the shell reports a failed redirection on its own stderr)
  t.equal(`${r.stdout}${r.stderr}`.match(/Read-only file system/g)?.length, 2, 'both writes refused');
  t.match(r.stdout, /done/);
});

t.test("exec --user 1000:1000 with stdio on the host's /dev/null leaves /dev/null 0:0 666", { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const before = fs.statSync('/dev/null');
  const e = c.tsrunc([
    'exec',
    '-u',
    '1000:1000',
    c.id,
    'sh',
    '-c',
    'cat /proc/self/fd/0; ls -l /proc/self/fd/0 >/dev/null; true',
  ]);
  t.equal(e.status, 0, e.stderr);
  // (Compared with before, not with 0:0: other programs on a shared machine may have changed it.)
  const after = fs.statSync('/dev/null');
  t.equal(after.uid, before.uid, 'owner unchanged');
  t.equal(after.gid, before.gid, 'group unchanged');
  t.equal(after.mode, before.mode, 'mode unchanged');
});

t.test(
  'CVE-2021-30465, CVE-2024-45310: a mount path swapped for a symlink while containers are created stays inside the rootfs',
  { skip },
  async (t) => {
    const { spawn } = await import('node:child_process');
    const victim = fs.mkdtempSync('/tmp/tsrunc-victim-');
    t.teardown(() => fs.rmSync(victim, { recursive: true, force: true }));
    const c = testContainer(
      t,
      (s, bundle) => {
        fs.mkdirSync(path.join(bundle, 'rootfs/mnt/a'), { recursive: true });
        s.root!.readonly = false;
        for (let i = 0; i < 5; i++)
          s.mounts!.push({ destination: `/mnt/a/x${i}`, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
        s.process!.args = ['true'];
      },
      { copyRootfs: true },
    );
    const mnt = path.join(c.bundle, 'rootfs/mnt');
    // Exchange /mnt/a with a symlink to the host directory, atomically (renameat2
    // RENAME_EXCHANGE) and without pause, as the CVE's exploit did: /mnt/a is always there, half
    // of the time a directory and half of the time the symlink. (A shell loop of mv/ln/rm left
    // gaps where /mnt/a was missing, tsrunc filled them with a directory, and on a slow machine
    // the symlink was then not met in 150 runs.)
    fs.symlinkSync(victim, path.join(mnt, 'b'));
    const exchange = [
      'import ctypes, os, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'os.chdir(sys.argv[1])',
      'while True: libc.renameat2(-100, b"a", -100, b"b", 2)',
    ].join('\n');
    const swapper = spawn('python3', ['-c', exchange, mnt], { stdio: 'ignore' });
    t.teardown(() => void swapper.kill('SIGKILL'));
    // Until the swap has been met (bounded): how soon depends on the machine's timing.
    const met = path.join(c.bundle, 'rootfs', victim);
    let runs = 0;
    for (; runs < 150 && (runs < 15 || !fs.existsSync(met)); runs++) {
      c.tsrunc(['run', c.id]);
      c.tsrunc(['delete', '--force', c.id]);
    }
    t.comment(`${runs} runs`);
    swapper.kill('SIGKILL');
    // The symlink was met (resolved inside the rootfs: the same path under rootfs/) at least once.
    t.ok(fs.existsSync(met), 'the swap was met and resolved inside the rootfs');
    t.same(fs.readdirSync(victim), [], 'nothing was created in the host directory');
    const hostMounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(victim));
    t.same(hostMounts, [], 'nothing is mounted on the host directory');
  },
);

t.test('CVE-2019-19921: writes meant for procfs never land in a mount put over /proc', { skip }, async (t) => {
  const decoy = fs.mkdtempSync('/tmp/tsrunc-procdecoy-');
  t.teardown(() => fs.rmSync(decoy, { recursive: true, force: true }));
  fs.mkdirSync(path.join(decoy, 'ipv4'));
  fs.writeFileSync(path.join(decoy, 'ipv4/ip_forward'), 'untouched\n');
  const c = testContainer(t, (s) => {
    s.mounts!.push({ destination: '/proc/sys/net', type: 'bind', source: decoy, options: ['rbind', 'rw'] });
    s.linux!.readonlyPaths = (s.linux!.readonlyPaths ?? []).filter((p) => p !== '/proc/sys');
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
  });
  const r = c.tsrunc(['create', c.id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /setting sysctl net\.ipv4\.ip_forward .*: the file is not on procfs/);
  t.equal(fs.readFileSync(path.join(decoy, 'ipv4/ip_forward'), 'utf8'), 'untouched\n');
  t.equal(c.status(), 'missing');
});
