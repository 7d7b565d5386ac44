// What the benchmarks run on: the busybox rootfs, bundles whose config.json all runtimes take,
// the runtimes (tsrunc with its resident server and without, runc, crun in a private mount namespace on a hybrid-cgroup host), an OCI image
// archive for containerd, and a private containerd per runtime.
import { execFileSync } from 'node:child_process';
import { buildOciArchive } from '../../test/helpers/oci-image.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { patchFrontConfig, readFrontConfig } from '../../scripts/front-config.mjs';
import { CGROUP_NAME, onCleanup, processesWith, runSync, sleepMs, startDaemon, mountsUnder } from './host.mjs';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const TSRUNC = path.join(REPO, 'bin', 'tsrunc');

function which(cmd, candidates) {
  return candidates.find((p) => fs.existsSync(p)) ?? cmd;
}

/** How crun can run here: natively, or with the unified hierarchy's controllers hidden. */
export function cgroupLayout() {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'unified';
  if (fs.existsSync('/sys/fs/cgroup/unified/cgroup.controllers')) return 'hybrid';
  return 'legacy';
}

/**
 * A mount namespace of its own (private propagation), held open by a `sleep` the bench starts,
 * in which /sys/fs/cgroup/unified/cgroup.controllers is covered by /dev/null: crun 1.8 refuses a
 * hybrid host ("cgroups in hybrid mode not supported") but then sees a v1 host and uses the v1
 * controllers, as runc and tsrunc do. Commands enter it with nsenter; what is measured (hyperfine,
 * /usr/bin/time, containerd) is started inside, so nsenter itself is never timed.
 */
function crunNamespace() {
  const holder = startDaemon('unshare', ['--mount', '--propagation', 'private', 'sleep', 'infinity']);
  onCleanup('crun namespace holder', () => {
    try {
      holder.kill('SIGKILL');
    } catch {
      // gone
    }
  });
  const ownNs = fs.readlinkSync('/proc/self/ns/mnt');
  for (let i = 0; i < 100; i++) {
    try {
      if (
        fs.readFileSync(`/proc/${holder.pid}/comm`, 'utf8').trim() === 'sleep' &&
        fs.readlinkSync(`/proc/${holder.pid}/ns/mnt`) !== ownNs
      )
        break;
    } catch {
      // not there yet
    }
    sleepMs(20);
  }
  const prefix = ['nsenter', '-t', String(holder.pid), '-m', '--'];
  const m = runSync(prefix[0], [
    ...prefix.slice(1),
    'mount',
    '--bind',
    '/dev/null',
    '/sys/fs/cgroup/unified/cgroup.controllers',
  ]);
  if (m.status !== 0) throw new Error(`hiding cgroup.controllers for crun: ${m.stderr}`);
  return prefix;
}

/**
 * tsrunc with its resident server (issue 17): `tsrunc daemon` on a socket of the workspace, and
 * a copy of bin/tsrunc that looks there (the installed one, looking at the default socket where
 * nothing listens, is the direct path's row).
 */
function residentFront(ws) {
  const dir = path.join(ws, 'resident');
  fs.mkdirSync(dir, { mode: 0o700 });
  const socket = path.join(dir, 'tsrunc.sock');
  const front = path.join(dir, 'tsrunc');
  const image = fs.readFileSync(TSRUNC);
  fs.writeFileSync(front, patchFrontConfig(image, { ...readFrontConfig(image), socket }), { mode: 0o755 });
  const log = fs.openSync(path.join(dir, 'log'), 'w');
  const server = startDaemon(TSRUNC, ['daemon', '--socket', socket, '--spares', '4'], {
    stdio: ['ignore', 'ignore', log],
    env: { PATH: process.env.PATH },
  });
  fs.closeSync(log);
  for (let i = 0; i < 500 && !fs.existsSync(socket); i++) {
    if (server.exitCode !== null) break;
    sleepMs(20);
  }
  if (!fs.existsSync(socket))
    throw new Error(`tsrunc daemon did not start: ${fs.readFileSync(path.join(dir, 'log'), 'utf8')}`);
  sleepMs(1000); // its first workers load the bundle
  return front;
}

/**
 * The runtimes, each with its binary, a private --root under the workspace, and the prefix that
 * puts a command in its environment (empty but for crun on a hybrid host).
 */
export function makeRuntimes(ws) {
  const layout = cgroupLayout();
  const crunPrefix = layout === 'hybrid' ? crunNamespace() : [];
  const list = [
    { name: 'tsrunc-resident', bin: residentFront(ws), prefix: [] },
    { name: 'tsrunc', bin: TSRUNC, prefix: [] },
    { name: 'runc', bin: which('runc', ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc']), prefix: [] },
    { name: 'crun', bin: which('crun', ['/usr/bin/crun', '/usr/local/bin/crun']), prefix: crunPrefix },
  ];
  for (const rt of list) {
    rt.root = path.join(ws, 'roots', rt.name);
    fs.mkdirSync(rt.root, { recursive: true, mode: 0o700 });
    rt.cmd = (args) => [...rt.prefix, rt.bin, '--root', rt.root, ...args];
    rt.exec = (args, opts) => {
      const full = rt.cmd(args);
      return runSync(full[0], full.slice(1), opts);
    };
    /** Wraps a measuring tool (hyperfine, /usr/bin/time, node) so that it runs in the runtime's environment. */
    rt.wrap = (argv) => [...rt.prefix, ...argv];
    onCleanup(`${rt.name} containers`, () => deleteAll(rt));
  }
  const crunNote =
    layout === 'hybrid'
      ? 'crun 1.8 refuses this hybrid-cgroup host; it ran in a private mount namespace where /sys/fs/cgroup/unified/cgroup.controllers is covered by a bind mount of /dev/null, so it used the v1 controllers as runc and tsrunc do (nsenter is not part of any timing)'
      : `crun ran natively (${layout} cgroups)`;
  return { runtimes: list, crunNote, layout };
}

/** Deletes (forcibly) every container under the runtime's root. */
export function deleteAll(rt) {
  const ids = rt
    .exec(['list', '-q'])
    .stdout.split('\n')
    .filter((l) => l.trim() !== '');
  for (const id of ids) rt.exec(['delete', '--force', id.trim()]);
  return ids.length;
}

/** scripts/make-rootfs.sh DIR: busybox with one symlink per applet. */
export function makeRootfs(ws) {
  const rootfs = path.join(ws, 'rootfs');
  execFileSync(path.join(REPO, 'scripts', 'make-rootfs.sh'), [rootfs], { stdio: ['ignore', 'ignore', 'inherit'] });
  return rootfs;
}

/** The config every bundle starts from: `tsrunc spec`, made to run /bin/true without a terminal. */
export function baseSpec(ws) {
  const dir = path.join(ws, 'spec');
  fs.mkdirSync(dir);
  execFileSync(TSRUNC, ['spec', '--bundle', dir]);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  // crun 1.8 knows runtime-spec versions up to 1.0.x ("unknown version specified" otherwise).
  spec.ociVersion = '1.0.2';
  spec.process.terminal = false;
  spec.process.args = ['/bin/true'];
  return spec;
}

/**
 * A bundle directory for one container: the shared read-only rootfs by absolute path, and a
 * cgroup of its own under the bench's cgroup name.
 */
export function makeBundle(ws, spec, rootfs, rt, id) {
  const dir = path.join(ws, 'bundles', rt.name, id);
  fs.mkdirSync(dir, { recursive: true });
  const config = structuredClone(spec);
  config.root = { path: rootfs, readonly: true };
  config.linux.cgroupsPath = `/${CGROUP_NAME}/${rt.name}-${id}`;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/** An OCI image archive (image layout in a tar) of the rootfs, for `ctr image import`. */
export function makeImageArchive(ws, rootfs, name) {
  return buildOciArchive(rootfs, path.join(ws, 'image'), name, ['/bin/true']);
}

/**
 * A private containerd (own config, root, state, socket; CRI off) started in the runtime's
 * environment, with the image imported. stop() ends it and whatever it left.
 */
export function startContainerd(ws, rt, archive, image) {
  const dir = path.join(ws, 'containerd', rt.name);
  fs.mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const logFd = fs.openSync(path.join(dir, 'containerd.log'), 'w');
  const argv = rt.wrap(['containerd', '--config', config]);
  const daemon = startDaemon(argv[0], argv.slice(1), { stdio: ['ignore', logFd, logFd] });
  const namespace = CGROUP_NAME;
  const ctrArgs = ['--address', socket, '--namespace', namespace];
  const ctr = (args, opts) => runSync('ctr', [...ctrArgs, ...args], opts);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const id of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'rm', '-f', id]);
    for (const id of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['container', 'rm', id]);
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      for (
        let i = 0;
        i < 200 && daemon.exitCode === null && daemon.signalCode === null && fs.existsSync(`/proc/${daemon.pid}`);
        i++
      )
        sleepMs(50);
      if (fs.existsSync(`/proc/${daemon.pid}`)) daemon.kill('SIGKILL');
    }
    fs.closeSync(logFd);
    // Shims name the socket's directory on their command line.
    for (const pid of processesWith(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const m of mountsUnder(dir)) runSync('umount', ['-l', m]);
  };
  onCleanup(`containerd for ${rt.name}`, stop);
  let up = false;
  for (let i = 0; i < 300 && !up; i++) {
    if (ctr(['version']).status === 0) up = true;
    else sleepMs(100);
  }
  if (!up)
    throw new Error(
      `containerd did not start: ${fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8').slice(-2000)}`,
    );
  const imported = ctr(['image', 'import', archive]);
  if (imported.status !== 0) throw new Error(`ctr image import: ${imported.stderr}`);
  return { dir, socket, namespace, ctrArgs, ctr, stop, image };
}
