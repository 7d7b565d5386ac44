// dist/daemon.cjs: `tsrunc daemon [--socket PATH] [--spares N] [--max-commands N]` (bin/tsrunc execs node on it).
import * as path from 'node:path';
import { DAEMON_DEFAULT_SOCKET as DEFAULT_SOCKET } from './protocol';
import { serve } from './server';

// SIGUSR1 without a listener opens node's inspector (unauthenticated, on 127.0.0.1:9229) in
// this root process: anything that may signal it (a container sharing the host's pid namespace)
// would get code run as root. A listener of its own, never removed, keeps that off.
process.on('SIGUSR1', () => undefined);
const DEFAULT_MAX_COMMANDS = 1000;
const USAGE = `usage: tsrunc daemon [--socket PATH] [--spares N] [--max-commands N]

The resident server: warm workers answer tsrunc's create, run and exec (the container's init or
the exec'd process started by bin/tsrunc, the caller's process, as runc's is) and the commands
that start no container process (state, list, kill, delete, ps, pause, resume, features, events,
update, spec, start), so that they do not start node; checkpoint and restore run directly. The socket's
directory is made 0700 and must be this user's; only this user's callers are served. Default
socket: ${DEFAULT_SOCKET} (bin/tsrunc looks there; a caller's TSRUNC_DAEMON_SOCKET names
another, "" none).

  --spares N        workers kept waiting for a caller (1 to 64; default 4)
  --max-commands N  commands one worker serves before it exits (1 to 100000; default
                    ${DEFAULT_MAX_COMMANDS}). After each one it gives back everything of its caller's and
                    serves again only if it is as it was before its first command (its fds,
                    credentials, signal dispositions, cgroups, namespaces, node's event loop);
                    else it exits. 1: every command in a fresh worker.
`;

function main(argv: string[]): void {
  let socket = DEFAULT_SOCKET;
  let spares = 4;
  let maxCommands = DEFAULT_MAX_COMMANDS;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--socket') socket = path.resolve(value());
    else if (flag === '--spares') {
      const v = value();
      if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > 64) usage(`--spares must be 1 to 64, got ${v}`);
      spares = Number(v);
    } else if (flag === '--max-commands') {
      const v = value();
      if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > 100000)
        usage(`--max-commands must be 1 to 100000, got ${v}`);
      maxCommands = Number(v);
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else usage(`unknown argument ${a}`);
  }
  serve({ socket, spares, maxCommands, worker: path.join(__dirname, 'worker.cjs') });
}

function usage(text: string): never {
  process.stderr.write(`tsrunc daemon: ${text}\n\n${USAGE}`);
  process.exit(3);
}

main(process.argv.slice(2));
