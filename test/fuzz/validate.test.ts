// Fuzzed config.json through the library's validation (validateConfigText / validateConfig):
// the real client configs in ../shared/clients and `tsrunc spec` (defaultSpec, rootlessSpec),
// mutated at random places and at the places the spec gives a meaning, as documents and as
// text; and documents made from nothing. Property: validation returns (valid) or throws a
// ConfigError whose every problem carries a JSON pointer that lands in the document (or at a
// missing property of an object in it) — never another exception. A hang ends the test by
// tap's timeout. Seeds are fixed per property; see fuzz.ts to replay or widen a run.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { selectCgroupDriver } from '../../src/cgroups';
import { defaultSpec } from '../../src/spec/default-spec';
import type { ValidateOptions } from '../../src/spec/validate';
import { tempDir } from '../helpers/tsrunc';
import { configBases } from './bases';
import { fuzz } from './fuzz';
import { applyTextMutation, mutate, mutation, nastyValue, textMutation, type Json } from './json-mutate';
import { validateVerdict } from './verdict';

const { bases, missing } = configBases();

const bundle = tempDir(t, 'tsrunc-fuzz-bundle');
fs.mkdirSync(path.join(bundle, 'rootfs'));

const options: fc.Arbitrary<ValidateOptions> = fc.record({
  bundle: fc.constant(bundle),
  checkHost: fc.boolean(),
  // (the driver reads linux.cgroupsPath: --systemd-cgroup's or the default cgroupfs)
  cgroupDriver: fc.boolean().map((systemd) => selectCgroupDriver({ systemd })),
});

const counts = { valid: 0, invalid: 0 };
function judge(text: string, opts: ValidateOptions): boolean {
  const v = validateVerdict(text, opts);
  if (v.wrong !== undefined) throw new Error(v.wrong);
  if (v.valid) counts.valid++;
  else counts.invalid++;
  return true;
}

const base = fc.integer({ min: 0, max: bases.length - 1 });
const indent = fc.constantFrom<number | undefined>(undefined, 2);

t.test('bases are present', async (t) => {
  if (missing !== undefined) t.comment(`mutating tsrunc's own specs only: ${missing}`);
  t.ok(bases.length >= 2, `${bases.length} base documents: ${bases.map((b) => b.name).join(', ')}`);
  for (const b of bases)
    t.notOk(
      validateVerdict(JSON.stringify(b.doc), { bundle, checkHost: false }).wrong,
      `${b.name} validates without surprises`,
    );
});

t.test('mutated documents', async (t) => {
  await fuzz(
    t,
    'config documents with 1-6 mutations',
    fc.property(base, fc.array(mutation, { minLength: 1, maxLength: 6 }), options, indent, (b, ms, opts, ind) => {
      const doc = mutate((bases[b] as { doc: Json }).doc, ms);
      return judge(JSON.stringify(doc, null, ind), opts);
    }),
    7000,
  );
});

t.test('mutated JSON text', async (t) => {
  await fuzz(
    t,
    'config text with 1-3 text mutations',
    fc.property(
      base,
      fc.array(mutation, { maxLength: 2 }),
      fc.array(textMutation, { minLength: 1, maxLength: 3 }),
      options,
      indent,
      (b, ms, tms, opts, ind) => {
        let text = JSON.stringify(mutate((bases[b] as { doc: Json }).doc, ms), null, ind);
        for (const m of tms) text = applyTextMutation(text, m);
        return judge(text, opts);
      },
    ),
    2500,
  );
});

const TOP_KEYS = [
  'ociVersion',
  'process',
  'root',
  'hostname',
  'domainname',
  'mounts',
  'hooks',
  'annotations',
  'linux',
  'vm',
  'windows',
  'solaris',
  'zos',
  'bogus',
];

t.test('documents made from nothing', async (t) => {
  await fuzz(
    t,
    'random JSON values and objects with spec keys',
    fc.property(
      fc.oneof(
        fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>,
        fc.dictionary(fc.constantFrom(...TOP_KEYS), nastyValue, { maxKeys: 8 }) as fc.Arbitrary<Json>,
      ),
      options,
      (doc, opts) => judge(JSON.stringify(doc) ?? 'null', opts),
    ),
    600,
  );
  t.comment(`outcomes: ${counts.valid} valid, ${counts.invalid} invalid (each with pointers that land)`);
});

// Inputs the fuzzing found to break validation once; each stays here as a fixed case.
const regressions: { name: string; edit: (doc: Record<string, Record<string, unknown>>) => void; valid: boolean }[] = [
  {
    // TypeError "names?.forEach is not a function": every key of process.capabilities was read as a set.
    name: 'process.capabilities with a key that is not a capability set',
    edit: (d) => Object.assign(d['process']?.['capabilities'] as object, { bogus: 0, __proto__x: 'CAP_KILL' }),
    valid: true,
  },
];

t.test('regressions found by fuzzing', async (t) => {
  for (const r of regressions) {
    const doc = defaultSpec() as unknown as Record<string, Record<string, unknown>>;
    r.edit(doc);
    const v = validateVerdict(JSON.stringify(doc), { bundle, checkHost: false });
    t.equal(v.wrong, undefined, `${r.name}: a valid result or a ConfigError with pointers that land`);
    t.equal(v.valid, r.valid, `${r.name}: ${r.valid ? 'valid' : 'invalid'}`);
  }
});
