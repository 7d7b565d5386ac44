import type { Argv } from 'yargs';
import { commandFailed } from '../../errors';
import { formatPlan } from '../../plan/steps';
import { defineCommand, out, type Context, type GlobalArgs } from '../context';
import { createOptions, createOptionsFrom, debugCreate, type CreateFlags } from './create';

type RunFlags = CreateFlags & { detach: boolean; keep: boolean; 'no-subreaper': boolean };

export default defineCommand<RunFlags>({
  command: 'run <container-id>',
  describe: 'create and start a container, waiting for it unless --detach',
  builder: (y) =>
    createOptions(y)
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'detach from the container process' })
      .option('keep', { type: 'boolean', default: false, describe: 'do not delete the container after it exits' })
      .option('no-subreaper', {
        type: 'boolean',
        default: false,
        describe: 'disable the use of the subreaper used to reap reparented processes',
      }) as Argv<RunFlags & GlobalArgs>,
  handler: async (args, ctx) => {
    try {
      await runHandler(args, ctx);
    } catch (err) {
      throw commandFailed('run', err);
    }
  },
});

async function runHandler(args: RunFlags & GlobalArgs, ctx: Context): Promise<void> {
  // The plan of a run is the plan of its create: print it, create nothing.
  if (args['dry-run']) {
    out(formatPlan(ctx.runtime.plan(createOptionsFrom(args))));
    return;
  }
  const opts = createOptionsFrom(args);
  debugCreate(ctx, opts);
  ctx.exitCode = await ctx.runtime.run({
    ...opts,
    detach: args.detach,
    keep: args.keep,
    noSubreaper: args['no-subreaper'],
  });
  ctx.log.debug(() =>
    args.detach
      ? `run ${opts.id}: started, detached`
      : `run ${opts.id}: the container's process exited, status ${ctx.exitCode}${args.keep ? '' : ', container deleted'}`,
  );
}
