import { defineCommand, out } from '../context';

export default defineCommand<{ 'container-id': string }>({
  command: 'state <container-id>',
  describe: 'output the state of a container (JSON)',
  builder: (y) => y.positional('container-id', { type: 'string', demandOption: true, describe: 'the container' }),
  handler: (args, ctx) => {
    out(JSON.stringify(ctx.runtime.state(args['container-id']), null, 2) + '\n');
  },
});
