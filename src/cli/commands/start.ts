import { containerSummary, defineCommand } from '../context';

export default defineCommand<{ 'container-id': string }>({
  command: 'start <container-id>',
  describe: 'execute the user process of a created container',
  builder: (y) => y.positional('container-id', { type: 'string', demandOption: true }),
  handler: (args, ctx) => {
    const id = args['container-id'];
    ctx.log.debug(() => `start ${id}: ${containerSummary(ctx, id)}: releasing the init (exec.fifo)`);
    ctx.runtime.start(id);
    ctx.log.debug(() => `start ${id}: started, the init exec'd the process`);
  },
});
