// Issue 14: the deciding layer reads nothing of the host. No module of src/plan, and no module
// it loads, imports node:fs (or another module that reaches the host or the process) or the
// native addon: what a plan depends on of the host comes in as HostFacts
// (src/plan/host-facts.ts), gathered by the caller (src/lifecycle/host-facts.ts). Read from
// the import lines of the sources, so it holds without running anything.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '../helpers/tsrunc';

const SRC = path.join(REPO_ROOT, 'src');
const PLAN = path.join(SRC, 'plan');
const NATIVE = path.join(SRC, 'native');
/** Node modules that reach the host, the process or other processes (node:path, node:util... are pure). */
const HOST_MODULES = new Set([
  'fs',
  'fs/promises',
  'child_process',
  'os',
  'net',
  'dgram',
  'dns',
  'http',
  'https',
  'http2',
  'tls',
  'process',
  'worker_threads',
  'cluster',
  'module',
  'v8',
  'vm',
  'inspector',
  'readline',
  'tty',
  'perf_hooks',
]);

interface Import {
  specifier: string;
  /** `import type` / `export type`: erased, loads nothing. */
  typeOnly: boolean;
}

/** Every module a source names: static imports and re-exports (over several lines too), bare imports, import() and require(). */
function importsIn(text: string): Import[] {
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^'";]*?\sfrom\s*['"]([^'"]+)['"]/gm))
    out.push({ specifier: m[2] as string, typeOnly: m[1] !== undefined });
  for (const m of text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm))
    out.push({ specifier: m[1] as string, typeOnly: false });
  for (const m of text.matchAll(/\b(?:require|import)\s*\(\s*['"`]([^'"`]+)['"`]/g))
    out.push({ specifier: m[1] as string, typeOnly: false });
  return out;
}

function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), base]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${path.relative(REPO_ROOT, from)}: cannot resolve ${specifier}`);
}

function hostModule(specifier: string): boolean {
  return HOST_MODULES.has(specifier.replace(/^node:/, ''));
}

const rel = (f: string): string => path.relative(REPO_ROOT, f);
const planFiles = fs
  .readdirSync(PLAN)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => path.join(PLAN, f));

t.test('the import reader finds what it must refuse', async (t) => {
  const found = importsIn(
    [
      "import * as fs from 'node:fs';",
      "import {\n  native,\n} from '../native/addon';",
      "import type { X } from './x';",
      "export { a } from 'os';",
      "const m = require('child_process');",
      "import 'fs';",
    ].join('\n'),
  );
  t.same(found, [
    { specifier: 'node:fs', typeOnly: false },
    { specifier: '../native/addon', typeOnly: false },
    { specifier: './x', typeOnly: true },
    { specifier: 'os', typeOnly: false },
    { specifier: 'fs', typeOnly: false },
    { specifier: 'child_process', typeOnly: false },
  ]);
});

t.test('no module of src/plan imports node:fs, another host module, or the addon (not even its types)', async (t) => {
  t.ok(planFiles.length >= 8, `src/plan has its modules (${planFiles.length})`);
  for (const file of planFiles) {
    const bad = importsIn(fs.readFileSync(file, 'utf8')).filter(
      (i) => hostModule(i.specifier) || resolveLocal(file, i.specifier)?.startsWith(`${NATIVE}${path.sep}`) === true,
    );
    t.same(bad, [], rel(file));
  }
});

t.test('nor does any module src/plan loads', async (t) => {
  const seen = new Set<string>();
  const queue = [...planFiles];
  const offenders: string[] = [];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of importsIn(fs.readFileSync(file, 'utf8'))) {
      if (i.typeOnly) continue;
      if (hostModule(i.specifier)) offenders.push(`${rel(file)} imports ${i.specifier}`);
      const local = resolveLocal(file, i.specifier);
      if (local === undefined) continue;
      if (local.startsWith(`${NATIVE}${path.sep}`)) offenders.push(`${rel(file)} imports ${i.specifier}`);
      queue.push(local);
    }
  }
  t.ok(
    seen.has(path.join(SRC, 'seccomp', 'profile.ts')),
    `the walk follows imports out of src/plan (${[...seen]
      .filter((f) => !f.startsWith(PLAN))
      .map(rel)
      .join(', ')})`,
  );
  t.same(offenders, []);
});
