import { UsageError } from '../../errors';
import { parseSignal } from '../../spec/linux-names';
import { containerSummary, defineCommand } from '../context';

export default defineCommand<{ 'container-id': string; signal: string; all: boolean }>({
  command: 'kill <container-id> [signal]',
  describe: 'send a signal (default SIGTERM) to the container init process',
  builder: (y) =>
    y
      .positional('container-id', { type: 'string', demandOption: true })
      .positional('signal', { type: 'string', default: 'SIGTERM', describe: 'name (KILL, SIGKILL) or number' })
      .option('all', {
        alias: 'a',
        type: 'boolean',
        default: false,
        describe: 'send the signal to all processes in the container',
      }),
  handler: (args, ctx) => {
    const signal = parseSignal(args.signal);
    if (signal === undefined) throw new UsageError(`unknown signal ${JSON.stringify(args.signal)}`);
    const id = args['container-id'];
    ctx.log.debug(
      () =>
        `kill ${id}: ${containerSummary(ctx, id)}: signal ${signal} to ${args.all ? 'every process of its cgroup' : 'the init'}`,
    );
    ctx.runtime.kill(id, signal, args.all);
    ctx.log.debug(() => `kill ${id}: signal ${signal} sent`);
  },
});
