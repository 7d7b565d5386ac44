import { defineCommand } from '../context';

export default defineCommand<{ 'container-id': string }>({
  command: 'resume <container-id>',
  describe: 'resume all processes that have been previously paused',
  builder: (y) => y.positional('container-id', { type: 'string', demandOption: true }),
  handler: (args, ctx) => {
    ctx.runtime.resume(args['container-id']);
  },
});
