// node concurrent.mjs '{"bin":..., "root":..., "errDir":..., "containers":[[id, bundle], ...]}'
// Starts `create` of every container at once and prints {"ms": wall time until the last one
// exited, "failed": [[id, status, stderr], ...]} on stdout. Run in the runtime's environment
// (crun's mount namespace) by the bench. The containers' stdio are files (/dev/null and one
// stderr file each), never pipes: a container's init keeps them open.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const { bin, root, errDir, containers } = JSON.parse(process.argv[2]);
const errFiles = containers.map(([id]) => path.join(errDir, `${id}.err`));
const fds = errFiles.map((f) => fs.openSync(f, 'w'));
const started = process.hrtime.bigint();
const results = await Promise.all(
  containers.map(
    ([id, bundle], i) =>
      new Promise((resolve) => {
        const child = spawn(bin, ['--root', root, 'create', '--bundle', bundle, id], {
          stdio: ['ignore', 'ignore', fds[i]],
        });
        child.on('error', (err) => resolve([id, 127, err.message]));
        child.on('exit', (status, signal) => resolve([id, status ?? signal, '']));
      }),
  ),
);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
for (const fd of fds) fs.closeSync(fd);
const failed = results
  .filter(([, status]) => status !== 0)
  .map(([id, status]) => [id, status, fs.readFileSync(path.join(errDir, `${id}.err`), 'utf8').trim()]);
process.stdout.write(JSON.stringify({ ms, failed }) + '\n');
