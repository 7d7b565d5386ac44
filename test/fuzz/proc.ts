// Running bin/tsrunc asynchronously, so that a fuzz case can run a few commands at once on
// the machine's cores; output goes to files (a container's init would hold a pipe open).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TSRUNC, type RunResult } from '../helpers/tsrunc';

export interface AsyncRunOptions {
  cwd?: string;
  /** Written to standard input (otherwise /dev/null). */
  input?: string | Buffer;
  /** SIGKILL after this long; the result then has status null. */
  timeoutMs?: number;
}

/** Runs bin/tsrunc with `args`; resolves with its status and output, whatever happens. */
export function runTsruncAsync(args: string[], opts: AsyncRunOptions = {}): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-fuzz-io-'));
  const outFile = path.join(dir, 'out');
  const errFile = path.join(dir, 'err');
  const out = fs.openSync(outFile, 'w+');
  const err = fs.openSync(errFile, 'w+');
  const child = spawn(TSRUNC, args, { cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', out, err] });
  fs.closeSync(out);
  fs.closeSync(err);
  if (opts.input !== undefined) {
    child.stdin?.on('error', () => {
      // tsrunc may exit before reading its input
    });
    child.stdin?.end(opts.input);
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    let done = false;
    const finish = (status: number | null, signal: NodeJS.Signals | null, note = ''): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const read = (f: string): string => {
        try {
          return fs.readFileSync(f, 'utf8');
        } catch {
          return '';
        }
      };
      const result: RunResult = { status, signal, stdout: read(outFile), stderr: note + read(errFile) };
      fs.rmSync(dir, { recursive: true, force: true });
      resolve(result);
    };
    child.on('error', (e) => finish(null, null, `could not run ${TSRUNC}: ${e.message}\n`));
    child.on('exit', (code, signal) => finish(code, signal));
  });
}
