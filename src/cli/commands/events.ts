import { notImplemented } from '../../errors';
import { defineCommand } from '../context';

export default defineCommand<{ 'container-id': string; interval: string; stats: boolean }>({
  command: 'events <container-id>',
  describe: 'display container events such as OOM notifications and resource statistics',
  builder: (y) =>
    y
      .positional('container-id', { type: 'string', demandOption: true })
      .option('interval', { type: 'string', default: '5s', describe: 'set the stats collection interval' })
      .option('stats', { type: 'boolean', default: false, describe: 'display the container stats then exit' }),
  handler: () => {
    throw notImplemented('events');
  },
});
