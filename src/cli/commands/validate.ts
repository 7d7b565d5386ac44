import * as path from 'node:path';
import { formatProblem } from '../../errors';
import { defineCommand, out } from '../context';

export default defineCommand<{ bundle: string }>({
  command: 'validate',
  describe: "check a bundle's config.json and print every problem with its JSON pointer",
  builder: (y) =>
    y.option('bundle', {
      alias: 'b',
      type: 'string',
      default: '',
      describe: 'path to the root of the bundle directory',
    }),
  handler: (args, ctx) => {
    const result = ctx.runtime.validateBundle(path.resolve(args.bundle));
    for (const w of result.warnings) ctx.log.warn(formatProblem('config.json', w));
    out('config.json: valid\n');
  },
});
