// runc beside tsrunc: the same case run with runc 1.1.5 (where installed) to compare behaviour.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runWithFiles, type TestContainer } from './container';
import { privateRoot, type RunResult, type Teardownable } from './tsrunc';

export const RUNC = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc'].find((p) => fs.existsSync(p));

/** Runs runc with `--root root`, stdio on files of this call's own (a detached container keeps writing to what it inherited). */
export function runc(root: string, args: string[], cwd: string): RunResult {
  return runWithFiles(RUNC as string, ['--root', root, ...args], { cwd });
}

/**
 * A runc twin of a test container: its config (as written) in a bundle of its own, with a
 * cgroup of its own, a private root, and `delete --force` at teardown. `run(args)` runs runc
 * there with the twin's id filled in where `ID` stands.
 */
export function runcTwin(
  t: Teardownable,
  c: TestContainer,
): {
  id: string;
  bundle: string;
  root: string;
  run(args: string[]): RunResult;
  spawn(args: string[], stdio: number): ChildProcess;
} {
  const root = privateRoot(t);
  const id = `${c.id}-runc`;
  const spec = JSON.parse(fs.readFileSync(path.join(c.bundle, 'config.json'), 'utf8')) as {
    linux?: { cgroupsPath?: string };
    root?: { path: string };
  };
  if (spec.linux?.cgroupsPath !== undefined) spec.linux.cgroupsPath += '-runc';
  if (spec.root !== undefined) spec.root.path = path.resolve(c.bundle, spec.root.path);
  const bundle = path.join(c.bundle, 'runc-bundle');
  fs.mkdirSync(bundle, { recursive: true });
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  t.teardown(() => void runc(root, ['delete', '--force', id], bundle));
  const fill = (args: string[]): string[] => args.map((a) => (a === 'ID' ? id : a));
  return {
    id,
    bundle,
    root,
    run: (args) => runc(root, fill(args), bundle),
    // In the background, stdout and stderr on `stdio` (killed by the caller).
    spawn: (args, stdio) =>
      spawn(RUNC as string, ['--root', root, ...fill(args)], { cwd: bundle, stdio: ['ignore', stdio, stdio] }),
  };
}
