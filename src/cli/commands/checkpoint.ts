import type { Argv } from 'yargs';
import { UsageError } from '../../errors';
import type { CheckpointFlags, CriuFlags } from '../../lifecycle/criu-request';
import { checkCallerFd } from '../caller-fds';
import { defineCommand, type GlobalArgs } from '../context';

/** Flags checkpoint and restore share, as runc names them. */
export function criuOptions(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .option('image-path', { type: 'string', describe: 'path for saving criu image files (default ./checkpoint)' })
    .option('work-path', { type: 'string', describe: 'path for saving work files and logs (default: the image path)' })
    .option('tcp-established', { type: 'boolean', default: false, describe: 'allow open tcp connections' })
    .option('ext-unix-sk', { type: 'boolean', default: false, describe: 'allow external unix sockets' })
    .option('shell-job', { type: 'boolean', default: false, describe: 'allow shell jobs' })
    .option('lazy-pages', {
      type: 'boolean',
      default: false,
      describe: 'use userfaultfd to lazily restore memory pages',
    })
    .option('file-locks', { type: 'boolean', default: false, describe: 'handle file locks, for safety' })
    .option('manage-cgroups-mode', { type: 'string', describe: 'cgroups mode: soft (default), full, strict or ignore' })
    .option('empty-ns', {
      type: 'string',
      array: true,
      nargs: 1,
      default: [] as string[],
      describe: 'create a namespace, but do not restore its properties (repeatable)',
    })
    .option('auto-dedup', {
      type: 'boolean',
      default: false,
      describe: 'enable auto deduplication of memory images',
    }) as Argv<GlobalArgs>;
}

/** The shared flags as the library takes them. */
export function criuFlagsFrom(parsed: object): CriuFlags {
  const args = parsed as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof args[k] === 'string' ? (args[k] as string) : undefined);
  const flags: CriuFlags = {
    tcpEstablished: args['tcp-established'] === true,
    extUnixSk: args['ext-unix-sk'] === true,
    shellJob: args['shell-job'] === true,
    lazyPages: args['lazy-pages'] === true,
    fileLocks: args['file-locks'] === true,
    autoDedup: args['auto-dedup'] === true,
    emptyNs: Array.isArray(args['empty-ns']) ? (args['empty-ns'] as unknown[]).map(String) : [],
  };
  const image = str('image-path');
  const work = str('work-path');
  const mode = str('manage-cgroups-mode');
  if (image !== undefined) flags.imagePath = image;
  if (work !== undefined) flags.workPath = work;
  if (mode !== undefined) flags.manageCgroupsMode = mode;
  return flags;
}

type CheckpointArgs = {
  'container-id': string;
  'parent-path'?: string;
  'leave-running': boolean;
  'status-fd'?: string;
  'page-server'?: string;
  'pre-dump': boolean;
};

export default defineCommand<CheckpointArgs>({
  command: 'checkpoint <container-id>',
  describe: 'checkpoint a running container (CRIU); unless --leave-running or --pre-dump, it is deleted',
  builder: (y) =>
    criuOptions(y)
      .positional('container-id', { type: 'string', demandOption: true })
      .option('parent-path', {
        type: 'string',
        describe: 'path for previous criu image files in pre-dump (relative to --image-path)',
      })
      .option('leave-running', {
        type: 'boolean',
        default: false,
        describe: 'leave the process running after checkpointing',
      })
      .option('status-fd', {
        type: 'string',
        describe: 'criu writes \\0 to this FD (one the caller passed) once lazy-pages is ready, then it is closed',
      })
      .option('page-server', { type: 'string', describe: 'ADDRESS:PORT of the page server' })
      .option('pre-dump', {
        type: 'boolean',
        default: false,
        describe: 'dump container memory pages only, leave the container running',
      }) as Argv<CheckpointArgs & GlobalArgs>,
  handler: (args, ctx) => {
    const flags: CheckpointFlags = {
      ...criuFlagsFrom(args),
      leaveRunning: args['leave-running'],
      preDump: args['pre-dump'],
    };
    if (args['parent-path'] !== undefined) flags.parentPath = args['parent-path'];
    if (args['page-server'] !== undefined) flags.pageServer = args['page-server'];
    if (args['status-fd'] !== undefined) {
      // (a plain decimal, no leading zero: bin/tsrunc lists the fd only when it is written so)
      if (!/^(0|[1-9]\d{0,9})$/.test(args['status-fd']) || Number(args['status-fd']) > 2 ** 31 - 1)
        throw new UsageError(`invalid --status-fd argument ${JSON.stringify(args['status-fd'])}: not an fd number`);
      flags.statusFd = Number(args['status-fd']);
      // Before anything is looked at: an fd of tsrunc's own would get criu's \0 and be closed.
      checkCallerFd(flags.statusFd, '--status-fd');
    }
    ctx.runtime.checkpoint(args['container-id'], flags);
  },
});
