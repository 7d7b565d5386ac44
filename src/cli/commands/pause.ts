import { defineCommand } from '../context';

export default defineCommand<{ 'container-id': string }>({
  command: 'pause <container-id>',
  describe: 'suspend all processes inside the container',
  builder: (y) => y.positional('container-id', { type: 'string', demandOption: true }),
  handler: (args, ctx) => {
    ctx.runtime.pause(args['container-id']);
  },
});
