// Generated configs through real containers (root only): configs meant to be valid on this
// host (test/fuzz/host-spec.ts) are checked by the library, and the valid ones go through
// `create`, sometimes `start`, and `delete --force`, two containers at a time, each in its
// own private --root with its cgroup under this process's test parent and file stdio.
// Never a crash: create ends in success or a clean error with an error entry in the log; a
// created container is "created"; delete --force succeeds; and afterwards nothing is left:
// no state entry, no cgroup directory, no process, no mount of the bundle or rootfs. A create
// that fails must leave nothing even before any delete.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { CGROUP_PARENT, removeCgroupParent, rootSkipReason } from '../helpers/container';
import { lastLogEntry, runTsrunc } from '../helpers/tsrunc';
import { fuzz } from './fuzz';
import { buildHostSpec, hostSpecChoices, type HostSpecChoices } from './host-spec';
import { leaks, makeSlots, type Slot } from './lifecycle';
import { runTsruncAsync } from './proc';
import { cleanExit, validateVerdict } from './verdict';

const skip = rootSkipReason();
const PARALLEL = 2;

interface Case {
  choices: HostSpecChoices;
  start: boolean;
}

const counts = { generated: 0, invalid: 0, created: 0, refused: 0, started: 0, startFailed: 0, deleted: 0 };
const refusals = new Map<string, number>();
const invalids = new Map<string, number>();
let counter = 0;

function tally(map: Map<string, number>, msg: string): void {
  // One line per kind of message: numbers, ids and paths vary.
  const key = msg
    .replace(/fz\d+-\d+/g, 'ID')
    .replace(/\/tmp\/[^\s:"]+/g, 'TMP')
    .replace(/\d+/g, 'N')
    .slice(0, 140);
  map.set(key, (map.get(key) ?? 0) + 1);
}

t.test('generated configs through create and delete --force', { skip }, async (t) => {
  const slots = makeSlots(t, PARALLEL, 'tsrunc-fuzz-lifecycle');
  const live = new Map<string, Slot>();
  t.teardown(() => {
    for (const [id, slot] of live) runTsrunc(['--root', slot.root, 'delete', '--force', id]);
    removeCgroupParent();
  });

  async function tsrunc(
    slot: Slot,
    args: string[],
  ): Promise<{ r: Awaited<ReturnType<typeof runTsruncAsync>>; log: string }> {
    fs.rmSync(slot.log, { force: true });
    const r = await runTsruncAsync(['--root', slot.root, '--log', slot.log, '--log-format', 'json', ...args], {
      cwd: slot.bundle,
      timeoutMs: 60_000,
    });
    const log = fs.existsSync(slot.log) ? fs.readFileSync(slot.log, 'utf8') : '';
    return { r, log };
  }

  async function runCase(c: Case, slot: Slot): Promise<void> {
    const id = `fz${process.pid}-${++counter}`;
    const spec = buildHostSpec(c.choices, {
      id,
      rootfs: slot.rootfs,
      cgroupsPath: `${CGROUP_PARENT}/${id}`,
      shared: slot.shared,
    });
    const text = JSON.stringify(spec, null, 2);
    counts.generated++;
    const lib = validateVerdict(text, { bundle: slot.bundle, checkHost: true });
    if (lib.wrong !== undefined) throw new Error(`library: ${lib.wrong}`);
    if (!lib.valid) {
      counts.invalid++;
      tally(invalids, `${lib.problems[0]?.pointer}: ${lib.problems[0]?.message}`);
      return;
    }
    fs.writeFileSync(path.join(slot.bundle, 'config.json'), text);
    live.set(id, slot);
    const create = await tsrunc(slot, ['create', '--bundle', slot.bundle, id]);
    const unclean = cleanExit(create.r, create.log);
    if (unclean !== undefined) throw new Error(`create: ${unclean}`);
    if (create.r.status === 0) {
      counts.created++;
      const state = await tsrunc(slot, ['state', id]);
      const status =
        state.r.status === 0
          ? (JSON.parse(state.r.stdout) as { status: string }).status
          : `state failed: ${state.r.stderr}`;
      if (status !== 'created') throw new Error(`after create, state says ${status}`);
      if (c.start) {
        const start = await tsrunc(slot, ['start', id]);
        const bad = cleanExit(start.r, start.log);
        if (bad !== undefined) throw new Error(`start: ${bad}`);
        if (start.r.status === 0) counts.started++;
        else counts.startFailed++;
      }
      const del = await tsrunc(slot, ['delete', '--force', id]);
      const badDelete = cleanExit(del.r, del.log);
      if (badDelete !== undefined || del.r.status !== 0)
        throw new Error(`delete --force: exit ${del.r.status} ${badDelete ?? del.r.stderr.slice(0, 800)}`);
      counts.deleted++;
    } else {
      counts.refused++;
      const entry = lastLogEntry(slot.log);
      if (entry?.['level'] !== 'error' || typeof entry['msg'] !== 'string' || entry['msg'] === '')
        throw new Error(
          `create exit ${create.r.status} without an error entry in the log: ${create.r.stderr.slice(0, 800)}`,
        );
      tally(refusals, entry['msg']);
    }
    live.delete(id);
    const left = leaks(slot, id);
    if (left.length > 0) {
      // Leave the host clean for the cases after this one, then report.
      runTsrunc(['--root', slot.root, 'delete', '--force', id]);
      throw new Error(
        `${create.r.status === 0 ? 'after delete --force' : 'after a failed create'}, left: ${left.join('; ')}\nconfig: ${text.slice(0, 4000)}`,
      );
    }
  }

  const caseArb = (slot: Slot): fc.Arbitrary<Case> =>
    fc.record({ choices: hostSpecChoices(slot.shared), start: fc.boolean() });
  const outcome = await fuzz(
    t,
    'valid generated configs: create, start, delete --force',
    fc.asyncProperty(fc.tuple(...slots.map(caseArb)), async (cases) => {
      await Promise.all(cases.map((c, i) => runCase(c, slots[i] as Slot)));
    }),
    200,
    { shrink: false },
  );
  if (outcome.runs > 0 && !outcome.failed) {
    // The property holds trivially if nothing gets through: some configs must really run.
    t.ok(counts.created >= outcome.runs / 10, `a share of the generated configs was created (${counts.created})`);
    t.ok(counts.started > 0, `some were started (${counts.started})`);
    t.equal(counts.deleted, counts.created, 'every created one was deleted');
  }
  t.comment(
    `configs: ${counts.generated} generated, ${counts.invalid} invalid (not run), ${counts.created} created, ${counts.refused} refused cleanly by create; ${counts.started} started, ${counts.startFailed} refused cleanly by start; ${counts.deleted} deleted`,
  );
  for (const [msg, n] of [...refusals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12))
    t.comment(`create refused (${n}x): ${msg}`);
  for (const [msg, n] of [...invalids.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6))
    t.comment(`invalid (${n}x): ${msg}`);
});
