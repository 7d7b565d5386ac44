// Fuzzed config.json through the command line: `tsrunc validate` and `tsrunc create --dry-run`
// (which validates, resolves cgroups and builds the whole plan without creating anything), on
// bundles holding mutated documents and mutated bytes. Each command must end cleanly: exit 0,
// or exit 1 with every problem the library finds named by its pointer; never a stack trace or
// an internal error, never a signal or a hang, never anything under its private --root. Needs
// no privileges. Three commands run at a time.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { lastLogEntry, tempDir } from '../helpers/tsrunc';
import { configBases } from './bases';
import { fuzz } from './fuzz';
import {
  applyTextMutation,
  mutate,
  mutation,
  textMutation,
  type Json,
  type Mutation,
  type TextMutation,
} from './json-mutate';
import { runTsruncAsync } from './proc';
import { cleanExit, emptyRoot, namesPointer, validateVerdict } from './verdict';

const { bases: recorded, missing } = configBases();
// The rootfs is the bundle's (docker's and podman's point at their own hosts), and no terminal
// (create would want a --console-socket): so that unmutated bases get past validation.
const bases = recorded.map((b) => {
  const doc = structuredClone(b.doc) as { root?: { path?: string }; process?: { terminal?: boolean } };
  if (doc.root !== undefined) doc.root.path = 'rootfs';
  if (doc.process !== undefined) doc.process.terminal = false;
  return { name: b.name, doc: doc as Json };
});
const work = tempDir(t, 'tsrunc-fuzz-cli');
const PARALLEL = 3;

interface Slot {
  bundle: string;
  root: string;
  log: string;
}
const slots: Slot[] = Array.from({ length: PARALLEL }, (_, i) => {
  const bundle = path.join(work, `bundle${i}`);
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  return { bundle, root: path.join(work, `root${i}`), log: path.join(work, `log${i}.json`) };
});

interface Case {
  base: number;
  mutations: Mutation[];
  text: TextMutation[];
  /** Raw bytes put in at a place (invalid UTF-8, NUL ...). */
  bytes?: { at: number; data: Uint8Array };
  command: 'validate' | 'dry-run';
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  base: fc.integer({ min: 0, max: bases.length - 1 }),
  // Many cases stay valid (no mutation at all), so that create gets past validation too.
  mutations: fc.oneof(
    { weight: 1, arbitrary: fc.constant<Mutation[]>([]) },
    { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
  ),
  text: fc.oneof(
    { weight: 5, arbitrary: fc.constant<TextMutation[]>([]) },
    { weight: 1, arbitrary: fc.array(textMutation, { minLength: 1, maxLength: 2 }) },
  ),
  bytes: fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.record({ at: fc.nat(), data: fc.uint8Array({ minLength: 1, maxLength: 6 }) }) },
  ),
  command: fc.constantFrom('validate' as const, 'dry-run' as const),
});

function configBytes(c: Case): Buffer {
  let text = JSON.stringify(mutate((bases[c.base] as { doc: Json }).doc, c.mutations), null, 2);
  for (const m of c.text) text = applyTextMutation(text, m);
  const buf = Buffer.from(text, 'utf8');
  if (c.bytes === undefined) return buf;
  const at = c.bytes.at % (buf.length + 1);
  return Buffer.concat([buf.subarray(0, at), Buffer.from(c.bytes.data), buf.subarray(at)]);
}

const counts = { validate: 0, dryRun: 0, exit0: 0, exit1: 0, cleanErrorsOfValid: 0 };
/** A few of the errors create gave for valid configs, to show in the output. */
const refusals = new Set<string>();

async function runCase(c: Case, slot: Slot): Promise<void> {
  fs.rmSync(slot.root, { recursive: true, force: true });
  fs.rmSync(slot.log, { force: true });
  fs.mkdirSync(slot.root, { mode: 0o700 });
  const bytes = configBytes(c);
  fs.writeFileSync(path.join(slot.bundle, 'config.json'), bytes);
  // What the library says of the same text (tsrunc reads the file as UTF-8, as here).
  const lib = validateVerdict(bytes.toString('utf8'), { bundle: slot.bundle, checkHost: true });
  if (lib.wrong !== undefined) throw new Error(`library: ${lib.wrong}`);
  const global = ['--root', slot.root, '--log', slot.log, '--log-format', 'json'];
  const args =
    c.command === 'validate'
      ? [...global, 'validate', '--bundle', slot.bundle]
      : [...global, 'create', '--dry-run', '--bundle', slot.bundle, 'fuzz'];
  const r = await runTsruncAsync(args, { cwd: slot.bundle, timeoutMs: 60_000 });
  if (c.command === 'validate') counts.validate++;
  else counts.dryRun++;
  const logText = fs.existsSync(slot.log) ? fs.readFileSync(slot.log, 'utf8') : '';
  const what = `${c.command} (library: ${lib.valid ? 'valid' : `${lib.problems.length} problems`})`;
  const unclean = cleanExit(r, logText);
  if (unclean !== undefined) throw new Error(`${what}: ${unclean}`);
  const left = emptyRoot(slot.root);
  if (left !== undefined) throw new Error(`${what}: ${left}`);
  if (r.status === 0) counts.exit0++;
  else counts.exit1++;
  if (!lib.valid) {
    if (r.status !== 1)
      throw new Error(`${what}: exit ${r.status} for an invalid config\nstdout: ${r.stdout.slice(0, 400)}`);
    for (const p of lib.problems) {
      if (!namesPointer(r.stderr, p.pointer))
        throw new Error(
          `${what}: stderr does not name ${JSON.stringify(p.pointer)}\nstderr: ${r.stderr.slice(0, 1200)}`,
        );
    }
    return;
  }
  if (c.command === 'validate') {
    if (r.status !== 0 || !r.stdout.includes('config.json: valid'))
      throw new Error(`${what}: exit ${r.status} for a valid config\nstderr: ${r.stderr.slice(0, 1200)}`);
    return;
  }
  // A valid config may still be refused by create (a mount source missing on this host ...):
  // then with an error entry in the log.
  if (r.status === 0) {
    if (r.stdout.trim() === '') throw new Error(`${what}: exit 0 without a plan on stdout`);
    return;
  }
  counts.cleanErrorsOfValid++;
  const entry = lastLogEntry(slot.log);
  if (entry?.['level'] !== 'error' || typeof entry['msg'] !== 'string' || entry['msg'] === '') {
    throw new Error(`${what}: exit ${r.status} without an error entry in the log\nstderr: ${r.stderr.slice(0, 800)}`);
  }
  if (refusals.size < 8) refusals.add(entry['msg'].slice(0, 160));
}

t.test('config.json through validate and create --dry-run', async (t) => {
  if (missing !== undefined) t.comment(`mutating tsrunc's own specs only: ${missing}`);
  const outcome = await fuzz(
    t,
    'cli validate and create --dry-run',
    fc.asyncProperty(fc.array(caseArb, { minLength: PARALLEL, maxLength: PARALLEL }), async (cases) => {
      await Promise.all(cases.map((c, i) => runCase(c, slots[i] as Slot)));
    }),
    100,
    { shrink: false },
  );
  if (outcome.runs > 0 && !outcome.failed)
    t.ok(
      counts.exit0 > 0 && counts.exit1 > 0,
      `both verdicts occur (exit 0: ${counts.exit0}, exit 1: ${counts.exit1})`,
    );
  t.comment(
    `commands: ${counts.validate} validate, ${counts.dryRun} create --dry-run; exit 0: ${counts.exit0}, exit 1: ${counts.exit1} (of which valid configs create refused: ${counts.cleanErrorsOfValid})`,
  );
  for (const msg of refusals) t.comment(`create refused a valid config: ${msg}`);
});
