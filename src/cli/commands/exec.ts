import { parseProcess, processFromFlags } from '../../lifecycle/exec';
import { execFailed } from '../../errors';
import { checkCallerFds, preserveFdsArg } from '../caller-fds';
import { defineCommand, readInput, type Context, type GlobalArgs } from '../context';

export interface ExecFlags {
  'container-id': string;
  command: string[];
  'console-socket'?: string;
  cwd?: string;
  env: string[];
  tty: boolean;
  user?: string;
  'additional-gids': number[];
  process?: string;
  detach: boolean;
  'pid-file'?: string;
  'process-label'?: string;
  apparmor?: string;
  'no-new-privs': boolean;
  cap: string[];
  'preserve-fds': number;
  cgroup: string[];
  'ignore-paused': boolean;
}

export default defineCommand<ExecFlags>({
  command: 'exec <container-id> [command..]',
  describe: 'execute a new process inside the container',
  builder: (y) =>
    y
      .positional('container-id', { type: 'string', demandOption: true })
      .positional('command', { type: 'string', array: true, default: [] as string[] })
      .option('console-socket', {
        type: 'string',
        describe: 'path to an AF_UNIX socket which will receive the pty master fd',
      })
      .option('cwd', { type: 'string', describe: 'current working directory in the container' })
      .option('env', {
        alias: 'e',
        type: 'string',
        array: true,
        nargs: 1,
        default: [] as string[],
        describe: 'set environment variables (repeatable)',
      })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a pseudo-TTY' })
      .option('user', { alias: 'u', type: 'string', describe: 'UID (format: <uid>[:<gid>])' })
      .option('additional-gids', {
        alias: 'g',
        type: 'number',
        array: true,
        nargs: 1,
        default: [] as number[],
        describe: 'additional gids (repeatable)',
      })
      .option('process', { alias: 'p', type: 'string', describe: 'path to the process.json' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'detach from the container process' })
      .option('pid-file', { type: 'string', describe: 'file to write the process id to' })
      .option('process-label', { type: 'string', describe: 'set the SELinux process label' })
      .option('apparmor', { type: 'string', describe: 'set the AppArmor profile' })
      .option('no-new-privs', {
        type: 'boolean',
        default: false,
        describe: 'set the no new privileges value for the process',
      })
      .option('cap', {
        alias: 'c',
        type: 'string',
        array: true,
        nargs: 1,
        default: [] as string[],
        describe: 'add a capability to the bounding set (repeatable)',
      })
      .option('preserve-fds', {
        type: 'number',
        default: 0,
        describe: 'pass N additional file descriptors to the container',
      })
      .option('cgroup', {
        type: 'string',
        array: true,
        nargs: 1,
        default: [] as string[],
        describe: 'run the process in an existing sub-cgroup: [controller:]path (repeatable)',
      })
      .option('ignore-paused', { type: 'boolean', default: false, describe: 'allow exec in a paused container' }),
  handler: async (args, ctx) => {
    try {
      await execHandler(args, ctx);
    } catch (err) {
      throw execFailed(err);
    }
  },
});

async function execHandler(args: ExecFlags & GlobalArgs, ctx: Context): Promise<void> {
  const id = args['container-id'];
  const preserveFds = preserveFdsArg(args['preserve-fds']);
  checkCallerFds(preserveFds);
  let proc;
  if (args.process !== undefined) {
    proc = parseProcess(readInput(args.process), args.process);
  } else {
    // After the "--" that main.ts puts behind the id, yargs leaves the command in `_`.
    const rest = ((args as { _?: unknown[] })._ ?? []).map(String);
    const command = [...args.command, ...(rest[0] === 'exec' ? rest.slice(1) : rest)];
    proc = processFromFlags(ctx.runtime.containerProcess(id), {
      args: command,
      cwd: args.cwd,
      env: args.env,
      tty: args.tty,
      user: args.user,
      additionalGids: args['additional-gids'],
      apparmor: args.apparmor,
      processLabel: args['process-label'],
      noNewPrivs: args['no-new-privs'],
      caps: args.cap,
    });
  }
  const shown = proc;
  ctx.log.debug(
    () =>
      `exec ${id}: ${JSON.stringify(shown.args ?? [])} as ${shown.user?.uid ?? 0}:${shown.user?.gid ?? 0} in ${shown.cwd}${shown.terminal === true ? ', with a terminal' : ''}${args.detach ? ', detached' : ''}`,
  );
  ctx.exitCode = await ctx.runtime.exec(id, {
    process: proc,
    detach: args.detach,
    pidFile: args['pid-file'],
    consoleSocket: args['console-socket'],
    preserveFds,
    ignorePaused: args['ignore-paused'],
    subCgroups: args.cgroup,
  });
  ctx.log.debug(() =>
    args.detach ? `exec ${id}: started, detached` : `exec ${id}: the process exited, status ${ctx.exitCode}`,
  );
}
