import type { Argv } from 'yargs';
import { notImplemented } from '../../errors';
import { defineCommand, type GlobalArgs } from '../context';

/** Flags checkpoint and restore share, as runc names them. */
export function criuOptions(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .option('image-path', { type: 'string', describe: 'path for saving criu image files' })
    .option('work-path', { type: 'string', describe: 'path for saving work files and logs' })
    .option('tcp-established', { type: 'boolean', default: false, describe: 'allow open tcp connections' })
    .option('ext-unix-sk', { type: 'boolean', default: false, describe: 'allow external unix sockets' })
    .option('shell-job', { type: 'boolean', default: false, describe: 'allow shell jobs' })
    .option('lazy-pages', {
      type: 'boolean',
      default: false,
      describe: 'use userfaultfd to lazily restore memory pages',
    })
    .option('file-locks', { type: 'boolean', default: false, describe: 'handle file locks, for safety' })
    .option('manage-cgroups-mode', { type: 'string', describe: 'cgroups mode: soft|full|strict|ignore' })
    .option('empty-ns', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'create a namespace, but do not restore its properties',
    })
    .option('auto-dedup', {
      type: 'boolean',
      default: false,
      describe: 'enable auto deduplication of memory images',
    }) as Argv<GlobalArgs>;
}

export default defineCommand<{ 'container-id': string }>({
  command: 'checkpoint <container-id>',
  describe: 'checkpoint a running container (CRIU)',
  builder: (y) =>
    criuOptions(y)
      .positional('container-id', { type: 'string', demandOption: true })
      .option('parent-path', { type: 'string', describe: 'path for previous criu image files in pre-dump' })
      .option('leave-running', {
        type: 'boolean',
        default: false,
        describe: 'leave the process running after checkpointing',
      })
      .option('status-fd', { type: 'number', describe: 'criu writes \\0 to this FD once lazy-pages is ready' })
      .option('page-server', { type: 'string', describe: 'ADDRESS:PORT of the page server' })
      .option('pre-dump', {
        type: 'boolean',
        default: false,
        describe: 'dump container memory pages only, leave the container running',
      }) as Argv<{ 'container-id': string } & GlobalArgs>,
  handler: () => {
    throw notImplemented('checkpoint');
  },
});
