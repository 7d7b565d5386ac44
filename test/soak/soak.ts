// `npm run soak [-- N] [--json FILE]`: N lifecycles (default 1000, or $SOAK_N) through
// bin/tsrunc, then the figures: lifecycles, seconds, leaks of each kind, fds and peak RSS
// of each tsrunc command. Exits 1 when a lifecycle failed, anything leaked, or the
// runtime's fds or memory grew over the run. Needs root (and python3 for the console
// socket); see test/soak/engine.ts.
import * as fs from 'node:fs';
import { flatness, formatReport, leakCounts, runSoak } from './engine';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  const positional = args.filter((a, i) => !a.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
  const n = Number(positional[0] ?? process.env['SOAK_N'] ?? 1000);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`soak: N must be a positive integer, got ${positional[0] ?? process.env['SOAK_N']}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('soak: needs root (creates namespaces, mounts and cgroups)\n');
    return 2;
  }
  process.stdout.write(`soak: ${n} lifecycles (create → start → exec → kill → delete)\n`);
  const report = await runSoak({ n, progress: (line) => process.stdout.write(`  ${line}\n`) });
  process.stdout.write(`${formatReport(report)}\n`);
  const flat = flatness(report);
  for (const problem of flat) process.stdout.write(`not flat: ${problem}\n`);
  if (jsonFile !== undefined) fs.writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n');
  const leaked = Object.values(leakCounts(report)).reduce((a, b) => a + b, 0);
  const ok = report.failureCount === 0 && leaked === 0 && flat.length === 0;
  process.stdout.write(ok ? 'soak: OK — 0 failures, 0 leaks, fds and memory flat\n' : 'soak: FAILED\n');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
