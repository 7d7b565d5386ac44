import { eventJson, parseDuration, statsEvent, streamEvents } from '../../lifecycle/events';
import { defineCommand, out } from '../context';

export default defineCommand<{ 'container-id': string; interval: string; stats: boolean }>({
  command: 'events <container-id>',
  describe: 'display container events such as OOM notifications and resource statistics',
  builder: (y) =>
    y
      .positional('container-id', { type: 'string', demandOption: true })
      .option('interval', { type: 'string', default: '5s', describe: 'set the stats collection interval' })
      .option('stats', { type: 'boolean', default: false, describe: 'display the container stats then exit' }),
  handler: async (args, ctx) => {
    const id = args['container-id'];
    if (args.stats) {
      out(eventJson(statsEvent(ctx.runtime.store, id)) + '\n');
      return;
    }
    await streamEvents(ctx.runtime.store, id, parseDuration(args.interval), (e) => out(eventJson(e) + '\n'));
  },
});
