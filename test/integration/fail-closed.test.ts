// Issue 12, the attacks on tsrunc's inputs that must fail closed, each performed through the
// CLI: a symlink planted at the pid file's temp name (F), --preserve-fds over what the caller
// passed (G), uid/gid edge values (H), a --root owned by someone else with a planted hook (I),
// NUL inside strings, numeric edges, and parse errors that must not quote the file.
import { spawnSync, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, testContainer } from '../helpers/container';
import { TSRUNC, tempDir, type Teardownable } from '../helpers/tsrunc';

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
function runWithFds(t: Teardownable, args: string[], extra: (number | 'ignore')[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; file?: string; fileArgs?: string[] } = {}): FdRun {
  const dir = tempDir(t, 'tsrunc-fdrun');
  const out = fs.openSync(path.join(dir, 'out'), 'w+');
  const err = fs.openSync(path.join(dir, 'err'), 'w+');
  try {
    const stdio: StdioOptions = ['ignore', out, err, ...extra];
    const r = spawnSync(opts.file ?? TSRUNC, [...(opts.fileArgs ?? []), ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio, timeout: 60_000, killSignal: 'SIGKILL' });
    return { status: r.status, signal: r.signal, pid: r.pid ?? 0, stdout: fs.readFileSync(path.join(dir, 'out'), 'utf8'), stderr: fs.readFileSync(path.join(dir, 'err'), 'utf8') };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
}

// ---- F: the pid file's temp file -----------------------------------------------------------

t.test('F: create --pid-file in a world-writable dir: symlinks planted at FILE.PID.tmp for the pids tsrunc will get are not followed', { skip }, async (t) => {
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
  t.ok(r.pid >= first && r.pid < first + planted, `tsrunc ran as pid ${r.pid}, whose old temp name was planted (${first}..${first + planted - 1})`);
  t.equal(fs.readFileSync(victim, 'utf8'), 'root-owned\n', 'the victim is untouched');
  t.equal(fs.lstatSync(pidFile).isFile(), true, 'the pid file is a regular file');
  t.equal(fs.readFileSync(pidFile, 'utf8'), String(c.pid()), 'holding the init pid');
});

