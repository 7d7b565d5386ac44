// Real clients for the e2e tests: a private containerd, a private dockerd and a podman with
// private storage, each driving bin/tsrunc. Every daemon, container, mount and cgroup they make
// lives under one temp dir or one cgroup name of this test process, and `stop()` (also run as
// a teardown, so it happens when a test fails) removes all of it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupTree, hierarchyRoots, removeCgroupTree } from './cgroup-tree';
import { busyboxRootfs } from './container';
import { processesMentioning } from './host';
import { buildOciArchive } from './oci-image';
import { TSRUNC, pollUntil, runCommand, tempDir, type RunOptions, type RunResult, type Teardownable } from './tsrunc';

export { cgroupTree, removeCgroupTree };

export type Client = (args: string[], opts?: RunOptions) => RunResult;

export function haveCommand(name: string, versionArgs = ['--version']): boolean {
  return spawnSync(name, versionArgs).status === 0;
}

/** Runs `argv` with a pseudo-terminal as its stdin/stdout (util-linux `script`), as a user at a terminal would. */
export function inPty(argv: string[], opts: RunOptions = {}): RunResult {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = runCommand('script', ['-qec', quoted, '/dev/null'], opts);
  return { ...r, stdout: r.stdout.replace(/\r+\n/g, '\n') };
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Pids of processes, other than this one, whose command line names `dir` (a client's daemons, shims and runtimes). */
export function processesWith(dir: string): number[] {
  return processesMentioning([dir], ['cmdline']);
}

/**
 * What a client run left behind: mounts under its dir, processes naming it, cgroups below its
 * cgroup parent (the parent itself is made by the first container and removed by nobody;
 * `clientsOwn` names empty child cgroups the client itself keeps there, as podman's `conmon`).
 */
export function clientLeftovers(dir: string, cgroupName: string, clientsOwn: string[] = []): string[] {
  const parents = new Set(hierarchyRoots().map((root) => path.join(root, cgroupName)));
  const procs = (c: string): string | undefined => {
    try {
      return fs.readFileSync(path.join(c, 'cgroup.procs'), 'utf8');
    } catch {
      return undefined; // removed meanwhile
    }
  };
  const own = (c: string): boolean =>
    clientsOwn.includes(path.basename(c)) && parents.has(path.dirname(c)) && procs(c) === '';
  const cgroups = cgroupTree(cgroupName).filter((c) => !parents.has(c) && !own(c) && procs(c) !== undefined);
  return [
    ...mountsUnder(dir).map((m) => `mount ${m}`),
    ...processesWith(dir).map((p) => `process ${p}`),
    ...cgroups.map((c) => `cgroup ${c}`),
  ];
}

async function stopDaemon(daemon: ChildProcess, timeoutMs: number): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGTERM');
  const timer = setTimeout(() => daemon.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** How long what a client cleans up after itself may take to go before it counts as left. */
const SETTLE_MS = 60_000;

/**
 * After a client stopped: returns what it left (clientLeftovers), then removes that — kills
 * what still names `dir`, unmounts what is under it, removes the cgroup tree. Clients finish
 * some cleanup after their command or daemon returned (a shim exits after its task's delete,
 * conmon runs podman's `container cleanup` when a container exits): a leftover is what is
 * still there after SETTLE_MS, not what a loaded machine has not yet got round to ending.
 */
async function sweep(dir: string, cgroupName: string, clientsOwn: string[] = []): Promise<string[]> {
  let left: string[] = [];
  await pollUntil(() => (left = clientLeftovers(dir, cgroupName, clientsOwn)).length === 0, SETTLE_MS, 200);
  for (const pid of processesWith(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
  removeCgroupTree(cgroupName);
  return left;
}

// ---------------------------------------------------------------- containerd

export interface Containerd {
  dir: string;
  socket: string;
  /** Namespace all ctr calls use. */
  namespace: string;
  ctr: Client;
  /** The image imported from the busybox rootfs (Cmd `sh`). */
  image: string;
  /** Removes every container, stops the daemon, sweeps; resolves with what was left before the sweep. */
  stop(): Promise<string[]>;
}

export interface ContainerdOptions {
  /** Extra TOML appended to config.toml (runtimes, CRI plugin settings); a function gets the private dir. */
  extraConfig?: string | ((dir: string) => string);
  /** Keep the CRI plugin (disabled otherwise). */
  cri?: boolean;
  namespace?: string;
  /** The cgroup name the teardown removes in every hierarchy (default: the namespace). */
  cgroupName?: string;
  /** More images to import, made from the same busybox rootfs: name → its Cmd. */
  images?: Record<string, string[]>;
}

export async function startContainerd(t: Teardownable, opts: ContainerdOptions = {}): Promise<Containerd> {
  const dir = tempDir(t, 'tsrunc-containerd');
  const socket = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  const namespace = opts.namespace ?? `tsrunc-e2e-${process.pid}`;
  const image = `docker.io/library/tsrunc-busybox:${process.pid}`;
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      opts.cri === true ? '' : 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      typeof opts.extraConfig === 'function' ? opts.extraConfig(dir) : (opts.extraConfig ?? ''),
      '',
    ].join('\n'),
  );
  const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
  const daemon = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log] });
  const ctr: Client = (args, o = {}) => runCommand('ctr', ['--address', socket, '--namespace', namespace, ...args], o);
  let left: string[] | undefined;
  const stop = async (): Promise<string[]> => {
    if (left !== undefined) return left;
    left = [];
    for (const id of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean))
      (ctr(['task', 'kill', '-s', 'KILL', id]), ctr(['task', 'rm', '-f', id]));
    for (const id of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['container', 'rm', id]);
    await stopDaemon(daemon, 20_000);
    fs.closeSync(log);
    left = await sweep(dir, opts.cgroupName ?? namespace);
    return left;
  };
  t.teardown(async () => void (await stop()));
  if (
    !(await pollUntil(() => daemon.exitCode !== null || ctr(['version']).status === 0, 120_000)) ||
    daemon.exitCode !== null
  )
    throw new Error(
      `containerd did not start: ${fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8').slice(-2000)}`,
    );
  const archive = buildOciArchive(busyboxRootfs(t), dir, image);
  const imported = ctr(['image', 'import', archive]);
  if (imported.status !== 0) throw new Error(`ctr image import: ${imported.stderr}`);
  for (const [i, [name, cmd]] of Object.entries(opts.images ?? {}).entries()) {
    const work = path.join(dir, `image-${i}`);
    fs.mkdirSync(work);
    const more = ctr(['image', 'import', buildOciArchive(busyboxRootfs(t), work, name, cmd)]);
    if (more.status !== 0) throw new Error(`ctr image import ${name}: ${more.stderr}`);
  }
  return { dir, socket, namespace, ctr, image, stop };
}

// ---------------------------------------------------------------- dockerd

export interface Dockerd {
  dir: string;
  /** dockerd's --exec-root: the runtime's --root is <execRoot>/runtime-runc/moby. */
  execRoot: string;
  /** Cgroup parent of every container of this daemon. */
  cgroupParent: string;
  docker: Client;
  /** The image made by `docker import` of the busybox rootfs (Cmd `sh`). */
  image: string;
  /** Removes every container, stops the daemon, sweeps; resolves with what was left before the sweep. */
  stop(): Promise<string[]>;
}

export interface DockerdOptions {
  /** Extra dockerd flags (default: `--add-runtime tsrunc=bin/tsrunc`). */
  flags?: string[];
  /** A daemon.json given with --config-file. */
  daemonJson?: Record<string, unknown>;
  /** --cgroup-parent (default /tsrunc-e2e-<dir>; with native.cgroupdriver=systemd a slice name). */
  cgroupParent?: string;
}

export const DOCKER_CLI = '/usr/bin/docker';

export async function startDockerd(t: Teardownable, opts: DockerdOptions = {}): Promise<Dockerd> {
  const dir = tempDir(t, 'tsrunc-docker');
  const execRoot = path.join(dir, 'exec');
  const socket = path.join(dir, 'docker.sock');
  const cgroupParent = opts.cgroupParent ?? `tsrunc-e2e-${path.basename(dir)}`;
  const image = `tsrunc-busybox:${process.pid}`;
  const args = [
    '--data-root',
    path.join(dir, 'data'),
    '--exec-root',
    execRoot,
    '--pidfile',
    path.join(dir, 'docker.pid'),
    '-H',
    `unix://${socket}`,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--storage-driver',
    'vfs',
    '--cgroup-parent',
    opts.cgroupParent ?? `/${cgroupParent}`,
  ];
  if (opts.daemonJson !== undefined) {
    fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify(opts.daemonJson, null, 2));
    args.push('--config-file', path.join(dir, 'daemon.json'));
  }
  args.push(...(opts.flags ?? ['--add-runtime', `tsrunc=${TSRUNC}`]));
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'w');
  const daemon = spawn('dockerd', args, { stdio: ['ignore', log, log] });
  // DOCKER_CONFIG keeps the CLI off /root/.docker.
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'cli') };
  const docker: Client = (a, o = {}) => runCommand(DOCKER_CLI, a, { env, ...o });
  let left: string[] | undefined;
  const stop = async (): Promise<string[]> => {
    if (left !== undefined) return left;
    left = [];
    const ids = docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) docker(['rm', '-f', ...ids]);
    await stopDaemon(daemon, 30_000);
    fs.closeSync(log);
    left = await sweep(dir, cgroupParent);
    return left;
  };
  t.teardown(async () => void (await stop()));
  if (!(await pollUntil(() => docker(['version']).status === 0, 120_000)))
    throw new Error(`dockerd did not start: ${fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
  const tarball = path.join(dir, 'rootfs.tar');
  runCommand('tar', ['-C', busyboxRootfs(t), '--numeric-owner', '-cf', tarball, '.']);
  const imported = docker(['import', '--change', 'CMD ["sh"]', tarball, image]);
  if (imported.status !== 0) throw new Error(`docker import: ${imported.stderr}`);
  return { dir, execRoot, cgroupParent, docker, image, stop };
}

// ---------------------------------------------------------------- podman

export interface Podman {
  dir: string;
  cgroupParent: string;
  /** podman with private storage, tmpdir and events file; `--runtime` is the caller's to give. */
  podman: Client;
  /** The global flags `podman` puts first (storage, tmpdir, cgroup manager, events backend). */
  globals: string[];
  /** The flags this VM needs on every `podman run` / `create` (rlimits within the hard limits, no network, our cgroup parent). */
  runFlags: string[];
  /** Removes every container and sweeps; resolves with what was left before the sweep. */
  stop(): Promise<string[]>;
}

/**
 * podman with its storage (graph root, run root), tmpdir and event log in a temp dir.
 * `containersConf`, when given, is written to that dir and named by CONTAINERS_CONF.
 */
export function podmanSetup(
  t: Teardownable,
  containersConf?: (dir: string) => string,
  /** systemd: podman's default where systemd is PID 1; its cgroup parent is then a slice. */
  cgroupManager: 'cgroupfs' | 'systemd' = 'cgroupfs',
): Podman {
  const dir = tempDir(t, 'tsrunc-podman');
  const cgroupParent =
    cgroupManager === 'systemd' ? `tsrunc-e2e-${process.pid}.slice` : `tsrunc-e2e-${path.basename(dir)}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (containersConf !== undefined) {
    fs.writeFileSync(path.join(dir, 'containers.conf'), containersConf(dir));
    env.CONTAINERS_CONF = path.join(dir, 'containers.conf');
  }
  const globals = [
    '--root',
    path.join(dir, 'storage'),
    '--runroot',
    path.join(dir, 'run'),
    '--tmpdir',
    path.join(dir, 'tmp'),
    '--storage-driver',
    'vfs',
    '--cgroup-manager',
    cgroupManager,
    '--events-backend',
    'file',
  ];
  const podman: Client = (a, o = {}) => runCommand('podman', [...globals, ...a], { env, ...o });
  let left: Promise<string[]> | undefined;
  const stop = (): Promise<string[]> => {
    if (left !== undefined) return left;
    podman(['rm', '-af', '-t', '0']);
    // podman puts conmon in <parent>/conmon and leaves that cgroup (with runc too).
    left = sweep(dir, cgroupParent, ['conmon']);
    return left;
  };
  t.teardown(async () => void (await stop()));
  const runFlags = [
    '--ulimit',
    'nofile=1024:1024',
    '--ulimit',
    'nproc=1024:1024',
    '--network',
    'none',
    '--cgroup-parent',
    cgroupManager === 'systemd' ? cgroupParent : `/${cgroupParent}`,
  ];
  return { dir, cgroupParent, podman, globals, runFlags, stop };
}
