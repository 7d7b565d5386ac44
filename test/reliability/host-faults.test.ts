// Faults from around tsrunc: the container's init dying before start (and during create),
// the caller SIGKILLing `run`, the state directory on a full filesystem, --root on a
// read-only filesystem. Each ends with a clear answer and nothing left behind.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import type { FaultPoint } from '../../src/util/faults';
import { rootSkipReason, testContainer } from '../helpers/container';
import { cgroupProcs, waitForStatus } from '../helpers/host';
import { pollUntil, tempDir, type Teardownable } from '../helpers/tsrunc';
import { isSameProcessAlive, readProcStat } from '../../src/state/proc';
import {
  armedHooksDir,
  assertClean,
  hookEnv,
  killBackground,
  resume,
  startTsrunc,
  tempFilesUnder,
  waitPaused,
  within,
} from './harness';

const skip = rootSkipReason();

/** A small tmpfs mounted by this test (unmounted at teardown), for --root. */
function tmpfs(t: Teardownable, options: string): string {
  const dir = tempDir(t, 'tsrunc-tmpfs');
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tsrunc-test', dir]);
  t.teardown(() => {
    spawnSync('umount', ['-l', dir]);
  });
  return dir;
}

/** Fills the filesystem of `dir` (data and, with `inodes`, inodes too) until ENOSPC. */
function fill(dir: string, inodes: boolean): void {
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  if (!inodes) return;
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(path.join(dir, `inode-${i}`), '');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      return;
    }
  }
}

function unfill(dir: string): void {
  for (const name of fs.readdirSync(dir))
    if (name === 'filler' || name.startsWith('inode-')) fs.rmSync(path.join(dir, name));
}

t.test('the init dies before start: state says stopped, start says so, delete cleans', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  const pid = c.pid();
  process.kill(pid, 'SIGKILL');
  t.ok(await waitForStatus(c, 'stopped'), 'state: stopped');
  const start = c.tsrunc(['start', c.id]);
  t.equal(start.status, 1);
  t.match(start.stderr, /cannot start a container that has stopped/);
  const del = c.tsrunc(['delete', c.id]);
  t.equal(del.status, 0, `delete without --force: ${del.stderr}`);
  assertClean(t, c);
});

for (const point of ['create:hooks', 'create:ready'] as FaultPoint[]) {
  t.test(`the init dies during create (at ${point}): a clear error, nothing left`, { skip }, async (t) => {
    const c = testContainer(t);
    const hooks = armedHooksDir(t);
    const bg = startTsrunc(['--root', c.root, 'create', c.id], {
      cwd: c.bundle,
      env: hookEnv({ dir: hooks, pauseAt: [point] }),
    });
    t.teardown(() => killBackground(bg).then(() => undefined));
    await waitPaused(bg, hooks, point);
    const procs = cgroupProcs(c.id);
    t.equal(procs.length, 1, 'the init is in the container cgroup');
    for (const pid of procs) process.kill(pid, 'SIGKILL');
    // SIGKILL is delivered at once but the exit takes a moment: resume once it is dead.
    await pollUntil(() => !procs.some((pid) => isSameProcessAlive(pid, readProcStat(pid)?.startTime ?? -1)), 60_000, 5);
    resume(hooks, point, bg.pid);
    const r = await within(bg.done, 60_000);
    t.equal(r?.status, 1, `create fails: ${r?.stderr}`);
    t.match(
      r?.stderr,
      /container init exited during create|the container process exited during setup|EPIPE|ECONNRESET/,
    );
    t.notMatch(r?.stderr, /internal error/);
    assertClean(t, c);
  });
}

t.test('the caller SIGKILLs run: the container runs on, state says so, delete --force cleans', { skip }, async (t) => {
  const c = testContainer(t);
  const run = startTsrunc(['--root', c.root, 'run', c.id], { cwd: c.bundle });
  t.teardown(() => killBackground(run).then(() => undefined));
  t.ok(await waitForStatus(c, 'running'), 'running');
  const killed = await killBackground(run);
  t.equal(killed.signal, 'SIGKILL');
  t.equal(c.status(), 'running', 'the container outlives its run');
  t.equal(c.tsrunc(['exec', c.id, 'true']).status, 0, 'and takes exec');
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  assertClean(t, c);
});

for (const point of ['create:cgroup', 'create:ready', 'start:released', 'start:done'] as FaultPoint[]) {
  t.test(`the caller SIGKILLs run at ${point}: state answers, delete --force cleans`, { skip }, async (t) => {
    const c = testContainer(t);
    const hooks = armedHooksDir(t);
    const run = startTsrunc(['--root', c.root, 'run', c.id], {
      cwd: c.bundle,
      env: hookEnv({ dir: hooks, pauseAt: [point] }),
    });
    t.teardown(() => killBackground(run).then(() => undefined));
    await waitPaused(run, hooks, point);
    await killBackground(run);
    const status = c.status();
    t.ok(['stopped', 'created', 'running'].includes(status), `state: ${status}`);
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
    assertClean(t, c);
  });
}

t.test(
  'a SIGTERM that reaches run while it creates the container goes to the process once it runs',
  { skip },
  async (t) => {
    // No pid namespace: the process is not a pid 1 (which ignores a SIGTERM it has no handler for).
    const c = testContainer(t, (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((ns) => ns.type !== 'pid');
      s.process!.args = ['sleep', '1000'];
    });
    for (const point of ['create:ready', 'start:locked'] as FaultPoint[]) {
      const hooks = armedHooksDir(t);
      const run = startTsrunc(['--root', c.root, 'run', c.id], {
        cwd: c.bundle,
        env: hookEnv({ dir: hooks, pauseAt: [point] }),
      });
      t.teardown(() => killBackground(run).then(() => undefined));
      await waitPaused(run, hooks, point);
      process.kill(run.pid, 'SIGTERM');
      resume(hooks, point, run.pid);
      const r = await within(run.done, 60_000);
      t.equal(r?.signal, null, `${point}: run is not ended by the signal itself`);
      t.equal(r?.status, 128 + 15, `${point}: run reports its process killed by SIGTERM: ${r?.stderr}`);
      t.equal(c.status(), 'missing', `${point}: and deletes the container, as after any exit`);
      assertClean(t, c);
    }
  },
);

t.test('--root on a full filesystem: a clear error and no partial state', { skip }, async (t) => {
  const mnt = tmpfs(t, 'size=256k,mode=0700');
  const root = path.join(mnt, 'root');
  fs.mkdirSync(root, { mode: 0o700 });
  const c = testContainer(t, () => {}, { root });
  fill(mnt, false);
  const r = c.tsrunc(['create', c.id]);
  t.equal(r.status, 1, 'create fails');
  t.match(r.stderr, /writing container state .*state\.json: ENOSPC: no space left on device/);
  t.same(fs.readdirSync(root), [], 'nothing under --root');
  assertClean(t, c);
  t.equal(c.status(), 'missing');

  unfill(mnt);
  t.equal(c.tsrunc(['create', c.id]).status, 0, 'once there is room, the id can be created');
  // Full again between create and start: the init runs, the record cannot say so.
  fill(mnt, false);
  const start = c.tsrunc(['start', c.id]);
  t.equal(start.status, 1, 'start fails');
  t.match(start.stderr, /ENOSPC/);
  t.equal(c.status(), 'running', 'state tells the truth: the process runs');
  t.same(tempFilesUnder(root), [], 'no temp file left');
  const del = c.tsrunc(['delete', '--force', c.id]);
  t.equal(del.status, 0, `delete --force works on the full filesystem: ${del.stderr}`);
  assertClean(t, c);
});

t.test('--root on a filesystem without free inodes: a clear error and no partial state', { skip }, async (t) => {
  const mnt = tmpfs(t, 'size=1m,nr_inodes=64,mode=0700');
  const root = path.join(mnt, 'root');
  fs.mkdirSync(root, { mode: 0o700 });
  const c = testContainer(t, () => {}, { root });
  fill(mnt, true);
  const r = c.tsrunc(['create', c.id]);
  t.equal(r.status, 1, 'create fails');
  t.match(r.stderr, /creating state directory .*: ENOSPC/);
  t.same(fs.readdirSync(root), [], 'nothing under --root');
  assertClean(t, c);
});

t.test('--root on a read-only filesystem', { skip }, async (t) => {
  const mnt = tmpfs(t, 'size=1m,mode=0700');
  const root = path.join(mnt, 'root');
  fs.mkdirSync(root, { mode: 0o700 });
  const c = testContainer(t, () => {}, { root });
  const other = testContainer(t, () => {}, { root });
  t.equal(other.tsrunc(['create', other.id]).status, 0, 'a container made before the remount');
  execFileSync('mount', ['-o', 'remount,ro', mnt]);

  const r = c.tsrunc(['create', c.id]);
  t.equal(r.status, 1, 'create fails');
  t.match(r.stderr, /creating state directory .*: EROFS: read-only file system/);
  t.equal(c.status(), 'missing');
  const missingRoot = c.tsrunc(['--root', path.join(mnt, 'nonexistent'), 'create', c.id]);
  t.equal(missingRoot.status, 1);
  t.match(missingRoot.stderr, /creating state root .*: EROFS/);

  t.equal(other.status(), 'created', 'state still reads the existing container');
  const list = other.tsrunc(['list', '-q']);
  t.equal(list.stdout.trim(), other.id, 'and list');
  const start = other.tsrunc(['start', other.id]);
  t.equal(start.status, 1, 'start cannot record anything');
  t.match(start.stderr, /EROFS/);
  t.notMatch(start.stderr, /internal error/);
  const del = other.tsrunc(['delete', '--force', other.id]);
  t.equal(del.status, 1, 'delete cannot remove the record');
  t.match(del.stderr, /EROFS/);
  t.notMatch(del.stderr, /internal error/);

  execFileSync('mount', ['-o', 'remount,rw', mnt]);
  const del2 = other.tsrunc(['delete', '--force', other.id]);
  t.equal(del2.status, 0, `once writable, delete --force works: ${del2.stderr}`);
  assertClean(t, other);
  assertClean(t, c);
});
