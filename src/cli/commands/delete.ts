import { containerSummary, defineCommand } from '../context';

export default defineCommand<{ 'container-id': string; force: boolean }>({
  command: 'delete <container-id>',
  describe: 'delete any resources held by the container',
  builder: (y) =>
    y.positional('container-id', { type: 'string', demandOption: true }).option('force', {
      alias: 'f',
      type: 'boolean',
      default: false,
      describe: 'forcibly delete the container if it is still running (uses SIGKILL)',
    }),
  handler: (args, ctx) => {
    const id = args['container-id'];
    ctx.log.debug(() => `delete ${id}: ${containerSummary(ctx, id)}${args.force ? ', --force' : ''}`);
    ctx.runtime.delete(id, args.force);
    ctx.log.debug(() => `delete ${id}: deleted (processes, cgroups, state)`);
  },
});
