// Helpers for tests that run real containers (as root): a busybox rootfs built once per
// test process, bundles in temp dirs, a private --root, and cgroups under a parent that is
// this test process's own — all removed when the test ends, even when it fails.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec } from '../../src/spec/default-spec';
import type { Spec } from '../../src/spec/types';
import { hierarchyRoots, removeCgroupTree } from './cgroup-tree';
import {
  REPO_ROOT,
  TSRUNC,
  privateRoot,
  runTsrunc,
  tempDir,
  type RunOptions,
  type RunResult,
  type Teardownable,
} from './tsrunc';

export function rootSkipReason(): string | false {
  return process.getuid?.() === 0 ? false : 'needs root (creates namespaces, mounts and cgroups)';
}

let sharedRootfs: string | undefined;

/** A busybox rootfs shared by the tests of this process (they must not write to it). */
export function busyboxRootfs(t: Teardownable): string {
  if (sharedRootfs === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-rootfs-'));
    execFileSync(path.join(REPO_ROOT, 'scripts', 'make-rootfs.sh'), [path.join(dir, 'rootfs')]);
    sharedRootfs = path.join(dir, 'rootfs');
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  void t;
  return sharedRootfs;
}

/** Cgroup parent of every container of this test process, removed at the end. */
export const CGROUP_PARENT = `/tsrunc-test-${process.pid}`;

/** Removes CGROUP_PARENT (empty once every container is gone) in every hierarchy; a leftover is reported by the test that checks for leaks. */
export function removeCgroupParent(): void {
  removeCgroupTree(CGROUP_PARENT);
}

let cgroupCleanupRegistered = false;

export interface TestContainer {
  id: string;
  bundle: string;
  root: string;
  spec: Spec;
  /** Runs tsrunc with `--root` and, for create/run, `--bundle` filled in. */
  tsrunc(args: string[], opts?: RunOptions): RunResult;
  writeConfig(): void;
  /** The init's host pid (from `state`). */
  pid(): number;
  status(): string;
}

let counter = 0;

/**
 * Runs tsrunc with stdout and stderr on files, not pipes: a container's init inherits them,
 * and a pipe would keep spawnSync waiting for as long as the container lives.
 */
export function runWithFileStdio(args: string[], opts: RunOptions = {}): RunResult {
  return runWithFiles(TSRUNC, args, opts);
}

/** Runs any program as runWithFileStdio runs tsrunc: stdout and stderr on files of this call's own (as `uid`:`gid`, when given). */
export function runWithFiles(
  file: string,
  args: string[],
  opts: RunOptions & { uid?: number; gid?: number } = {},
): RunResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-io-'));
  try {
    const out = fs.openSync(path.join(dir, 'out'), 'w+');
    const err = fs.openSync(path.join(dir, 'err'), 'w+');
    try {
      const r = spawnSync(file, args, {
        ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
        ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        input: opts.input,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', out, err],
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
      });
      return {
        status: r.status,
        signal: r.signal,
        stdout: fs.readFileSync(path.join(dir, 'out'), 'utf8'),
        stderr: fs.readFileSync(path.join(dir, 'err'), 'utf8'),
      };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The spec the container tests start from: `tsrunc spec`'s defaults plus a cgroup namespace
 * (docker's and CRI's containers have one on cgroup v2; runc's default spec, and so tsrunc's,
 * has none), `sleep 1000` without a terminal, on a read-only `rootfs`, in the cgroup `cgroupsPath`.
 */
export function sleeperSpec(rootfs: string, cgroupsPath: string): Spec {
  const spec = defaultSpec();
  const proc = spec.process!;
  proc.terminal = false;
  proc.args = ['sleep', '1000'];
  spec.root = { path: rootfs, readonly: true };
  spec.linux!.namespaces!.push({ type: 'cgroup' });
  spec.linux!.cgroupsPath = cgroupsPath;
  return spec;
}

/**
 * Gives `spec` a user namespace of its own (added unless it has one) with container ids 0-65535
 * mapped to host ids from 100000 (gids from `gidHost`). With `bundle`, that is made 0755: the
 * mapped root must reach a rootfs inside it, and temp dirs are 0700 (so is the shared
 * busybox rootfs's: pair this with copyRootfs).
 */
export function userNamespace(spec: Spec, opts: { bundle?: string; gidHost?: number } = {}): void {
  if (opts.bundle !== undefined) fs.chmodSync(opts.bundle, 0o755);
  const linux = (spec.linux ??= {});
  const namespaces = (linux.namespaces ??= []);
  if (!namespaces.some((ns) => ns.type === 'user')) namespaces.push({ type: 'user' });
  linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  linux.gidMappings = [{ containerID: 0, hostID: opts.gidHost ?? 100000, size: 65536 }];
}

/**
 * A bundle with a non-terminal busybox config (sleeperSpec); `edit` may change the spec. The
 * container is force-deleted at teardown.
 */
export function testContainer(
  t: Teardownable,
  edit: (spec: Spec, bundle: string) => void = () => {},
  opts: { copyRootfs?: boolean; root?: string } = {},
): TestContainer {
  const id = `t${process.pid}-${++counter}`;
  const bundle = tempDir(t, 'tsrunc-bundle');
  const root = opts.root ?? privateRoot(t);
  let rootfs = busyboxRootfs(t);
  if (opts.copyRootfs) {
    execFileSync('cp', ['-a', rootfs, path.join(bundle, 'rootfs')]);
    rootfs = path.join(bundle, 'rootfs');
  }
  const spec = sleeperSpec(rootfs, `${CGROUP_PARENT}/${id}`);
  edit(spec, bundle);
  const c: TestContainer = {
    id,
    bundle,
    root,
    spec,
    tsrunc(args, runOpts) {
      return runWithFileStdio(['--root', root, ...args], { cwd: bundle, ...runOpts });
    },
    writeConfig() {
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    },
    pid() {
      const r = c.tsrunc(['state', id]);
      return (JSON.parse(r.stdout) as { pid: number }).pid;
    },
    status() {
      const r = c.tsrunc(['state', id]);
      return r.status === 0 ? (JSON.parse(r.stdout) as { status: string }).status : 'missing';
    },
  };
  c.writeConfig();
  t.teardown(() => {
    runTsrunc(['--root', root, 'delete', '--force', id]);
  });
  if (!cgroupCleanupRegistered) {
    cgroupCleanupRegistered = true;
    process.on('exit', removeCgroupParent);
  }
  return c;
}

/** Runs a container to completion (`run`), returning its output and exit status. */
export function runContainer(
  t: Teardownable,
  edit: (spec: Spec, bundle: string) => void,
  opts: { copyRootfs?: boolean } = {},
): RunResult & { container: TestContainer } {
  const c = testContainer(t, edit, opts);
  const r = c.tsrunc(['run', c.id]);
  return { ...r, container: c };
}

/** Cgroup directories of a container id under this process's test parent. */
export function cgroupDirsOf(id: string): string[] {
  const out: string[] = [];
  for (const base of hierarchyRoots()) {
    const dir = path.join(base, CGROUP_PARENT, id);
    if (fs.existsSync(dir)) out.push(dir);
  }
  return out;
}
