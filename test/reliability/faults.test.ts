// tsrunc killed (SIGKILL) at every named step of create, start, exec and delete (the fault
// points of src/util/faults.ts): afterwards `state` answers (a status, or "does not
// exist"), `delete --force` removes everything — state, cgroups, processes, mounts, temp
// files — and the id can be created again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { FAULT_POINTS, type FaultPoint } from '../../src/util/faults';
import { rootSkipReason, testContainer, userNamespace, type TestContainer } from '../helpers/container';
import { sharedDir } from '../helpers/host';
import { pollUntil } from '../helpers/tsrunc';
import {
  armedHooksDir,
  assertClean,
  hookEnv,
  killBackground,
  resume,
  startTsrunc,
  stateAnswer,
  tempFilesUnder,
  waitPaused,
  within,
} from './harness';

const skip = rootSkipReason();

type Phase = 'create' | 'start' | 'exec' | 'delete';

/** What `state` must say right after the kill, where it is certain. */
const EXPECTED: Partial<Record<FaultPoint, string>> = {
  'create:state-dir': 'missing',
  'create:state-tmp': 'missing',
  'create:recorded': 'stopped',
  'create:spawned': 'stopped',
  'create:cgroup': 'stopped',
  'create:ready': 'created',
  'create:pid-file-tmp': 'created',
  'create:done': 'created',
  'start:locked': 'created',
  'start:released': 'running',
  'start:state-tmp': 'running',
  'start:done': 'running',
  'exec:locked': 'running',
  'exec:spawned': 'running',
  'exec:cgroup': 'running',
  'exec:forked': 'running',
  'exec:ready': 'running',
  'exec:done': 'running',
  'delete:locked': 'running',
  'delete:killed': 'stopped',
  'delete:cgroups-removed': 'stopped',
  'delete:state-removed': 'missing',
  'delete:renamed': 'missing',
  'delete:done': 'missing',
};

async function prepare(t: Test, c: TestContainer, phase: Phase): Promise<void> {
  if (phase === 'create') return;
  const created = c.tsrunc(phase === 'start' ? ['create', c.id] : ['run', '-d', c.id]);
  t.equal(created.status, 0, `prepared: ${created.stderr}`);
}

for (const point of FAULT_POINTS) {
  t.test(`SIGKILL at ${point}`, { skip }, async (t) => {
    const phase = point.slice(0, point.indexOf(':')) as Phase;
    const userns = point === 'create:userns';
    const c = testContainer(t, userns ? (s, bundle) => userNamespace(s, { bundle }) : () => {}, { copyRootfs: userns });
    const pidFile = path.join(c.bundle, 'init.pid');
    await prepare(t, c, phase);
    const args: Record<Phase, string[]> = {
      create: ['create', '--pid-file', pidFile, c.id],
      start: ['start', c.id],
      exec: ['exec', c.id, 'sleep', '1'],
      delete: ['delete', '--force', c.id],
    };
    const hooks = armedHooksDir(t);
    const bg = startTsrunc(['--root', c.root, ...args[phase]], {
      cwd: c.bundle,
      env: hookEnv({ dir: hooks, pauseAt: [point] }),
    });
    t.teardown(() => killBackground(bg).then(() => undefined));
    await waitPaused(bg, hooks, point);
    const killed = await killBackground(bg);
    t.equal(killed.signal, 'SIGKILL', 'tsrunc was killed at the point');

    const state = stateAnswer(c.tsrunc(['state', c.id], { timeoutMs: 60_000 }));
    t.notOk(typeof state === 'object' && 'unexpected' in state, `state answers: ${JSON.stringify(state)}`);
    const status = state === 'missing' ? 'missing' : 'status' in state ? state.status : '?';
    const expected = EXPECTED[point];
    if (expected !== undefined) t.equal(status, expected, `state says ${expected}`);

    if (status === 'created') {
      // The init still waits on exec.fifo: the container is usable.
      const started = c.tsrunc(['start', c.id], { timeoutMs: 60_000 });
      t.equal(started.status, 0, `a created container starts: ${started.stderr}`);
      t.equal(c.status(), 'running');
    } else if (status === 'running' && phase === 'start') {
      const stateDir = path.join(c.root, c.id);
      if (point === 'start:state-tmp')
        t.equal(tempFilesUnder(stateDir).length, 1, 'the killed writer left its temp state file');
      const again = c.tsrunc(['start', c.id], { timeoutMs: 60_000 });
      t.not(again.signal, 'SIGKILL', 'a second start returns (no hang)');
      t.equal(again.status, 1);
      t.match(again.stderr, /cannot start an already running container/);
      t.same(tempFilesUnder(stateDir), [], 'the next command holding the lock removed it');
    }

    const del = c.tsrunc(['delete', '--force', c.id], { timeoutMs: 60_000 });
    t.ok(
      del.status === 0 || /container does not exist/.test(del.stderr),
      `delete --force: ${del.status} ${del.stderr}`,
    );
    // The pid file is the caller's: its killed writer's temp file goes with the next write of it.
    const pidTemp = point === 'create:pid-file-tmp';
    if (pidTemp) t.equal(tempFilesUnder(c.bundle).length, 1, 'the killed pid-file writer left its temp file');
    assertClean(t, c, 'after delete --force', !pidTemp);

    if (phase === 'create') {
      const again = await within(
        Promise.resolve(c.tsrunc(['create', '--pid-file', pidFile, c.id], { timeoutMs: 60_000 })),
        60_000,
      );
      t.equal(again?.status, 0, `the id can be created again: ${again?.stderr}`);
      t.equal(c.status(), 'created');
      t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
      fs.rmSync(pidFile, { force: true });
      assertClean(t, c, 'after the second create and delete', true);
    }
  });
}

t.test(
  'an empty state directory (a create killed right after its mkdir) does not block the id',
  { skip },
  async (t) => {
    const c = testContainer(t);
    fs.mkdirSync(path.join(c.root, c.id));
    for (const cmd of [
      ['state', c.id],
      ['kill', c.id, 'KILL'],
      ['start', c.id],
    ]) {
      const r = c.tsrunc(cmd);
      t.equal(r.status, 1, `${cmd[0]} fails`);
      t.match(r.stderr, /container does not exist/, `${cmd[0]}: does not exist`);
    }
    t.same(fs.readdirSync(path.join(c.root, c.id)), [], 'and adds nothing to it');
    const created = c.tsrunc(['create', c.id]);
    t.equal(created.status, 0, `create takes the id: ${created.stderr}`);
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
    fs.mkdirSync(path.join(c.root, c.id));
    const del = c.tsrunc(['delete', c.id]);
    t.match(del.stderr, /container does not exist/);
    assertClean(t, c, 'delete removed the empty directory', true);
  },
);

t.test(
  'a create of the same id while a delete removes the old directory: the new container stays whole',
  { skip },
  async (t) => {
    const c = testContainer(t);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    const hooks = armedHooksDir(t);
    const bg = startTsrunc(['--root', c.root, 'delete', '--force', c.id], {
      cwd: c.bundle,
      env: hookEnv({ dir: hooks, pauseAt: ['delete:renamed'] }),
    });
    t.teardown(() => killBackground(bg).then(() => undefined));
    await waitPaused(bg, hooks, 'delete:renamed');
    // The old directory is out of the id's place but not yet removed: the id is free.
    const created = c.tsrunc(['create', c.id]);
    t.equal(created.status, 0, `the id is taken again: ${created.stderr}`);
    const before = fs.readdirSync(path.join(c.root, c.id)).sort();
    resume(hooks, 'delete:renamed', bg.pid);
    const del = await bg.done;
    t.equal(del.status, 0, `the delete ends: ${del.stderr}`);
    t.equal(c.status(), 'created', 'the new container is still there');
    t.same(fs.readdirSync(path.join(c.root, c.id)).sort(), before, 'with all its files');
    t.same(fs.readdirSync(c.root), [c.id], 'and the old directory is gone');
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
    assertClean(t, c, 'after deleting the new one', true);
  },
);

t.test('exec killed once its process reported from the pid namespace: the program never runs', { skip }, async (t) => {
  const out = sharedDir(t, 'tsrunc-orphan');
  const c = testContainer(t, (s) =>
    s.mounts!.push({ destination: '/out', type: 'bind', source: out, options: ['bind', 'rw'] }),
  );
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const hooks = armedHooksDir(t);
  const bg = startTsrunc(['--root', c.root, 'exec', c.id, 'sh', '-c', 'touch /out/ran'], {
    cwd: c.bundle,
    env: hookEnv({ dir: hooks, pauseAt: ['exec:forked'] }),
  });
  t.teardown(() => killBackground(bg).then(() => undefined));
  await waitPaused(bg, hooks, 'exec:forked');
  t.equal((await killBackground(bg)).signal, 'SIGKILL');
  // Its intermediate sees the runtime gone and exits without letting the process go: only the
  // container's init is left in its cgroup, and the program never ran.
  const alone = await pollUntil(
    () => (JSON.parse(c.tsrunc(['ps', '--format', 'json', c.id]).stdout || '[]') as number[]).length === 1,
    60_000,
    50,
  );
  t.ok(alone, "only the container's init is left");
  t.notOk(fs.existsSync(path.join(out, 'ran')), 'the program did not run');
});
