// dist/worker.cjs: a worker of `tsrunc daemon` (src/daemon/server.ts spawns it with the listening
// socket as fd 4, and --again when a worker may serve more than one command). It loads the CLI
// bundle as bin/tsrunc's direct path does (dist/boot.cjs, the full code cache) and serves callers
// with it (src/daemon/worker.ts, in the bundle).
import * as path from 'node:path';
import type { WorkerOptions } from './worker';

// SIGUSR1 without a listener opens node's inspector (unauthenticated, on 127.0.0.1:9229) in
// this root process: anything that may signal it (a container sharing the host's pid namespace)
// would get code run as root. A listener of its own, never removed, keeps that off.
process.on('SIGUSR1', () => undefined);

interface Boot {
  load(kind: 'full'): {
    exports: { serveWorker(opts: WorkerOptions): void } & Omit<WorkerOptions, 'listenFd' | 'boot' | 'again'>;
  };
}

const boot = path.join(__dirname, 'boot.cjs');
const load = require as (id: string) => unknown;
const cli = (load(boot) as Boot).load('full').exports;
cli.serveWorker({
  listenFd: 4,
  boot,
  preScan: cli.preScan,
  cli: cli.cli,
  main: cli.main,
  forgetCommandState: cli.forgetCommandState,
  again: process.argv.includes('--again'),
});
