// Issue 12, the attacks on tsrunc's inputs that must fail closed, each performed through the
// CLI: a symlink planted at the pid file's temp name (F), --preserve-fds over what the caller
// passed (G), uid/gid edge values (H), a --root owned by someone else with a planted hook (I),
// NUL inside strings, numeric edges, and parse errors that must not quote the file.
import { execFileSync, spawn, spawnSync, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { Spec } from '../../src/spec/types';
import { cgroupDirsOf, rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { containerRecord } from '../helpers/records';
import { REPO_ROOT, TSRUNC, rootEntries, tempDir, waitFor, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason();

interface FdRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The pid tsrunc ran as (bin/tsrunc execs node in place). */
  pid: number;
}

/**
 * Runs `file` (bin/tsrunc by default) with stdout and stderr on files and `extra` as fds 3, 4, ...
 * ('ignore': that fd is not passed).
 */
function runWithFds(
  t: Teardownable,
  args: string[],
  extra: (number | 'ignore')[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; file?: string; fileArgs?: string[] } = {},
): FdRun {
  const dir = tempDir(t, 'tsrunc-fdrun');
  const out = fs.openSync(path.join(dir, 'out'), 'w+');
  const err = fs.openSync(path.join(dir, 'err'), 'w+');
  try {
    const stdio: StdioOptions = ['ignore', out, err, ...extra];
    const r = spawnSync(opts.file ?? TSRUNC, [...(opts.fileArgs ?? []), ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio,
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    return {
      status: r.status,
      signal: r.signal,
      pid: r.pid ?? 0,
      stdout: fs.readFileSync(path.join(dir, 'out'), 'utf8'),
      stderr: fs.readFileSync(path.join(dir, 'err'), 'utf8'),
    };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
}

/** Open fds of a process, in order. */
function fdsOf(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/fd`).sort((a, b) => Number(a) - Number(b));
}

/** Nothing of `c` is left: no state under its root, no cgroup. */
function assertNothingLeft(t: Test, c: TestContainer): void {
  t.same(rootEntries(c.root), [], 'no state left under --root');
  t.same(cgroupDirsOf(c.id), [], 'no cgroup left');
}

// ---- F: the pid file's temp file -----------------------------------------------------------

t.test(
  'F: create --pid-file in a world-writable dir: symlinks planted at FILE.PID.tmp for the pids tsrunc will get are not followed',
  { skip },
  async (t) => {
    const c = testContainer(t);
    const dir = tempDir(t, 'tsrunc-pidfile');
    const shared = path.join(dir, 'shared');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'root-owned\n', { mode: 0o600 });
    const pidFile = path.join(shared, 'init.pid');
    // ns_last_pid (root only) makes the next process get the pid after it: tsrunc's pid is then
    // one of the next few whatever else runs meanwhile. The attacker's symlinks wait at each
    // FILE.PID.tmp, the name the pid file's temp file had.
    const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const last = Number(fs.readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
    const first = last + 5000 + 400 < pidMax ? last + 5000 : 1000;
    const planted = 400;
    for (let p = first; p < first + planted; p++) fs.symlinkSync(victim, `${pidFile}.${p}.tmp`);
    fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(first - 1));
    const r = runWithFds(t, ['--root', c.root, 'create', '--pid-file', pidFile, c.id], [], { cwd: c.bundle });
    t.equal(r.status, 0, r.stderr);
    t.ok(
      r.pid >= first && r.pid < first + planted,
      `tsrunc ran as pid ${r.pid}, whose old temp name was planted (${first}..${first + planted - 1})`,
    );
    t.equal(fs.readFileSync(victim, 'utf8'), 'root-owned\n', 'the victim is untouched');
    t.equal(fs.lstatSync(pidFile).isFile(), true, 'the pid file is a regular file');
    t.equal(fs.readFileSync(pidFile, 'utf8'), String(c.pid()), 'holding the init pid');
  },
);

// ---- G: --preserve-fds ----------------------------------------------------------------------

t.test('G: create --preserve-fds 40 with no fds passed: exit 1, fd 3 named, nothing left', { skip }, async (t) => {
  const c = testContainer(t);
  const r = runWithFds(t, ['--root', c.root, 'create', '--preserve-fds', '40', c.id], [], { cwd: c.bundle });
  t.equal(r.status, 1);
  t.match(r.stderr, /--preserve-fds 40: fd 3 was not passed by the caller \(fds 3 to 42 must be open\)/);
  assertNothingLeft(t, c);
});

t.test(
  'G: run --preserve-fds 40 with no fds passed: refused at once (no deadlock on its own lock)',
  { skip },
  async (t) => {
    const c = testContainer(t);
    const r = runWithFds(t, ['--root', c.root, 'run', '--preserve-fds', '40', c.id], [], { cwd: c.bundle });
    t.not(r.signal, 'SIGKILL', 'returned before the 60 s timeout');
    t.equal(r.status, 1);
    t.match(r.stderr, /--preserve-fds 40: fd 3 was not passed/);
    assertNothingLeft(t, c);
  },
);

t.test('G: --preserve-fds 3 with fds 3 and 4 passed (5 not): fd 5 named', { skip }, async (t) => {
  const c = testContainer(t);
  const a = fs.openSync('/dev/null', 'r');
  const b = fs.openSync('/dev/null', 'r');
  t.teardown(() => [a, b].forEach((fd) => fs.closeSync(fd)));
  const r = runWithFds(t, ['--root', c.root, 'create', '--preserve-fds=3', c.id], [a, b], { cwd: c.bundle });
  t.equal(r.status, 1);
  t.match(r.stderr, /--preserve-fds 3: fd 5 was not passed by the caller/);
  assertNothingLeft(t, c);
});

t.test('G: negative and non-integer --preserve-fds are usage errors naming the flag', { skip }, async (t) => {
  const c = testContainer(t);
  for (const args of [
    ['--preserve-fds', '-1'],
    ['--preserve-fds=-1'],
    ['--preserve-fds=1.5'],
    ['--preserve-fds=abc'],
  ]) {
    for (const cmd of ['create', 'run']) {
      const r = runWithFds(t, ['--root', c.root, cmd, ...args, c.id], [], { cwd: c.bundle });
      t.equal(r.status, 1, `${cmd} ${args.join(' ')}: exit 1`);
      t.match(r.stderr, /--preserve-fds must be a non-negative integer/, `${cmd} ${args.join(' ')}: names the flag`);
    }
  }
  assertNothingLeft(t, c);
});

t.test(
  'G: a TSRUNC_CALLER_FDS set by the caller is not passed on by bin/tsrunc; node started without it has no list',
  { skip },
  async (t) => {
    const c = testContainer(t);
    const forged = Array.from({ length: 40 }, (_, i) => String(i + 3)).join(' ');
    const viaLauncher = runWithFds(t, ['--root', c.root, 'create', '--preserve-fds', '40', c.id], [], {
      cwd: c.bundle,
      env: { ...process.env, TSRUNC_CALLER_FDS: forged },
    });
    t.equal(viaLauncher.status, 1, 'the launcher overwrote the forged list');
    t.match(viaLauncher.stderr, /fd 3 was not passed/);
    const extra = fs.openSync('/dev/null', 'r');
    t.teardown(() => fs.closeSync(extra));
    const none = runWithFds(t, ['--root', c.root, 'create', '--preserve-fds', '1', c.id], [extra], {
      cwd: c.bundle,
      file: process.execPath,
      fileArgs: [path.join(REPO_ROOT, 'dist', 'boot.cjs')],
    });
    t.equal(none.status, 1);
    t.match(
      none.stderr,
      /--preserve-fds 1: cannot tell which fds the caller passed \(TSRUNC_CALLER_FDS is not set: start tsrunc through bin\/tsrunc\)/,
    );
    assertNothingLeft(t, c);
  },
);

t.test('G: LISTEN_FDS counts as preserved fds: ones not passed are refused too', { skip }, async (t) => {
  const c = testContainer(t);
  const fd = fs.openSync('/dev/null', 'r');
  t.teardown(() => fs.closeSync(fd));
  const r = runWithFds(t, ['--root', c.root, 'create', c.id], [fd], {
    cwd: c.bundle,
    env: { ...process.env, LISTEN_FDS: '2', LISTEN_PID: '1' },
  });
  t.equal(r.status, 1);
  t.match(r.stderr, /--preserve-fds 0 with LISTEN_FDS=2: fd 4 was not passed by the caller/);
  assertNothingLeft(t, c);
});

t.test(
  'G: create and run --preserve-fds 2 with 2 fds passed still hand them on, and nothing more',
  { skip },
  async (t) => {
    const dir = tempDir(t, 'tsrunc-fds');
    const files = ['a', 'b', 'c'].map((n) => path.join(dir, n));
    const fds = files.map((f) => fs.openSync(f, 'w'));
    t.teardown(() => fds.forEach((fd) => fs.closeSync(fd)));
    const c = testContainer(t);
    const r = runWithFds(t, ['--root', c.root, 'create', '--preserve-fds', '2', c.id], fds, { cwd: c.bundle });
    t.equal(r.status, 0, r.stderr);
    t.equal(c.tsrunc(['start', c.id]).status, 0);
    const pid = c.pid();
    t.same(fdsOf(pid), ['0', '1', '2', '3', '4'], 'fds 3 and 4, not 5');
    t.equal(fs.readlinkSync(`/proc/${pid}/fd/4`), files[1]);

    const d = testContainer(
      t,
      (s) => (s.process!.args = ['sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " " >&3']),
    );
    const ran = runWithFds(t, ['--root', d.root, 'run', '--preserve-fds=2', d.id], fds, { cwd: d.bundle });
    t.equal(ran.status, 0, ran.stderr);
    // ls's own directory fd is the last one listed
    t.match(
      fs.readFileSync(files[0] as string, 'utf8'),
      /^0 1 2 3 4 \d+ $/,
      'run: the container had fds 3 and 4 (and ls its own)',
    );
  },
);

t.test(
  'G: exec --preserve-fds: refused without the fds (exit 255, fd named), passed on with them',
  { skip },
  async (t) => {
    const c = testContainer(t);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    const refused = runWithFds(t, ['--root', c.root, 'exec', '--preserve-fds', '5', c.id, 'true'], []);
    t.equal(refused.status, 255);
    t.match(refused.stderr, /exec failed: --preserve-fds 5: fd 3 was not passed by the caller/);
    const negative = runWithFds(t, ['--root', c.root, 'exec', '--preserve-fds', '-1', c.id, 'true'], []);
    t.equal(negative.status, 255);
    t.match(negative.stderr, /--preserve-fds must be a non-negative integer/);
    const dir = tempDir(t, 'tsrunc-execfds');
    const file = path.join(dir, 'out');
    const fd = fs.openSync(file, 'w');
    t.teardown(() => fs.closeSync(fd));
    const ok = runWithFds(
      t,
      ['--root', c.root, 'exec', '--preserve-fds', '1', c.id, 'sh', '-c', 'echo via-fd-3 >&3'],
      [fd],
    );
    t.equal(ok.status, 0, ok.stderr);
    t.equal(fs.readFileSync(file, 'utf8'), 'via-fd-3\n');
  },
);

// ---- G: checkpoint --status-fd ----------------------------------------------------------------
// checkpoint --lazy-pages writes criu's \0 to --status-fd's fd and closes it: that fd must be the
// caller's too, refused (before criu or the container is touched) when it is one of tsrunc's own.

/** `sh -c 'exec bin/tsrunc ARGS REDIRECT'` with stdout and stderr on files, no other fd given. */
function viaShell(t: Teardownable, args: string[], redirect = ''): FdRun {
  return runWithFds(t, ['-c', `exec "$0" "$@" ${redirect}`, TSRUNC, ...args], [], { file: '/bin/sh' });
}

/**
 * The same, with --log on a FIFO: tsrunc (node by then) blocks opening it, and its open fds are
 * read from /proc then, before it is let go. Returns those fds (above 2) and how it ended.
 */
async function viaShellSeen(t: Test, args: string[]): Promise<{ fds: Map<number, string>; run: FdRun }> {
  const dir = tempDir(t, 'tsrunc-statusfd');
  const fifo = path.join(dir, 'log');
  execFileSync('mkfifo', [fifo]);
  const out = fs.openSync(path.join(dir, 'out'), 'w+');
  const err = fs.openSync(path.join(dir, 'err'), 'w+');
  const child = spawn('/bin/sh', ['-c', 'exec "$0" "$@"', TSRUNC, '--log', fifo, ...args], {
    stdio: ['ignore', out, err],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const pid = child.pid ?? 0;
  const wchan = (): string => {
    try {
      return fs.readFileSync(`/proc/${pid}/wchan`, 'utf8');
    } catch {
      return '';
    }
  };
  await waitFor(() => /wait_for_partner|fifo_open/.test(wchan()), 'tsrunc to block opening its --log FIFO', 60_000, 20);
  const fds = new Map<number, string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`).map(Number))
    if (fd > 2) fds.set(fd, fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
  // (reading the FIFO lets it go on)
  const log = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const how = await exited;
  fs.closeSync(log);
  fs.closeSync(out);
  fs.closeSync(err);
  return {
    fds,
    run: {
      status: how.code,
      signal: how.signal,
      pid,
      stdout: fs.readFileSync(path.join(dir, 'out'), 'utf8'),
      stderr: fs.readFileSync(path.join(dir, 'err'), 'utf8'),
    },
  };
}

t.test(
  "G: checkpoint --status-fd of an fd the caller did not pass (tsrunc's own) is refused, naming it; the container untouched",
  { skip },
  async (t) => {
    const c = testContainer(t);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0, 'run -d');
    const pid = c.pid();
    const images = path.join(tempDir(t, 'tsrunc-ckpt'), 'images');
    const ckpt = (fd: string): string[] => [
      '--root',
      c.root,
      'checkpoint',
      '--lazy-pages',
      '--status-fd',
      fd,
      '--image-path',
      images,
      c.id,
    ];
    const untouched = (what: string): void => {
      t.equal(c.status(), 'running', `${what}: the container still runs`);
      t.equal(c.pid(), pid, `${what}: with the same init`);
      t.notOk(fs.existsSync(images), `${what}: no image directory was made`);
    };

    const notOpen = viaShell(t, ckpt('9'));
    t.equal(notOpen.status, 1, 'fd 9 not open: exit 1');
    t.match(notOpen.stderr, /--status-fd 9: fd 9 was not passed by the caller/, 'naming the flag and fd 9');
    untouched('fd 9 not open');

    // fd 3 (node's first: its epoll) and a pipe node writes to: open in tsrunc as it ran, and refused.
    const first = await viaShellSeen(t, ckpt('3'));
    t.ok(first.fds.has(3), `fd 3 was tsrunc's own (${first.fds.get(3)})`);
    t.equal(first.run.status, 1, '--status-fd 3: exit 1');
    t.match(first.run.stderr, /--status-fd 3: fd 3 was not passed by the caller/, 'naming fd 3');
    untouched('--status-fd 3');
    const pipe = [...first.fds].find(([fd, to]) => fd > 3 && to.startsWith('pipe:'))?.[0];
    if (t.ok(pipe !== undefined, `node has pipes of its own (${JSON.stringify([...first.fds])})`)) {
      const second = await viaShellSeen(t, ckpt(String(pipe)));
      t.match(second.fds.get(pipe as number) ?? '', /^pipe:/, `fd ${pipe} is one of tsrunc's pipes as it runs`);
      t.equal(second.run.status, 1, `--status-fd ${pipe}: exit 1`);
      t.match(
        second.run.stderr,
        new RegExp(`--status-fd ${pipe}: fd ${pipe} was not passed by the caller`),
        `naming fd ${pipe}`,
      );
      untouched(`--status-fd ${pipe}`);
    }

    // Passed (9>file): past that check, to the next step (the --criu binary, missing here: no
    // criu is started and the container is not touched).
    const file = path.join(tempDir(t, 'tsrunc-statusfd'), 'status');
    const passed = viaShell(t, ['--criu', '/nonexistent/criu', ...ckpt('9')], `9>${file}`);
    t.equal(passed.status, 1, 'fd 9 passed: exit 1');
    t.notMatch(passed.stderr, /was not passed by the caller/, 'fd 9 passed: not refused for it');
    t.match(passed.stderr, /criu binary \/nonexistent\/criu does not exist/, passed.stderr.trim());
    untouched('fd 9 passed');
    t.equal(fs.readFileSync(file, 'utf8'), '', 'nothing was written to it');
    t.same(
      fs.readdirSync(c.root).filter((e) => e !== c.id),
      [],
      'nothing else under --root',
    );
  },
);

// ---- I: a state root someone else owns or may write -----------------------------------------

const FOREIGN_UID = 54321;

/**
 * What an unprivileged user leaves for root: a state root with a container `id` whose record
 * has a poststop hook that touches `marker` (a stopped container: delete runs poststop hooks).
 * Every part owned by `uid`, as that user would have made it.
 */
function plantContainer(root: string, id: string, marker: string, uid: number, opts: { rootMode?: number } = {}): void {
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  fs.chmodSync(root, opts.rootMode ?? 0o755);
  const dir = path.join(root, id);
  fs.mkdirSync(dir, { mode: 0o711 });
  const record = containerRecord(id, path.dirname(root), 0, 0, true);
  record.config.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `touch ${marker}`] }] };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(record), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'lock'), '', { mode: 0o600 });
  for (const p of [root, dir, path.join(dir, 'state.json'), path.join(dir, 'lock')]) fs.chownSync(p, uid, uid);
}

/** Every command that reads a container's state, as root, against `root`. */
const STATE_COMMANDS = (id: string): string[][] => [
  ['delete', id],
  ['delete', '--force', id],
  ['state', id],
  ['list'],
  ['kill', id, 'KILL'],
  ['start', id],
  ['ps', id],
  ['pause', id],
  ['resume', id],
  ['update', '--pids-limit', '10', id],
  ['events', '--stats', id],
  ['exec', id, 'true'],
];

t.test(
  'I: a --root owned by another uid, with a planted poststop hook: every command refuses, the hook never runs',
  { skip },
  async (t) => {
    const dir = tempDir(t, 'tsrunc-foreign');
    const root = path.join(dir, 'root');
    const marker = path.join(dir, 'hook-ran');
    plantContainer(root, 'planted', marker, FOREIGN_UID);
    for (const args of STATE_COMMANDS('planted')) {
      const r = runWithFds(t, ['--root', root, ...args], []);
      t.equal(r.status, args[0] === 'exec' ? 255 : 1, `${args.join(' ')}: fails`);
      t.match(
        r.stderr,
        `state root ${root} is owned by uid ${FOREIGN_UID}, not by the caller (uid 0)`,
        `${args.join(' ')}: says why`,
      );
    }
    t.notOk(fs.existsSync(marker), 'the planted hook never ran');
    t.ok(fs.existsSync(path.join(root, 'planted', 'state.json')), 'and nothing was removed');
    const c = testContainer(t, () => {}, { root });
    const created = c.tsrunc(['create', c.id]);
    t.equal(created.status, 1, 'create refuses the root too');
    t.match(created.stderr, `state root ${root} is owned by uid ${FOREIGN_UID}`);
    t.same(rootEntries(root), ['planted'], 'and makes nothing in it');
    t.same(cgroupDirsOf(c.id), [], 'nor a cgroup');
  },
);

t.test('I: a root-owned root with mode 0777 (or 1777) is refused', { skip }, async (t) => {
  for (const mode of [0o777, 0o1777, 0o775]) {
    const dir = tempDir(t, 'tsrunc-open-root');
    const root = path.join(dir, 'root');
    const marker = path.join(dir, 'hook-ran');
    plantContainer(root, 'planted', marker, 0, { rootMode: mode });
    for (const args of [
      ['delete', 'planted'],
      ['delete', '--force', 'planted'],
      ['state', 'planted'],
      ['list'],
      ['kill', 'planted', 'KILL'],
    ]) {
      const r = runWithFds(t, ['--root', root, ...args], []);
      t.equal(r.status, 1, `${mode.toString(8)}: ${args.join(' ')}: exit 1`);
      t.match(
        r.stderr,
        new RegExp(`state root ${root} is writable by (group and others|group) \\(mode 0?${mode.toString(8)}\\)`),
        `${mode.toString(8)}: ${args.join(' ')}: says why`,
      );
    }
    t.notOk(fs.existsSync(marker), `${mode.toString(8)}: the hook never ran`);
  }
});

t.test(
  'I: in a root-owned 0700 root, a container dir or state.json of another uid, or a symlink, is refused',
  { skip },
  async (t) => {
    const dir = tempDir(t, 'tsrunc-foreign-parts');
    const root = path.join(dir, 'root');
    const marker = path.join(dir, 'hook-ran');
    plantContainer(root, 'a', marker, 0);
    fs.chmodSync(root, 0o700);
    fs.chownSync(path.join(root, 'a', 'state.json'), FOREIGN_UID, FOREIGN_UID);
    for (const args of [['delete', 'a'], ['delete', '--force', 'a'], ['state', 'a'], ['list'], ['kill', 'a', 'KILL']]) {
      const r = runWithFds(t, ['--root', root, ...args], []);
      t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
      t.match(
        r.stderr,
        `container state file ${path.join(root, 'a', 'state.json')} is owned by uid ${FOREIGN_UID}, not by the caller (uid 0)`,
      );
    }
    // A container directory of another uid.
    fs.rmSync(path.join(root, 'a'), { recursive: true });
    plantContainer(root, 'b', marker, 0);
    fs.chmodSync(root, 0o700);
    fs.chownSync(path.join(root, 'b'), FOREIGN_UID, FOREIGN_UID);
    const b = runWithFds(t, ['--root', root, 'delete', '--force', 'b'], []);
    t.equal(b.status, 1);
    t.match(b.stderr, `container state directory ${path.join(root, 'b')} is owned by uid ${FOREIGN_UID}`);
    // state.json a symlink to a record elsewhere (the same record, root-owned: only the link is wrong).
    fs.chownSync(path.join(root, 'b'), 0, 0);
    const elsewhere = path.join(dir, 'elsewhere.json');
    fs.renameSync(path.join(root, 'b', 'state.json'), elsewhere);
    fs.symlinkSync(elsewhere, path.join(root, 'b', 'state.json'));
    const link = runWithFds(t, ['--root', root, 'delete', 'b'], []);
    t.equal(link.status, 1);
    t.match(link.stderr, `container state file ${path.join(root, 'b', 'state.json')} is a symlink`);
    // The root itself a symlink to a good root.
    const alias = path.join(dir, 'alias');
    fs.symlinkSync(root, alias);
    const viaLink = runWithFds(t, ['--root', alias, 'list'], []);
    t.equal(viaLink.status, 1);
    t.match(viaLink.stderr, `state root ${alias} is a symlink; a directory is expected there`);
    t.notOk(fs.existsSync(marker), 'no hook ran');
  },
);

t.test('I: a private root tsrunc creates is 0700 and the whole lifecycle works in it', { skip }, async (t) => {
  const dir = tempDir(t, 'tsrunc-fresh-root');
  const root = path.join(dir, 'new', 'root');
  const c = testContainer(t, () => {}, { root });
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  t.equal(fs.statSync(root).mode & 0o7777, 0o700, 'the root: 0700');
  t.equal(fs.statSync(path.join(root, c.id)).mode & 0o7777, 0o711, 'the container directory: 0711');
  t.equal(fs.statSync(path.join(root, c.id, 'state.json')).mode & 0o7777, 0o600, 'state.json: 0600');
  t.equal(c.tsrunc(['start', c.id]).status, 0);
  t.equal(c.status(), 'running');
  const listed = c.tsrunc(['list', '-q']);
  t.equal(listed.stdout.trim(), c.id);
  t.equal(c.tsrunc(['exec', c.id, 'true']).status, 0);
  t.equal(c.tsrunc(['pause', c.id]).status, 0);
  t.equal(c.tsrunc(['resume', c.id]).status, 0);
  t.equal(c.tsrunc(['kill', c.id, 'KILL']).status, 0);
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  t.same(rootEntries(root), []);
});

// ---- H: uid/gid edge values -------------------------------------------------------------------

t.test('H: process.user.uid 4294967295 fails create with its pointer, and leaves nothing', { skip }, async (t) => {
  for (const [field, value] of [
    ['uid', 4294967295],
    ['gid', 4294967296],
    ['uid', 2147483648],
  ] as const) {
    const c = testContainer(t, (s) => (s.process!.user[field] = value));
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1, `${field} ${value}: exit 1`);
    t.match(r.stderr, `config.json: /process/user/${field}: must be <= 2147483647`);
    assertNothingLeft(t, c);
  }
});

t.test(
  'H: exec --user 4294967295 / 4294967296 and --additional-gids 4294967295 are refused; 2147483647 runs as that id',
  { skip },
  async (t) => {
    const c = testContainer(t);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    for (const [args, message] of [
      [['--user', '4294967295'], 'exec failed: exec: --user: uid 4294967295 is out of range (0 to 2147483647)'],
      [['--user', '4294967296'], 'exec failed: exec: --user: uid 4294967296 is out of range'],
      [['--user', '1000:4294967295'], 'exec failed: exec: --user: gid 4294967295 is out of range'],
      [['--additional-gids', '4294967295'], 'exec failed: exec: --additional-gids: gid 4294967295 is out of range'],
    ] as const) {
      const r = c.tsrunc(['exec', ...args, c.id, 'id', '-u']);
      t.equal(r.status, 255, `${args.join(' ')}: exit 255`);
      t.match(r.stderr, message);
      t.equal(r.stdout, '', `${args.join(' ')}: nothing ran (as root or otherwise)`);
    }
    const ok = c.tsrunc([
      'exec',
      '--user',
      '2147483647:2147483647',
      '--additional-gids',
      '2147483647',
      c.id,
      'sh',
      '-c',
      'id -u; id -g; id -G',
    ]);
    t.equal(ok.status, 0, ok.stderr);
    t.equal(ok.stdout, '2147483647\n2147483647\n2147483647\n');
  },
);

// ---- NUL, numbers, nesting, and messages that never quote the file -----------------------------

/** Writes `c`'s config.json with each "@NAME@" placeholder string replaced by raw JSON text. */
function writeRawConfig(c: TestContainer, raw: Record<string, string>): void {
  let text = JSON.stringify(c.spec, null, 2);
  for (const [name, value] of Object.entries(raw)) text = text.split(JSON.stringify(`@${name}@`)).join(value);
  fs.writeFileSync(path.join(c.bundle, 'config.json'), text);
}

t.test(
  'NUL: create with a NUL inside process.args or an annotation key fails with the pointers, and leaves nothing',
  { skip },
  async (t) => {
    const c = testContainer(t, (s) => {
      s.process!.args = ['sh', '@ARG@'];
      s.annotations = { '@KEY@': 'v' } as Record<string, string>;
    });
    writeRawConfig(c, { ARG: '"-c\\u0000echo pwned"' });
    fs.writeFileSync(
      path.join(c.bundle, 'config.json'),
      fs.readFileSync(path.join(c.bundle, 'config.json'), 'utf8').replace('"@KEY@"', '"org.example\\u0000x"'),
    );
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1);
    t.match(r.stderr, 'config.json: /process/args/1: must not contain a NUL character');
    t.match(
      r.stderr,
      /config\.json: \/annotations: has a property name with a NUL character: \\*"org\.example\\+u0000x\\*"/,
    );
    assertNothingLeft(t, c);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 1, 'run refuses too');
    assertNothingLeft(t, c);
  },
);

t.test('NUL: exec --process with a NUL in an env entry: exit 255, the pointer named', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const file = path.join(c.bundle, 'process.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ ...c.spec.process, args: ['true'], env: ['@E@'] }).replace('"@E@"', '"LD_PRELOAD=/x.so\\u0000"'),
  );
  const r = c.tsrunc(['exec', '--process', file, c.id]);
  t.equal(r.status, 255);
  t.match(r.stderr, `${file}: /env/0: must not contain a NUL character`);
});

t.test(
  'rlimits: 18446744073709551615 is unlimited in the container; 18446744073709551614 and 2^63 - 1 are refused (and update --pids-limit 10^20)',
  { skip },
  async (t) => {
    const c = testContainer(
      t,
      (s) =>
        (s.process!.rlimits = [
          { type: 'RLIMIT_CORE', soft: '@V@' as unknown as number, hard: '@V@' as unknown as number },
        ]),
    );
    for (const v of ['18446744073709551614', '9223372036854775807']) {
      writeRawConfig(c, { V: v });
      const r = c.tsrunc(['create', c.id]);
      t.equal(r.status, 1, `${v}: refused`);
      t.match(
        r.stderr,
        'config.json: /process/rlimits/0/soft: must be an integer from 0 to 9007199254740991, or 18446744073709551615 (unlimited)',
      );
      assertNothingLeft(t, c);
    }
    writeRawConfig(c, { V: '18446744073709551615' });
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    t.match(
      fs.readFileSync(`/proc/${c.pid()}/limits`, 'utf8'),
      /^Max core file size\s+unlimited\s+unlimited\s+bytes\s*$/m,
    );
    // (and update's numbers, on their way to cgroup files)
    const u = c.tsrunc(['update', '--pids-limit', '99999999999999999999', c.id]);
    t.equal(u.status, 1);
    t.match(u.stderr, /update: invalid value .*99999999999999999999.* for --pids-limit: out of range/);
  },
);

t.test(
  'numbers: a hook timeout of 2147484 s and a console height of 65536 fail create with their pointers',
  { skip },
  async (t) => {
    const c = testContainer(t, (s) => {
      s.hooks = {
        createRuntime: [{ path: '/bin/true', timeout: 2147484 }],
        startContainer: [{ path: '/bin/true', timeout: 4294967 }],
      };
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 65536, width: 80 };
    });
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1);
    for (const line of [
      '/hooks/createRuntime/0/timeout: must be <= 2147483',
      '/hooks/startContainer/0/timeout: must be <= 2147483',
      '/process/consoleSize/height: must be <= 65535',
    ])
      t.match(r.stderr, `config.json: ${line}`);
    assertNothingLeft(t, c);
  },
);

t.test(
  'nesting: 100000 levels in config.json, process.json or update --resources fail at once, with a pointer',
  { skip },
  async (t) => {
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    const c = testContainer(t, (s) => ((s as Spec & Record<string, unknown>)['org.example.x'] = '@D@'));
    writeRawConfig(c, { D: deep });
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1);
    t.match(r.stderr, /config\.json: \/org\.example\.x(\/0)+: nested deeper than 512 levels \(line \d+, column \d+\)/);
    t.notMatch(r.stderr, /call stack/);
    assertNothingLeft(t, c);

    const d = testContainer(t);
    t.equal(d.tsrunc(['run', '-d', d.id]).status, 0);
    const proc = path.join(d.bundle, 'process.json');
    fs.writeFileSync(proc, `{"x": ${deep}, "args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}`);
    const e = d.tsrunc(['exec', '--process', proc, d.id]);
    t.equal(e.status, 255);
    t.match(e.stderr, /process\.json: \/x(\/0)+: nested deeper than 512 levels/);
    const u = d.tsrunc(['update', '--resources', '-', d.id], { input: `{"pids": {"limit": 100}, "x": ${deep}}` });
    t.equal(u.status, 1);
    t.match(u.stderr, /resources \(stdin\): \/x(\/0)+: nested deeper than 512 levels/);
  },
);

t.test(
  'messages: a config.json symlinked to a file of secrets that is not JSON: the secret is in neither stderr nor the --log line',
  { skip },
  async (t) => {
    const c = testContainer(t);
    const secret = 'TOKEN-5ecr3t-c0ntent-of-a-root-only-file';
    const file = path.join(tempDir(t, 'tsrunc-secret'), 'shadow');
    fs.writeFileSync(file, `${secret}:x:0:0\n`, { mode: 0o600 });
    fs.rmSync(path.join(c.bundle, 'config.json'));
    fs.symlinkSync(file, path.join(c.bundle, 'config.json'));
    const log = path.join(c.bundle, 'log.json');
    for (const args of [['create', c.id], ['run', c.id], ['validate']]) {
      fs.rmSync(log, { force: true });
      const r = c.tsrunc(['--log', log, '--log-format', 'json', ...args]);
      t.equal(r.status, 1, `${args[0]}: exit 1`);
      t.notMatch(r.stderr, secret.slice(0, 5), `${args[0]}: not in stderr`);
      const line = fs.readFileSync(log, 'utf8');
      t.notMatch(line, secret.slice(0, 5), `${args[0]}: not in the log`);
      t.match(
        line,
        'config.json: /: invalid JSON at line 1, column 1: unexpected character',
        `${args[0]}: where and what`,
      );
    }
    assertNothingLeft(t, c);
  },
);
