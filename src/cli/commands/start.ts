import { defineCommand } from '../context';

export default defineCommand<{ 'container-id': string }>({
  command: 'start <container-id>',
  describe: 'execute the user process of a created container',
  builder: (y) => y.positional('container-id', { type: 'string', demandOption: true }),
  handler: (args, ctx) => {
    ctx.runtime.start(args['container-id']);
  },
});
