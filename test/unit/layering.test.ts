// The import direction of src/ (issue 14, item 5), read from the import lines of every
// src/**/*.ts:
//
//   cli, index → runtime, features, version → lifecycle → {plan, cgroups, state}
//     → {spec, native, seccomp} → {errors, util, log}
//
// A module may import from its own area (the first folder under src/, or the file's name for
// a file directly in src/), from any area of a lower tier, and from another area of its own
// tier as long as the areas form no cycle. No cycle between files either. The planner does
// not load the addon: src/plan may import src/native for types only (it receives what it needs
// from the addon as input). EXCEPTIONS names each import allowed against these rules, with the
// change that removes it; an exception no longer needed fails too, so that it goes with it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '../helpers/tsrunc';

const SRC = path.join(REPO_ROOT, 'src');

/** Tiers, highest first: an area may import from its own tier (no cycle) and from those below. */
const TIERS: readonly (readonly string[])[] = [
  ['cli', 'index', 'daemon'], // the ways in: the command line, the library (dist/lib.cjs), the resident server's worker
  ['runtime', 'features', 'version'],
  ['lifecycle'],
  ['plan', 'cgroups', 'state'],
  ['spec', 'native', 'seccomp'], // seccomp: the profile read into libseccomp's terms, no host access
  ['errors', 'util', 'log'], // usable from every tier
];

/** Imports allowed against the rules, "from -> to" (paths under src/), each with its way out. */
const EXCEPTIONS: Record<string, string> = {};

interface Edge {
  from: string;
  to: string;
  /** Erased at compile time: `import type`, `export type`, or every named binding `type X`. */
  typeOnly: boolean;
}

function tierOf(area: string): number {
  return TIERS.findIndex((tier) => tier.includes(area));
}

/** The area of a path under src/: its first folder, or the file's name without extension. */
function areaOf(file: string): string {
  const first = file.split('/')[0] as string;
  return file.includes('/') ? first : first.replace(/(\.d)?\.[cm]?[jt]s$/, '');
}

function isTypeOnly(clause: string): boolean {
  const c = clause.trim();
  if (/^type\s/.test(c)) return true;
  const named = /^\{([^}]*)\}$/.exec(c);
  if (named === null) return false;
  const names = (named[1] as string)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return names.length > 0 && names.every((n) => /^type\s/.test(n));
}

/** The relative imports of one source text, as written (specifier, type-only). */
function importsOf(text: string): { specifier: string; typeOnly: boolean }[] {
  const out: { specifier: string; typeOnly: boolean }[] = [];
  // import/export ... from '...' (the clause may span lines; a statement starts a line)
  for (const m of text.matchAll(/^[ \t]*(?:import|export)\b([^;'"]*?)\bfrom\s*['"]([^'"]+)['"]/gm)) {
    out.push({ specifier: m[2] as string, typeOnly: isTypeOnly(m[1] as string) });
  }
  // import '...' (for its effects)
  for (const m of text.matchAll(/^[ \t]*import\s*['"]([^'"]+)['"]/gm))
    out.push({ specifier: m[1] as string, typeOnly: false });
  // import('...') and require('...') with a literal name
  for (const m of text.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g))
    out.push({ specifier: m[1] as string, typeOnly: false });
  return out.filter((i) => i.specifier.startsWith('./') || i.specifier.startsWith('../'));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The file a relative specifier names, as a path under src/. */
function resolveImport(fromFile: string, specifier: string): string {
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.d.ts`, `${base}.js`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return path.relative(SRC, candidate);
  }
  throw new Error(`${path.relative(SRC, fromFile)}: cannot resolve ${specifier}`);
}

/** Every import between files of src/. */
function srcEdges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    importsOf(fs.readFileSync(file, 'utf8')).map((i) => ({
      from: path.relative(SRC, file),
      to: resolveImport(file, i.specifier),
      typeOnly: i.typeOnly,
    })),
  );
}

/** Strongly connected components of more than one node (or with a self-loop): the cycles. */
function cycles(edges: { from: string; to: string }[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    if (!next.has(e.to)) next.set(e.to, []);
    next.get(e.from)!.push(e.to);
  }
  // Tarjan's algorithm.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** What is wrong with a set of imports: one line per import against the rules or per cycle. */
function layeringProblems(edges: Edge[], exceptions: Record<string, string> = EXCEPTIONS): string[] {
  const problems: string[] = [];
  const used = new Set<string>();
  const areaEdges: { from: string; to: string }[] = [];
  for (const area of new Set(edges.flatMap((e) => [areaOf(e.from), areaOf(e.to)]))) {
    if (tierOf(area) < 0) problems.push(`src/${area} is in no tier: place it in TIERS (test/unit/layering.test.ts)`);
  }
  for (const e of edges) {
    const key = `${e.from} -> ${e.to}`;
    const [a, b] = [areaOf(e.from), areaOf(e.to)];
    if (a === b) continue;
    areaEdges.push({ from: a, to: b });
    let why: string | undefined;
    if (tierOf(a) >= 0 && tierOf(b) >= 0 && tierOf(b) < tierOf(a))
      why = `${a} is below ${b}: imports go down the tiers`;
    else if (a === 'plan' && b === 'native' && !e.typeOnly)
      why = 'the planner does not load the addon (types only: what it needs comes in as input)';
    if (why === undefined) continue;
    if (key in exceptions) used.add(key);
    else problems.push(`src/${e.from} imports src/${e.to}: ${why}`);
  }
  for (const c of cycles(areaEdges)) problems.push(`a cycle between areas: ${c.join(', ')}`);
  for (const c of cycles(edges)) problems.push(`a cycle between files: ${c.map((f) => `src/${f}`).join(', ')}`);
  for (const key of Object.keys(exceptions))
    if (!used.has(key)) problems.push(`the exception "${key}" is no longer needed: remove it from EXCEPTIONS`);
  return problems;
}

const edges = srcEdges();

t.test('src/ imports go down the tiers, with no cycle between areas or files', async (t) => {
  t.same(layeringProblems(edges), []);
});

t.test('the reader finds the imports (it is not vacuous)', async (t) => {
  const has = (from: string, to: string, typeOnly: boolean): boolean =>
    edges.some((e) => e.from === from && e.to === to && e.typeOnly === typeOnly);
  t.ok(has('cli/main.ts', 'runtime.ts', false), 'a value import');
  t.ok(has('lifecycle/create.ts', 'spec/types.ts', true), 'import type');
  t.ok(
    has('state/store.ts', 'util/faults.ts', false),
    'a mixed import ({ faultPoint, type FaultPoint }) is a value import',
  );
  t.ok(has('cli/main.ts', 'cli/yargs-cli.ts', false), "a dynamic import('...')");
  t.ok(has('index.ts', 'runtime.ts', false), 'export ... from');
  t.ok(edges.length > 200, `${edges.length} imports read`);
  t.same(
    importsOf(
      "import {\n  a,\n  type B,\n} from '../x';\nexport type { C } from './c';\nimport { type D } from './d';\nimport './e';\n// import f from 'not-relative';\n",
    ),
    [
      { specifier: '../x', typeOnly: false },
      { specifier: './c', typeOnly: true },
      { specifier: './d', typeOnly: true },
      { specifier: './e', typeOnly: false },
    ],
  );
});

t.test('the rules fail on what they forbid', async (t) => {
  const e = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly });
  t.same(
    layeringProblems(
      [
        e('cli/main.ts', 'runtime.ts'),
        e('lifecycle/create.ts', 'plan/planner.ts'),
        e('state/status.ts', 'cgroups/freezer.ts'),
        e('plan/steps.ts', 'native/addon.ts', true),
      ],
      {},
    ),
    [],
    'down the tiers, across one tier one way, plan -> native for types',
  );
  t.same(layeringProblems([e('state/store.ts', 'lifecycle/faults.ts')], {}), [
    'src/state/store.ts imports src/lifecycle/faults.ts: state is below lifecycle: imports go down the tiers',
  ]);
  t.same(layeringProblems([e('spec/default-spec.ts', 'state/status.ts')], {}), [
    'src/spec/default-spec.ts imports src/state/status.ts: spec is below state: imports go down the tiers',
  ]);
  t.same(layeringProblems([e('plan/process-steps.ts', 'native/addon.ts')], {}), [
    'src/plan/process-steps.ts imports src/native/addon.ts: the planner does not load the addon (types only: what it needs comes in as input)',
  ]);
  t.same(
    layeringProblems([e('errors.ts', 'log.ts'), e('log.ts', 'errors.ts', true)], {}),
    ['a cycle between areas: errors, log', 'a cycle between files: src/errors.ts, src/log.ts'],
    'a cycle, even through types',
  );
  t.same(
    layeringProblems([e('plan/a.ts', 'plan/b.ts'), e('plan/b.ts', 'plan/a.ts')], {}),
    ['a cycle between files: src/plan/a.ts, src/plan/b.ts'],
    'a cycle inside one area',
  );
  t.same(layeringProblems([e('newthing/x.ts', 'errors.ts')], {}), [
    'src/newthing is in no tier: place it in TIERS (test/unit/layering.test.ts)',
  ]);
  t.same(
    layeringProblems([e('state/store.ts', 'lifecycle/faults.ts')], { 'state/store.ts -> lifecycle/faults.ts': 'why' }),
    [],
    'an exception allows its import',
  );
  t.same(layeringProblems([], { 'a.ts -> b.ts': 'why' }), [
    'the exception "a.ts -> b.ts" is no longer needed: remove it from EXCEPTIONS',
  ]);
});
