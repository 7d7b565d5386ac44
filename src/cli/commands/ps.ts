import { psTable } from '../../lifecycle/ps';
import { defineCommand, out } from '../context';

export default defineCommand<{ 'container-id': string; 'ps-args': string[]; format: 'table' | 'json' }>({
  command: 'ps <container-id> [ps-args..]',
  describe: 'display the processes running inside a container',
  builder: (y) =>
    y
      .positional('container-id', { type: 'string', demandOption: true })
      .positional('ps-args', { type: 'string', array: true, default: [] as string[] })
      .option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const, describe: 'output format' }),
  handler: (args, ctx) => {
    const pids = ctx.runtime.pids(args['container-id']);
    // containerd's shim and docker top parse this array of host pids.
    if (args.format === 'json') out(JSON.stringify(pids) + '\n');
    else out(psTable(pids, args['ps-args']));
  },
});
