import * as path from 'node:path';
import { writeDefaultSpec } from '../../runtime';
import { defineCommand } from '../context';

export default defineCommand<{ bundle: string; rootless: boolean }>({
  command: 'spec',
  describe: 'create a new specification file (config.json) for a bundle',
  builder: (y) =>
    y
      .option('bundle', {
        alias: 'b',
        type: 'string',
        default: '',
        describe: 'path to the root of the bundle directory',
      })
      .option('rootless', {
        type: 'boolean',
        default: false,
        describe: 'generate a configuration for a rootless container',
      }),
  handler: (args) => {
    writeDefaultSpec(path.resolve(args.bundle), args.rootless);
  },
});
