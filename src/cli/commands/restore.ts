import type { Argv } from 'yargs';
import type { RestoreRunOptions } from '../../runtime';
import { defineCommand, type GlobalArgs } from '../context';
import { criuFlagsFrom, criuOptions } from './checkpoint';

type RestoreArgs = {
  'container-id': string;
  'console-socket'?: string;
  bundle: string;
  detach: boolean;
  'pid-file'?: string;
  'no-subreaper': boolean;
  'no-pivot': boolean;
  'lsm-profile'?: string;
  'lsm-mount-context'?: string;
};

export default defineCommand<RestoreArgs>({
  command: 'restore <container-id>',
  describe: 'restore a container from a previous checkpoint (CRIU)',
  builder: (y) =>
    criuOptions(y)
      .positional('container-id', { type: 'string', demandOption: true })
      .option('console-socket', {
        type: 'string',
        describe: 'path to an AF_UNIX socket which will receive the pty master fd',
      })
      .option('bundle', {
        alias: 'b',
        type: 'string',
        default: '',
        describe: 'path to the root of the bundle directory',
      })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'detach from the container process' })
      .option('pid-file', { type: 'string', describe: 'file to write the process id to' })
      .option('no-subreaper', { type: 'boolean', default: false, describe: 'disable the use of the subreaper' })
      .option('no-pivot', { type: 'boolean', default: false, describe: 'do not use pivot_root' })
      .option('lsm-profile', {
        type: 'string',
        describe: 'an LSM profile for the restored processes, TYPE:NAME (apparmor:PROFILE or selinux:LABEL)',
      })
      .option('lsm-mount-context', {
        type: 'string',
        describe: 'an SELinux context for the restored mounts that had one (their context= mount option)',
      }) as Argv<RestoreArgs & GlobalArgs>,
  handler: async (args, ctx) => {
    const opts: RestoreRunOptions = {
      ...criuFlagsFrom(args),
      id: args['container-id'],
      bundle: args.bundle === '' ? process.cwd() : args.bundle,
      detach: args.detach,
      noSubreaper: args['no-subreaper'],
      noPivot: args['no-pivot'],
    };
    if (args['console-socket'] !== undefined) opts.consoleSocket = args['console-socket'];
    if (args['pid-file'] !== undefined) opts.pidFile = args['pid-file'];
    if (args['lsm-profile'] !== undefined) opts.lsmProfile = args['lsm-profile'];
    if (args['lsm-mount-context'] !== undefined) opts.lsmMountContext = args['lsm-mount-context'];
    ctx.exitCode = await ctx.runtime.restore(opts);
  },
});
