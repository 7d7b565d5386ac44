// Turns a validated config.json into the ordered steps of a container's init (see steps.ts).
// All decisions are made here, in TypeScript; the executor only carries them out. What they
// depend on of the host comes in as HostFacts (host-facts.ts): nothing here reads the host.
import * as path from 'node:path';
import { ConfigError, type Problem } from '../errors';
import { DEFAULT_DEVICES } from '../spec/devices';
import { NAMESPACE_JOIN_ORDER } from '../spec/linux-names';
import { idmapProblems, isBindMount, isIdmappedMount, mountIdmap } from '../spec/mounts';
import { nameInside, netDevicePointer } from '../spec/net-devices';
import type { Mount, NamespaceType, Process, Spec } from '../spec/types';
import type { HostCgroupHierarchy, HostFacts, HostMount } from './host-facts';
import { MOUNT_ATTR, MS, parseMountOptions } from './mount-options';
import { consoleStep, processSteps } from './process-steps';
import type { FdRole, Plan, PlanStep, StepIdmap } from './steps';

export interface PlanOptions {
  id: string;
  bundle: string;
  spec: Spec;
  noPivot: boolean;
  /** A console socket was given: the init sends its pty master there. */
  consoleSocket: boolean;
  /** --preserve-fds: the caller's fds 3.. that the container keeps (LISTEN_FDS come on top: HostFacts). */
  preserveFds: number;
  /** runc's --no-new-keyring: keep the caller's session keyring. */
  noNewKeyring: boolean;
}

const DEV_SYMLINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

export function buildCreatePlan(opts: PlanOptions, host: HostFacts): Plan {
  return new Planner(opts, host).build();
}

/**
 * A mount's data with the SELinux context of linux.mountLabel added, as runc's
 * label.FormatMountLabel writes it (quoted: an MLS range may hold commas).
 */
export function formatMountLabel(data: string, label: string | undefined): string {
  if (label === undefined || label === '') return data;
  return data === '' ? `context="${label}"` : `${data},context="${label}"`;
}

/**
 * How linux.mountLabel applies to a mount of this filesystem type, as in runc's mountToRootfs:
 * proc and sysfs are never labelled, mqueue's root is labelled after the mount (setxattr; the
 * mqueue filesystem takes no context= option), a bind takes none (the kernel ignores a bind's
 * data), every other filesystem (tmpfs, devpts, ...) is mounted with context=.
 */
export function mountLabelUse(fstype: string, bind: boolean): 'none' | 'file' | 'context' {
  if (bind || fstype === 'proc' || fstype === 'sysfs') return 'none';
  return fstype === 'mqueue' ? 'file' : 'context';
}

/** The bind sources a plan of `spec` looks at (absolute): what HostFacts.bindSources tells it about. */
export function bindSources(spec: Spec, bundle: string): string[] {
  return (spec.mounts ?? [])
    .filter((m) => m.type !== 'cgroup' && isBindMount(m))
    .map((m) => path.resolve(bundle, m.source ?? ''));
}

/** The init's environment: with sockets from systemd (LISTEN_FDS), LISTEN_FDS and LISTEN_PID=1 are added, as runc adds them. */
export function initEnv(proc: Process, listenFds: number): string[] | undefined {
  return listenFds > 0 ? [...(proc.env ?? []), `LISTEN_FDS=${listenFds}`, 'LISTEN_PID=1'] : proc.env;
}

class Planner {
  private readonly steps: PlanStep[] = [];
  /** Whether the container gets its own /dev (no /dev bound from elsewhere): stdio on /dev/null is then reopened there. */
  private setupDev = false;
  private readonly problems: Problem[] = [];
  private readonly spec: Spec;
  private readonly proc: Process;
  private readonly rootfs: string;
  /** --preserve-fds and LISTEN_FDS: the caller's fds 3.. that the container keeps. */
  private readonly preserveFds: number;
  private readonly newNs: Set<NamespaceType>;
  private readonly joinNs: Map<NamespaceType, string>;
  private readonly fds: FdRole[] = ['sync', 'exec-fifo'];
  private readonly afterPivot: PlanStep[] = [];
  /** "/"'s own propagation when it had to wait until the rootfs is final (shared, unbindable). */
  private finalPropagation: PlanStep | undefined;

  constructor(
    private readonly opts: PlanOptions,
    private readonly host: HostFacts,
  ) {
    this.spec = opts.spec;
    const proc = opts.spec.process as Process; // validation guarantees it
    this.proc = host.listenFds > 0 ? { ...proc, env: initEnv(proc, host.listenFds) } : proc;
    this.preserveFds = opts.preserveFds + host.listenFds;
    this.rootfs = path.resolve(opts.bundle, opts.spec.root?.path ?? 'rootfs');
    const nss = opts.spec.linux?.namespaces ?? [];
    this.newNs = new Set(nss.filter((n) => !n.path).map((n) => n.type));
    this.joinNs = new Map(nss.filter((n) => n.path).map((n) => [n.type, n.path as string]));
    if (opts.consoleSocket) this.fds.push('console-socket');
  }

  private add(...steps: PlanStep[]): void {
    this.steps.push(...steps);
  }

  private fail(pointer: string, message: string): void {
    this.problems.push({ pointer, message });
  }

  build(): Plan {
    this.namespaces();
    const hasMountNs = this.newNs.has('mount') || this.joinNs.has('mount');
    if (!hasMountNs && ((this.spec.mounts?.length ?? 0) > 0 || this.opts.noPivot)) {
      this.fail(
        '/linux/namespaces',
        'tsrunc needs a mount namespace ("mount") to set up mounts; refusing to mount in the host namespace',
      );
    }
    if (!hasMountNs) {
      // Each of these would cover or remount a mount of the host.
      for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
        if ((this.spec.linux?.[key]?.length ?? 0) > 0)
          this.fail(`/linux/${key}`, 'unable to restrict sys entries without a private MNT namespace');
      }
      if (this.spec.root?.readonly === true)
        this.fail(
          '/root/readonly',
          'a read-only root needs a mount namespace ("mount"); refusing to remount a host mount',
        );
    }
    if (hasMountNs) {
      this.rootfsSetup();
    }
    this.add({ op: 'sync', tag: 'hooks' });
    (this.spec.hooks?.createContainer ?? []).forEach((h, i) =>
      this.add({
        op: 'hook',
        hook: 'createContainer',
        index: i,
        path: h.path,
        args: h.args ?? [],
        env: h.env ?? [],
        timeout: h.timeout ?? 0,
        stateIndex: 0,
        inRootfs: true,
      }),
    );
    if (hasMountNs && this.opts.noPivot) {
      // As runc: with a chroot the host's own proc and sysfs mounts stay in the mount namespace,
      // and the kernel lets a user namespace mount procfs or sysfs as long as a full one is
      // there: they are detached (or covered) first.
      for (const m of hostPseudoMounts(this.host.mounts, this.rootfs))
        this.add({ op: 'detach-host-mount', path: m.path, fstype: m.fstype });
    }
    if (hasMountNs) this.add(this.opts.noPivot ? { op: 'move-root' } : { op: 'pivot-root' });
    else this.add({ op: 'chroot', rootfs: this.rootfs });
    // As runc, where it set up /dev (a /dev bound from elsewhere is left as it is).
    if (hasMountNs && this.setupDev) this.add({ op: 'reopen-dev-null' });
    // As runc: a missing cwd is created in the container (before the root may turn read-only).
    if (hasMountNs && path.posix.normalize(this.proc.cwd) !== '/')
      this.add({ op: 'mkdir', path: this.proc.cwd, mode: 0o755 });
    this.finalizeRootfs();
    this.processAttributes();
    if (this.problems.length > 0) throw new ConfigError('config.json', this.problems);
    // (an ordinary user cannot clone a tree of the host's mount namespace: rootless, the
    // sources are bound inside the container's, as they can be reached by the user there)
    this.openTreesFirst(this.newNs.has('user') && !this.host.rootlessEuid);
    return {
      containerId: this.opts.id,
      rootfs: this.rootfs,
      preserveFds: this.preserveFds,
      fds: this.fds,
      steps: this.steps,
    };
  }

  /**
   * With a new user namespace (`allBinds`), bind sources are cloned before it is entered (runc
   * opens them on the host side too): a source only the runtime's root can reach (a 0700
   * directory) still works. An idmapped bind source is cloned there in any case: only the host
   * user namespace may idmap a host filesystem, and the init, still in the runtime's pid
   * namespace, can make the user namespace that carries the mapping and read it in /proc.
   * The trees are opened after the joined namespaces and before any new one is made (idmapped
   * ones before the init joins its cgroups: see below).
   */
  private openTreesFirst(allBinds: boolean): void {
    const trees: PlanStep[] = [];
    for (const step of this.steps) {
      if (step.op !== 'mount' || !step.bind || !(allBinds || step.idmap !== undefined)) continue;
      step.tree = trees.length;
      trees.push({
        op: 'open-tree',
        index: step.tree,
        source: step.source,
        flags: step.flags,
        attrSet: step.attrSet,
        attrClear: step.attrClear,
        ...(step.idmap !== undefined ? { idmap: step.idmap } : {}),
        // An idmapped source inside the rootfs is resolved there, never through a symlink of
        // the image to a host directory: idmapped, the container's root could write the host's
        // root-owned files there.
        ...(step.idmap !== undefined && insideDir(step.source, this.rootfs) ? { inRootfs: this.rootfs } : {}),
      });
    }
    if (trees.length === 0) return;
    // An idmapped tree first of all, before the init is placed in the container's cgroups: the
    // child it forks to carry the mapping would count against the container's pids limit (a
    // limit of 1 failed create). Its source is a host path, resolved in the host's mount
    // namespace as runc 1.2 opens it (a joined user namespace is refused for idmapped mounts).
    const idmapped = trees.filter((s) => s.op === 'open-tree' && s.idmap !== undefined);
    const plain = trees.filter((s) => !idmapped.includes(s));
    const at = this.steps.findIndex((s) => s.op !== 'sync' && s.op !== 'setns');
    this.steps.splice(at < 0 ? this.steps.length : at, 0, ...plain);
    this.steps.splice(0, 0, ...idmapped);
  }

  private namespaces(): void {
    this.add({ op: 'sync', tag: 'cgroup' });
    for (const ns of NAMESPACE_JOIN_ORDER) {
      const p = this.joinNs.get(ns);
      if (p !== undefined) this.add({ op: 'setns', ns, path: p });
    }
    // (a joined network namespace: before a new user namespace, in which the init would have no
    // capability over it)
    if (this.joinNs.has('network')) this.netDevices();
    if (this.newNs.has('user')) {
      // Rootless: the runtime, an ordinary user, can open /proc files of a dumpable child only,
      // so the init is dumpable while the runtime writes its maps (as runc's nsexec does) — and
      // not after: every process of the container has the user's host uid, and could ptrace a
      // dumpable init waiting for `start` before its seccomp filter is loaded (an attack that
      // ran a filtered syscall through it). So `exec` cannot join a created rootless container
      // (it says so); a started one has exec'd in its own user namespace, which the user owns.
      if (this.host.rootlessEuid)
        this.add(
          { op: 'unshare', namespaces: ['user'] },
          { op: 'dumpable', on: true },
          { op: 'sync', tag: 'userns' },
          { op: 'dumpable', on: false },
          { op: 'become-root' },
        );
      else this.add({ op: 'unshare', namespaces: ['user'] }, { op: 'sync', tag: 'userns' }, { op: 'become-root' });
    }
    const others = [...this.newNs].filter((n) => n !== 'user');
    if (others.length > 0) this.add({ op: 'unshare', namespaces: others });
    const offsets = this.spec.linux?.timeOffsets;
    if (this.newNs.has('time') && offsets !== undefined) {
      const lines = Object.entries(offsets).map(([clock, o]) => `${clock} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}\n`);
      this.add({
        op: 'write-file',
        path: '/proc/self/timens_offsets',
        content: lines.join(''),
        what: 'setting time namespace offsets',
      });
    }
    // A new or joined pid namespace (and a new time namespace) applies to children only.
    if (this.newNs.has('pid') || this.joinNs.has('pid') || this.newNs.has('time') || this.joinNs.has('time'))
      this.add({ op: 'fork' });
    if (this.newNs.has('network')) {
      // (runc's specconv gives a new network namespace its loopback network: lo up)
      this.add({ op: 'loopback-up' });
      this.netDevices();
    } else if (!this.joinNs.has('network') && Object.keys(this.spec.linux?.netDevices ?? {}).length > 0)
      this.fail('/linux/netDevices', 'unable to move network devices without a NET namespace');
  }

  private rootfsSetup(): void {
    const prop = this.spec.linux?.rootfsPropagation;
    const propFlags = prop ? (parseMountOptions([prop]).propagation[0] ?? MS.SLAVE | MS.REC) : MS.SLAVE | MS.REC;
    // An unbindable tree cannot be bound: the rootfs is bound while everything is private,
    // and "/" gets its propagation after the pivot.
    const unbindable = (propFlags & MS.UNBINDABLE) !== 0;
    this.add(
      unbindable
        ? { op: 'root-propagation', flags: MS.PRIVATE | MS.REC, option: 'rprivate' }
        : { op: 'root-propagation', flags: propFlags, option: prop ?? 'rslave' },
    );
    // pivot_root refuses a new root whose parent mount is shared: make that one mount private
    // (in the container's mount namespace only), and give "/" its propagation after the pivot.
    const shared = (propFlags & MS.SHARED) !== 0;
    if (shared)
      this.add({
        op: 'root-propagation',
        flags: MS.PRIVATE,
        option: 'private',
        path: mountPointOf(this.host.mounts, this.rootfs),
      });
    this.add({ op: 'bind-rootfs', rootfs: this.rootfs });
    if (shared || unbindable)
      this.finalPropagation = { op: 'root-propagation', flags: propFlags, option: prop ?? 'rshared' };
    let devBound = false;
    (this.spec.mounts ?? []).forEach((m, i) => {
      if (path.posix.normalize(m.destination) === '/dev' && isBindMount(m)) devBound = true;
      this.mount(m, i);
    });
    if (!devBound) this.devices();
    this.setupDev = !devBound;
  }

  private mount(m: Mount, index: number): void {
    const at = `/mounts/${index}`;
    const opts = parseMountOptions(m.options);
    const dest = path.posix.normalize(m.destination);
    const bind = isBindMount(m);
    if (m.type === 'cgroup') return this.cgroupMount(m, dest, opts.flags);
    let source = m.source ?? '';
    let destKind: 'dir' | 'file' = 'dir';
    if (bind) {
      source = path.resolve(this.opts.bundle, source);
      const kind = this.host.bindSources.get(source);
      if (kind === undefined) {
        this.fail(`${at}/source`, `bind mount source ${source} does not exist`);
        return;
      }
      destKind = kind;
    }
    let fstype = bind ? '' : (m.type ?? '');
    let flags = opts.flags;
    let bindMount = bind;
    // In a user namespace without a network namespace of its own, sysfs cannot be mounted:
    // bind the host's, read-only, as runc does.
    if (fstype === 'sysfs' && this.newNs.has('user') && !this.newNs.has('network')) {
      bindMount = true;
      fstype = '';
      source = '/sys';
      flags |= MS.BIND | MS.REC | MS.RDONLY;
    }
    if (!bindMount && fstype === '') {
      this.fail(`${at}/type`, 'is required for a mount that is not a bind mount');
      return;
    }
    // In a user namespace, a read-only rbind is read-only through its whole tree ("rro"): the
    // host's submounts keep their own flags otherwise (/sys's cgroup mounts stay writable under
    // a read-only /sys), and the container's root, which may own files there (a cgroup
    // delegated to the user), can remove what covers them (CVE-2023-25809's class).
    let attrSet = opts.attrSet;
    if (bindMount && this.newNs.has('user') && (flags & (MS.REC | MS.RDONLY)) === (MS.REC | MS.RDONLY))
      attrSet |= MOUNT_ATTR.RDONLY;
    const idmap = this.idmap(m, at, bindMount);
    const tmpfs = !bindMount && fstype === 'tmpfs';
    if (opts.tmpcopyup && !tmpfs) this.fail(`${at}/options`, 'tmpcopyup applies to tmpfs mounts only');
    // As runc: a tmpfs (which may be copied into and chmod-ed) and /dev (which gets devices,
    // devpts and the rest) are mounted writable and made read-only once the rootfs is final.
    if ((flags & MS.RDONLY) !== 0 && !bindMount && (tmpfs || dest === '/dev')) {
      flags &= ~MS.RDONLY;
      this.afterPivot.push({ op: 'readonly-path', path: dest, inPlace: true });
    }
    const mountLabel = this.spec.linux?.mountLabel;
    const labelUse = mountLabelUse(fstype, bindMount);
    this.add({
      op: 'mount',
      source,
      destination: dest,
      fstype,
      options: m.options ?? [],
      flags: bindMount ? flags : flags & ~(MS.BIND | MS.REC),
      data: labelUse === 'context' ? formatMountLabel(opts.data.join(','), mountLabel) : opts.data.join(','),
      bind: bindMount,
      attrSet,
      attrClear: opts.attrClear,
      destKind,
      realDir: fstype === 'proc' || fstype === 'sysfs' || dest === '/proc' || dest === '/sys',
      propagation: opts.propagation,
      ...(tmpfs ? { keepMode: true, copyUp: opts.tmpcopyup } : {}),
      ...(idmap !== undefined ? { idmap } : {}),
      ...(labelUse === 'file' && mountLabel ? { label: mountLabel } : {}),
    });
  }

  /** An idmapped mount's mapping (validation has refused what idmapProblems finds; so does this, failing closed). */
  private idmap(m: Mount, at: string, bind: boolean): StepIdmap | undefined {
    if (!isIdmappedMount(m)) return undefined;
    const problems = idmapProblems(m, at, this.spec, this.host.rootlessEuid);
    const resolved = mountIdmap(m, this.spec);
    if (problems.length > 0 || resolved === undefined || !bind) {
      this.problems.push(...problems);
      if (problems.length === 0) this.fail(`${at}/uidMappings`, 'cannot be an idmapped mount');
      return undefined;
    }
    const { uidMappings, gidMappings, recursive } = resolved;
    return { uidMappings, gidMappings, recursive, pointer: at };
  }

  /** A "cgroup" mount: the container's own cgroups, namespaced when it has a cgroup namespace. */
  private cgroupMount(m: Mount, dest: string, flags: number): void {
    const common = {
      options: m.options ?? [],
      attrSet: 0,
      attrClear: 0,
      destKind: 'dir' as const,
      realDir: false,
      propagation: [],
    };
    // Each cgroup mount is read-only from the start; the tmpfs holding them is made
    // read-only in place once they are in (it needs its mount points created first).
    const mountFlags = flags & ~(MS.BIND | MS.REC);
    const tmpfsFlags = mountFlags & ~MS.RDONLY;
    const namespaced = this.newNs.has('cgroup');
    const { hierarchies, paths } = this.host.cgroups;
    const pureV2 = hierarchies.length === 1 && hierarchies[0]?.version === 2;
    // A hybrid host's container sees only its v1 controllers, as runc shows them: workloads
    // (systemd among them) pick v1 or v2 by what /sys/fs/cgroup holds.
    const shown = hierarchies.some((h) => h.version === 1) ? hierarchies.filter((h) => h.version === 1) : hierarchies;
    if (pureV2) {
      const h = hierarchies[0] as HostCgroupHierarchy;
      if (namespaced)
        this.add({
          op: 'mount',
          source: 'cgroup',
          destination: dest,
          fstype: 'cgroup2',
          flags: mountFlags,
          data: '',
          bind: false,
          ...common,
        });
      else
        this.add({
          op: 'mount',
          source: paths[h.key] ?? h.mountpoint,
          destination: dest,
          fstype: '',
          flags: mountFlags | MS.BIND,
          data: '',
          bind: true,
          ...common,
        });
    } else {
      this.add({
        op: 'mount',
        source: 'tmpfs',
        destination: dest,
        fstype: 'tmpfs',
        flags: tmpfsFlags,
        data: formatMountLabel('mode=755', this.spec.linux?.mountLabel),
        bind: false,
        ...common,
      });
      for (const h of shown) {
        const sub = path.posix.join(dest, h.key);
        if (namespaced) {
          this.add({
            op: 'mount',
            source: 'cgroup',
            destination: sub,
            fstype: h.version === 2 ? 'cgroup2' : 'cgroup',
            flags: mountFlags,
            data: h.version === 2 ? '' : h.controllers.join(','),
            bind: false,
            ...common,
          });
        } else {
          const src = paths[h.key];
          if (src !== undefined)
            this.add({
              op: 'mount',
              source: src,
              destination: sub,
              fstype: '',
              flags: mountFlags | MS.BIND,
              data: '',
              bind: true,
              ...common,
            });
        }
        if (h.key.includes(',')) {
          for (const c of h.key.split(',')) this.add({ op: 'symlink', target: h.key, path: path.posix.join(dest, c) });
        }
      }
    }
    if ((flags & MS.RDONLY) !== 0 && !pureV2) this.afterPivot.push({ op: 'readonly-path', path: dest, inPlace: true });
  }

  private devices(): void {
    // (mknod needs the host's user namespace: the container's own, or the runtime's, forbid it)
    const inUserns = this.newNs.has('user') || this.joinNs.has('user') || this.host.runtimeInUserNamespace;
    type Dev = {
      path: string;
      major: number;
      minor: number;
      type: 'c' | 'b' | 'p';
      fileMode: number;
      uid: number;
      gid: number;
    };
    const devices: Dev[] = DEFAULT_DEVICES.map((d) => ({ ...d }));
    for (const d of this.spec.linux?.devices ?? []) {
      const idx = devices.findIndex((x) => x.path === d.path);
      const entry: Dev = {
        path: d.path,
        major: d.major ?? 0,
        minor: d.minor ?? 0,
        type: (d.type === 'u' ? 'c' : d.type) as 'c' | 'b' | 'p',
        fileMode: d.fileMode ?? 0o666,
        uid: d.uid ?? 0,
        gid: d.gid ?? 0,
      };
      if (idx >= 0) devices[idx] = entry;
      else devices.push(entry);
    }
    for (const d of devices) {
      if (inUserns) this.add({ op: 'bind-device', path: d.path, hostPath: d.path });
      else
        this.add({
          op: 'mknod',
          path: d.path,
          type: d.type,
          mode: d.fileMode,
          major: d.major,
          minor: d.minor,
          uid: d.uid,
          gid: d.gid,
        });
    }
    for (const [target, link] of DEV_SYMLINKS) this.add({ op: 'symlink', target, path: link });
    if (this.host.procKcore) this.add({ op: 'symlink', target: '/proc/kcore', path: '/dev/core' });
    this.add({ op: 'symlink', target: 'pts/ptmx', path: '/dev/ptmx' });
  }

  /**
   * linux.netDevices (validated: a network namespace, names the kernel takes): the parent moves
   * each host interface in, renamed, while the init waits in the container's network namespace
   * — a new one once it is made (owned by the container's user namespace, if it has one, where
   * the init is root), a joined one as soon as it is joined (before a new user namespace, while
   * the init still has the runtime's capabilities over it) — as runc moves them, before the
   * mounts and hooks. Then the init gives each its addresses, read on the host before the move,
   * and sets it up (src/lifecycle/net-devices.ts). An interface the host does not have is
   * refused here, before anything exists.
   */
  private netDevices(): void {
    const devices = this.spec.linux?.netDevices ?? {};
    const hostNames = Object.keys(devices);
    if (hostNames.length === 0) return;
    // (runc refuses network devices to a rootless cgroup manager too, which is what root of a
    // user namespace gets with cgroupfs)
    if (this.host.runtimeInUserNamespace) {
      this.fail(
        '/linux/netDevices',
        'network devices are not supported for rootless containers (tsrunc runs in a user namespace)',
      );
      return;
    }
    const steps: PlanStep[] = [];
    for (const hostName of hostNames) {
      const at = netDevicePointer(hostName);
      const device = this.host.netDevices.get(hostName);
      if (device === undefined) this.fail(at, `the host has no network interface ${JSON.stringify(hostName)}`);
      else if (device.name !== hostName)
        this.fail(
          at,
          `${JSON.stringify(hostName)} is an alternative name of the host's ${JSON.stringify(device.name)}: name the interface by its own name`,
        );
      else
        steps.push({
          op: 'net-device',
          name: nameInside(hostName, devices[hostName]),
          hostName,
          index: device.index,
          addresses: device.addresses,
        });
    }
    this.add({ op: 'sync', tag: 'net-devices' }, ...steps);
  }

  private finalizeRootfs(): void {
    const proc = this.proc;
    if (proc.terminal === true) {
      // Without a mount namespace /dev/console would be bound in the host's (runc skips it too).
      const pty = consoleStep(proc, this.fds, '/process/terminal', {
        bindConsole: this.newNs.has('mount') || this.joinNs.has('mount'),
        attachLater: false,
      });
      if ('op' in pty) this.add(pty);
      else this.problems.push(pty);
    } else {
      this.add({ op: 'setsid' });
    }
    if (this.spec.hostname) this.add({ op: 'sethostname', name: this.spec.hostname });
    if (this.spec.domainname) this.add({ op: 'setdomainname', name: this.spec.domainname });
    for (const [key, value] of Object.entries(this.spec.linux?.sysctl ?? {})) {
      this.add({
        op: 'write-file',
        path: `/proc/sys/${key.replace(/\./g, '/')}`,
        content: value,
        what: `setting sysctl ${key}`,
      });
    }
    this.steps.push(...this.afterPivot);
    for (const p of this.spec.linux?.readonlyPaths ?? []) this.add({ op: 'readonly-path', path: p });
    const mountLabel = this.spec.linux?.mountLabel;
    for (const p of this.spec.linux?.maskedPaths ?? [])
      this.add({ op: 'mask-path', path: p, ...(mountLabel ? { label: mountLabel } : {}) });
    if (this.spec.root?.readonly === true) this.add({ op: 'remount-root-ro' });
    if (this.finalPropagation !== undefined) this.add(this.finalPropagation);
    // The init reopens exec.fifo through the container's own /proc at start: checked now, so that
    // a container without procfs at /proc fails create, not start (runc refuses it too).
    this.add({ op: 'open-proc' });
  }

  private processAttributes(): void {
    const linux = this.spec.linux;
    if (linux?.intelRdt !== undefined) this.fail('/linux/intelRdt', 'Intel RDT is not supported by tsrunc');
    if (linux?.mountLabel && !this.host.selinux) this.fail('/linux/mountLabel', 'SELinux is not enabled on this host');
    // It goes into mount data as context="LABEL": a quote would end it and add mount options of
    // the label's own (under Kubernetes the label comes from a pod's seLinuxOptions).
    if (linux?.mountLabel !== undefined && /["\0-\x1f]/.test(linux.mountLabel))
      this.fail('/linux/mountLabel', 'an SELinux context holds no quote or control character');
    const { steps, problems, lateSeccomp } = processSteps(
      this.proc,
      this.spec,
      {
        pointer: '/process',
        preserveFds: this.preserveFds,
        ...(this.opts.noNewKeyring ? {} : { sessionKeyring: this.opts.id }),
        defaultUmask: 0o022,
      },
      this.host,
    );
    this.problems.push(...problems);
    this.steps.push(...steps);
    const proc = this.proc;
    const args = proc.args ?? [];
    const env = proc.env ?? [];
    this.add({ op: 'ready' });
    this.add({ op: 'wait-start', fifoSlot: this.fds.indexOf('exec-fifo') });
    // As runc: startContainer hooks run under the container's seccomp filter.
    if (lateSeccomp !== undefined) this.add(lateSeccomp);
    (this.spec.hooks?.startContainer ?? []).forEach((h, i) =>
      this.add({
        op: 'hook',
        hook: 'startContainer',
        index: i,
        path: h.path,
        args: h.args ?? [],
        env: h.env ?? [],
        timeout: h.timeout ?? 0,
        stateIndex: 1,
      }),
    );
    this.add({ op: 'exec', args, env });
  }
}

/** The host's proc and sysfs mounts outside `rootfs` (runc's msMoveRoot detaches them), deepest first. */
function hostPseudoMounts(mounts: readonly HostMount[], rootfs: string): { path: string; fstype: string }[] {
  const out: { path: string; fstype: string }[] = [];
  for (const { mountPoint: mp, fstype } of mounts) {
    if (fstype !== 'proc' && fstype !== 'sysfs') continue;
    if (mp === rootfs || mp.startsWith(`${rootfs}/`)) continue;
    out.push({ path: mp, fstype });
  }
  // Children first: a parent detached first would leave their paths pointing elsewhere.
  return out.sort((a, b) => b.path.length - a.path.length);
}

/** The mount point (host view) that contains `dir`: the longest mount path that prefixes it. */
function mountPointOf(mounts: readonly HostMount[], dir: string): string {
  let best = '/';
  for (const { mountPoint: mp } of mounts) {
    if ((dir === mp || dir.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}

/** `p` is `dir` or below it (both absolute and normalized). */
function insideDir(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}
