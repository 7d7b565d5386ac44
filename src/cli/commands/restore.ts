import type { Argv } from 'yargs';
import { notImplemented } from '../../errors';
import { defineCommand, type GlobalArgs } from '../context';
import { criuOptions } from './checkpoint';

export default defineCommand<{ 'container-id': string }>({
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
      .option('lsm-profile', { type: 'string', describe: 'LSM profile to apply on restore' })
      .option('lsm-mount-context', { type: 'string', describe: 'LSM mount context to apply on restore' }) as Argv<
      { 'container-id': string } & GlobalArgs
    >,
  handler: () => {
    throw notImplemented('restore');
  },
});
