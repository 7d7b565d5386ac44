// Running fast-check properties under tap with seeds that make every run replayable.
//
// Each property has a fixed default seed (derived from its name), so `npm test` runs the same
// cases every time and a failure in CI reproduces locally. The environment changes that:
//   FUZZ_SEED=<int>|random   seed for every property (random: a new one, printed)
//   FUZZ_PATH=<path>         replay one counterexample (with FUZZ_SEED and FUZZ_ONLY)
//   FUZZ_ONLY=<name>         run only the properties whose name contains this
//   FUZZ_SCALE=<number>      multiply every property's number of runs (longer campaigns)
// A failure prints the seed, the path and the command that replays it. Properties that run
// processes do not shrink unless FUZZ_SHRINK=1 (each shrink step costs a process).
import * as path from 'node:path';
import fc from 'fast-check';
import type { Test } from 'tap';
import { REPO_ROOT } from '../helpers/tsrunc';

function nameSeed(name: string): number {
  // FNV-1a: a stable 32-bit seed per property name.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h | 0;
}

function seedFor(name: string): number {
  const env = process.env['FUZZ_SEED'];
  if (env === undefined || env === '') return nameSeed(name);
  if (env === 'random') return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const n = Number(env);
  if (!Number.isInteger(n)) throw new Error(`FUZZ_SEED must be an integer or "random", got ${JSON.stringify(env)}`);
  return n | 0;
}

export function scaled(runs: number): number {
  const s = Number(process.env['FUZZ_SCALE'] ?? '1');
  return Math.max(1, Math.round(runs * (Number.isFinite(s) && s > 0 ? s : 1)));
}

/** Whether FUZZ_ONLY leaves this property in. */
export function selected(name: string): boolean {
  const only = process.env['FUZZ_ONLY'];
  return only === undefined || only === '' || name.includes(only);
}

export interface FuzzOutcome {
  runs: number;
  ms: number;
  failed: boolean;
}

/**
 * Checks `property` with `runs` cases (scaled by FUZZ_SCALE) under a replayable seed, as one
 * tap assertion; on failure the message holds the counterexample, the seed, the path and the
 * command that replays exactly that case.
 */
export async function fuzz<Ts>(
  t: Test,
  name: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  runs: number,
  opts: { shrink?: boolean } = {},
): Promise<FuzzOutcome> {
  if (!selected(name)) {
    t.comment(`${name}: not selected by FUZZ_ONLY`);
    return { runs: 0, ms: 0, failed: false };
  }
  const seed = seedFor(name);
  const numRuns = scaled(runs);
  const params: fc.Parameters<Ts> = {
    seed,
    numRuns,
    endOnFailure: !(opts.shrink ?? true) && process.env['FUZZ_SHRINK'] !== '1',
  };
  const replayPath = process.env['FUZZ_PATH'];
  if (replayPath !== undefined && replayPath !== '') params.path = replayPath;
  const started = Date.now();
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, params);
  const ms = Date.now() - started;
  if (details.failed) {
    const file = path.relative(REPO_ROOT, process.argv[1] ?? 'test/fuzz');
    const replay = `FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''} FUZZ_ONLY='${name}' node node_modules/.bin/tap ${file}`;
    const error =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    const example = fc.stringify(details.counterexample);
    t.fail(
      `${name}: failed after ${details.numRuns} cases (seed ${details.seed}, path ${details.counterexamplePath ?? ''}, shrunk ${details.numShrinks} times)\n${error}\ncounterexample: ${example.length > 3000 ? `${example.slice(0, 3000)} ...` : example}\nreplay: ${replay}${params.endOnFailure === true ? '\n(FUZZ_SHRINK=1 shrinks the counterexample first)' : ''}`,
    );
  } else {
    t.pass(`${name}: ${details.numRuns} cases passed (seed ${seed}, ${ms} ms)`);
  }
  return { runs: details.numRuns, ms, failed: details.failed };
}
