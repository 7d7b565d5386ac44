// src/cgroups is reached through its entry alone: every module outside it imports
// src/cgroups/index.ts (the CgroupManager interface, its types, the driver factory) and
// nothing else of it, so that a driver's insides can change, or a driver be added, without
// the rest of the tree following. Read from the import lines of src/**/*.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';

const SRC = path.resolve(__dirname, '../../src');
const CGROUPS = path.join(SRC, 'cgroups');
const ENTRY = path.join(CGROUPS, 'index.ts');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier in `text`: import/export ... from, bare imports, import(), require(). */
function specifiers(text: string): string[] {
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1] as string));
}

/** The imports of `file` (outside src/cgroups) that reach into src/cgroups other than by its entry. */
function violations(file: string, text: string): string[] {
  return specifiers(text).filter((spec) => {
    if (!spec.startsWith('.')) return false;
    const target = path.resolve(path.dirname(file), spec);
    const inside = target === CGROUPS || target.startsWith(`${CGROUPS}${path.sep}`);
    return inside && target !== CGROUPS && target.replace(/\.ts$/, '') !== ENTRY.replace(/\.ts$/, '');
  });
}

t.test('modules outside src/cgroups import only its entry (src/cgroups/index.ts)', async (t) => {
  const outside = sourceFiles(SRC).filter((f) => !f.startsWith(`${CGROUPS}${path.sep}`));
  t.ok(outside.length > 30, `${outside.length} modules read`);
  const users: string[] = [];
  for (const file of outside) {
    const text = fs.readFileSync(file, 'utf8');
    if (specifiers(text).some((s) => s.startsWith('.') && path.resolve(path.dirname(file), s).startsWith(CGROUPS)))
      users.push(path.relative(SRC, file));
    t.same(violations(file, text), [], path.relative(SRC, file));
  }
  t.ok(users.length >= 10, `the entry has users (${users.join(', ')})`);
});

t.test('the check sees every form of import', async (t) => {
  const file = path.join(SRC, 'lifecycle', 'x.ts');
  const bad = [
    "import { CgroupfsManager } from '../cgroups/cgroupfs';",
    "import type { Stats } from '../cgroups/stats.ts';",
    "export { setFrozen } from '../cgroups/freezer';",
    "import {\n  readStats,\n} from '../cgroups/stats';",
    "import '../cgroups/hierarchy';",
    "const m = await import('../cgroups/resources');",
    "const m = require('../cgroups/device-rules');",
  ];
  for (const line of bad) t.equal(violations(file, line).length, 1, line);
  const good = [
    "import { containerCgroups } from '../cgroups';",
    "import type { CgroupManager } from '../cgroups/index';",
    "import { x } from '../cgroupsx/y';",
    "import * as fs from 'node:fs';",
  ];
  for (const line of good) t.same(violations(file, line), [], line);
});

t.test('the entry exports the interface and its types; values only from the driver factory', async (t) => {
  const text = fs.readFileSync(ENTRY, 'utf8');
  const statements = text.split(';').filter((s) => /\bexport\b/.test(s));
  t.ok(statements.length > 0);
  for (const s of statements) {
    const from = /from\s*'\.\/([^']+)'/.exec(s)?.[1];
    const typeOnly = /\bexport\s+type\s*\{/.test(s);
    const values = typeOnly
      ? []
      : (/\{([^}]*)\}/.exec(s)?.[1] ?? '')
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n !== '' && !n.startsWith('type '));
    if (values.length > 0) t.equal(from, 'driver', `values ${values.join(', ')} come from the factory`);
  }
});
