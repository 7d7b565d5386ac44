import type { Argv } from 'yargs';
import { commandFailed } from '../../errors';
import type { CreateOptions } from '../../lifecycle/create';
import { describeStep, formatPlan } from '../../plan/steps';
import { checkContainerId } from '../../state/id';
import { checkCallerFds, preserveFdsArg } from '../caller-fds';
import { defineCommand, out, type Context, type GlobalArgs } from '../context';

export interface CreateFlags {
  'container-id': string;
  bundle: string;
  'console-socket'?: string;
  'pid-file'?: string;
  'no-pivot': boolean;
  'no-new-keyring': boolean;
  'preserve-fds': number;
  'dry-run': boolean;
}

/** Flags shared by create and run. */
export function createOptions(y: Argv<GlobalArgs>): Argv<CreateFlags & GlobalArgs> {
  return y
    .positional('container-id', { type: 'string', demandOption: true, describe: 'a name unique under --root' })
    .option('bundle', {
      alias: 'b',
      type: 'string',
      default: '',
      describe: 'path to the root of the bundle directory (default: current directory)',
    })
    .option('console-socket', {
      type: 'string',
      describe: 'path to an AF_UNIX socket which will receive the pty master fd',
    })
    .option('pid-file', { type: 'string', describe: 'file to write the process id to' })
    .option('no-pivot', {
      type: 'boolean',
      default: false,
      describe: 'do not use pivot_root to jail the process inside the rootfs',
    })
    .option('no-new-keyring', {
      type: 'boolean',
      default: false,
      describe: 'do not create a new session keyring for the container',
    })
    .option('preserve-fds', {
      type: 'number',
      default: 0,
      describe: 'pass N additional file descriptors (from fd 3) to the container',
    })
    .option('dry-run', {
      type: 'boolean',
      default: false,
      describe: 'validate and print the plan (every step the executor would take) without creating anything',
    }) as Argv<CreateFlags & GlobalArgs>;
}

export function createOptionsFrom(args: CreateFlags): CreateOptions {
  // As runc: a bad id fails before anything else is looked at.
  const id = checkContainerId(args['container-id']);
  const preserveFds = preserveFdsArg(args['preserve-fds']);
  checkCallerFds(preserveFds, { listen: true });
  const opts: CreateOptions = {
    id,
    bundle: args.bundle === '' ? process.cwd() : args.bundle,
    noPivot: args['no-pivot'],
    noNewKeyring: args['no-new-keyring'],
    preserveFds,
  };
  if (args['console-socket'] !== undefined) opts.consoleSocket = args['console-socket'];
  if (args['pid-file'] !== undefined) opts.pidFile = args['pid-file'];
  return opts;
}

/**
 * Under --debug, what create is about to do: the bundle, then each step of the plan the init
 * carries out (the plan --dry-run prints, made here a second time with create's warnings held
 * back). Nothing of this runs without --debug.
 */
export function debugCreate(ctx: Context, opts: CreateOptions): void {
  if (!ctx.log.debugEnabled) return;
  const fds = [
    opts.consoleSocket === undefined ? '' : `, console socket ${opts.consoleSocket}`,
    opts.pidFile === undefined ? '' : `, pid file ${opts.pidFile}`,
    (opts.preserveFds ?? 0) > 0 ? `, ${opts.preserveFds ?? 0} preserved fds` : '',
  ].join('');
  ctx.log.debug(`create ${opts.id}: bundle ${opts.bundle}${fds}${opts.noPivot ? ', no pivot_root' : ''}`);
  let steps;
  try {
    steps = ctx.log.quietly(() => ctx.runtime.plan(opts)).steps;
  } catch {
    return; // create itself reports the problem
  }
  steps.forEach((step, i) => ctx.log.debug(`create ${opts.id}: step ${i + 1}/${steps.length}: ${describeStep(step)}`));
}

export default defineCommand<CreateFlags>({
  command: 'create <container-id>',
  describe: 'create a container (set it up and wait for start)',
  builder: createOptions,
  handler: (args, ctx) => {
    try {
      const opts = createOptionsFrom(args);
      if (args['dry-run']) {
        out(formatPlan(ctx.runtime.plan(opts)));
        return;
      }
      debugCreate(ctx, opts);
      const state = ctx.runtime.create(opts);
      ctx.log.debug(() => `create ${opts.id}: created, init pid ${state.pid} waits for start`);
    } catch (err) {
      throw commandFailed('create', err);
    }
  },
});
