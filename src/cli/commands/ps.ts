import { psTable } from '../../lifecycle/ps';
import { defineCommand, out } from '../context';

export default defineCommand<{ 'container-id': string; 'ps-args': string[]; format: 'table' | 'json' }>({
  command: 'ps <container-id> [ps-args..]',
  describe:
    "display the processes running inside a container (ps-args: ps(1)'s own arguments, everything after the id; default -ef)",
  builder: (y) =>
    y
      .positional('container-id', { type: 'string', demandOption: true })
      .positional('ps-args', { type: 'string', array: true, default: [] as string[] })
      .option('format', {
        alias: 'f',
        choices: ['table', 'json'] as const,
        default: 'table' as const,
        describe: 'output format (before the id: after it, -f is an argument of ps)',
      }),
  handler: (args, ctx) => {
    const pids = ctx.runtime.pids(args['container-id']);
    // containerd's shim and docker top parse this array of host pids (null when empty, as runc's).
    if (args.format === 'json') {
      out(JSON.stringify(pids.length === 0 ? null : pids) + '\n');
      return;
    }
    // After the "--" that main.ts puts behind the id, yargs leaves ps's arguments in `_`.
    const rest = ((args as { _?: unknown[] })._ ?? []).map(String);
    out(psTable(pids, [...args['ps-args'], ...(rest[0] === 'ps' ? rest.slice(1) : rest)]));
  },
});
