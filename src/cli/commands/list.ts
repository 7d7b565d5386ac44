import type { State } from '../../spec/types';
import { defineCommand, out } from '../context';

export default defineCommand<{ format: 'table' | 'json'; quiet: boolean }>({
  command: 'list',
  describe: 'list containers started by tsrunc with the given root',
  builder: (y) =>
    y
      .option('format', {
        alias: 'f',
        choices: ['table', 'json'] as const,
        default: 'table' as const,
        describe: 'output format',
      })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'display only container IDs' }),
  handler: (args, ctx) => {
    const states = ctx.runtime.list();
    if (args.quiet) {
      out(states.map((s) => `${s.id}\n`).join(''));
    } else if (args.format === 'json') {
      // runc encodes an empty list as null; callers parse both.
      out(JSON.stringify(states.length === 0 ? null : states) + '\n');
    } else {
      out(formatTable(states));
    }
  },
});

/** Columns as Go's tabwriter lays them out for runc (minwidth 12, padding 3). */
export function formatTable(states: State[]): string {
  const rows = [
    ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(12, ...rows.map((r) => r[col]!.length + 3)));
  return rows
    .map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('') + '\n')
    .join('');
}
