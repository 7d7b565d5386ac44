// Commands racing each other on one container: 20 creates of one id (one winner, a clear
// error for the others), kill against start, delete --force against exec, pause against
// kill, and creates SIGKILLed at random moments. Every command returns within a bound (no
// deadlock) and nothing is left afterwards.
import * as fs from 'node:fs';
import t, { type Test } from 'tap';
import { rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { cgroupProcs, waitForStatus } from '../helpers/host';
import { pollUntil, type RunResult } from '../helpers/tsrunc';
import { assertClean, killBackground, sleep, startTsrunc, stateAnswer, type Background, within } from './harness';

const skip = rootSkipReason();
const ROUNDS = 6;
const BOUND_MS = 60_000;

function bg(t: Test, c: TestContainer, args: string[]): Background {
  const b = startTsrunc(['--root', c.root, ...args], { cwd: c.bundle });
  t.teardown(() => killBackground(b).then(() => undefined));
  return b;
}

/** The result, failing the test (and killing the process) when it does not end in time. */
async function bounded(t: Test, b: Background, what: string): Promise<RunResult> {
  const r = await within(b.done, BOUND_MS);
  t.ok(r !== undefined, `${what} returned within ${BOUND_MS} ms`);
  return r ?? killBackground(b);
}

const jitter = (): Promise<void> => sleep(Math.floor(Math.random() * 40));

t.test('20 concurrent creates of one id: exactly one container', { skip }, async (t) => {
  const c = testContainer(t);
  const all = Array.from({ length: 20 }, () => bg(t, c, ['create', c.id]));
  const results = await Promise.all(all.map((b, i) => bounded(t, b, `create #${i}`)));
  const winners = results.filter((r) => r.status === 0);
  const losers = results.filter((r) => r.status !== 0);
  t.equal(winners.length, 1, 'one create succeeds');
  t.equal(losers.length, 19, '19 fail');
  for (const r of losers) {
    t.equal(r.status, 1);
    t.match(r.stderr, /container with given ID already exists/, 'with "container with given ID already exists"');
  }
  t.equal(c.status(), 'created');
  t.equal(cgroupProcs(c.id).length, 1, 'one init');
  t.same(fs.readdirSync(c.root), [c.id], 'one state directory');
  t.equal(c.tsrunc(['start', c.id]).status, 0, 'the winner works');
  t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0);
  assertClean(t, c, 'after delete');
});

t.test('kill racing start', { skip }, async (t) => {
  for (let round = 0; round < ROUNDS; round++) {
    const c = testContainer(t);
    t.equal(c.tsrunc(['create', c.id]).status, 0);
    const start = bg(t, c, ['start', c.id]);
    await jitter();
    const kill = bg(t, c, ['kill', c.id, 'KILL']);
    const [s, k] = [await bounded(t, start, 'start'), await bounded(t, kill, 'kill')];
    t.ok(
      s.status === 0 || /cannot start a container that has stopped|container init exited before start/.test(s.stderr),
      `start: ${s.status} ${s.stderr}`,
    );
    t.equal(k.status, 0, `kill reaches the init: ${k.stderr}`);
    t.ok(await waitForStatus(c, 'stopped'), 'the container stops');
    const del = c.tsrunc(['delete', c.id]);
    t.equal(del.status, 0, `delete: ${del.stderr}`);
    assertClean(t, c, `round ${round}`);
  }
});

t.test('delete --force racing exec', { skip }, async (t) => {
  for (let round = 0; round < ROUNDS; round++) {
    const c = testContainer(t);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    const exec = bg(t, c, ['exec', c.id, 'sleep', '100']);
    await jitter();
    const del = bg(t, c, ['delete', '--force', c.id]);
    const [e, d] = [await bounded(t, exec, 'exec'), await bounded(t, del, 'delete --force')];
    t.equal(d.status, 0, `delete --force: ${d.stderr}`);
    const execOk =
      e.status === 137 ||
      (e.status === 255 &&
        /exec failed: (container does not exist|cannot exec in a stopped container|exited during setup)/.test(
          e.stderr,
        ));
    t.ok(execOk, `exec ends killed or with a clear error: ${e.status} ${e.stderr}`);
    t.equal(c.status(), 'missing');
    assertClean(t, c, `round ${round}`);
  }
});

t.test('pause racing kill', { skip }, async (t) => {
  for (let round = 0; round < ROUNDS; round++) {
    const c = testContainer(t);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    const pause = bg(t, c, ['pause', c.id]);
    await jitter();
    const kill = bg(t, c, ['kill', c.id, 'KILL']);
    const [p, k] = [await bounded(t, pause, 'pause'), await bounded(t, kill, 'kill')];
    t.ok(p.status === 0 || /container not running/.test(p.stderr), `pause: ${p.status} ${p.stderr}`);
    t.equal(k.status, 0, `kill: ${k.stderr}`);
    t.ok(await waitForStatus(c, 'stopped'), 'the container stops (not stuck paused)');
    const del = c.tsrunc(['delete', c.id]);
    t.equal(del.status, 0, `delete: ${del.stderr}`);
    assertClean(t, c, `round ${round}`);
  }
});

t.test('create SIGKILLed at random moments: state answers, delete --force cleans', { skip }, async (t) => {
  for (let round = 0; round < 2 * ROUNDS; round++) {
    const c = testContainer(t);
    const create = bg(t, c, ['create', c.id]);
    await sleep(Math.floor(Math.random() * 250));
    await killBackground(create);
    const state = stateAnswer(c.tsrunc(['state', c.id], { timeoutMs: BOUND_MS }));
    t.notOk(typeof state === 'object' && 'unexpected' in state, `state answers: ${JSON.stringify(state)}`);
    if (typeof state === 'object' && 'status' in state && state.status === 'stopped') {
      // Stopped means no process of the container lives on (an orphaned child dies with its
      // socket, which takes a moment; the deadline only bounds a failure).
      await pollUntil(() => cgroupProcs(c.id).length === 0, 60_000, 20);
      t.same(cgroupProcs(c.id), [], 'state says stopped: no process in the container cgroup');
    }
    const del = c.tsrunc(['delete', '--force', c.id], { timeoutMs: BOUND_MS });
    t.ok(del.status === 0 || /container does not exist/.test(del.stderr), `delete --force: ${del.stderr}`);
    assertClean(t, c, `round ${round}`);
  }
});
