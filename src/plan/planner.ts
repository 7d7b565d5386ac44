// Turns a validated config.json into the ordered steps of a container's init (see steps.ts).
// All decisions are made here, in TypeScript; the executor only carries them out.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, type Problem } from '../errors';
import type { CgroupHierarchy } from '../cgroups/hierarchy';
import type { CgroupPaths } from '../cgroups/manager';
import { RLIMITS } from '../spec/linux-names';
import type { Mount, NamespaceType, Process, Spec } from '../spec/types';
import { MS, parseMountOptions } from './mount-options';
import type { FdRole, Plan, PlanStep } from './steps';

export interface PlanOptions {
  id: string;
  bundle: string;
  spec: Spec;
  noPivot: boolean;
  /** A console socket was given: the init sends its pty master there. */
  consoleSocket: boolean;
  preserveFds: number;
  /** runc's --no-new-keyring: keep the caller's session keyring. */
  noNewKeyring: boolean;
  cgroupPaths: CgroupPaths;
  hierarchies: CgroupHierarchy[];
}

const DEFAULT_DEVICES = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

const DEV_SYMLINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

const SCHED_POLICIES: Record<string, number> = { SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6 };
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const PERSONALITIES: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

/** Order in which namespaces given by path are joined: user first, mount last. */
const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

const RLIM_INFINITY_THRESHOLD = 2 ** 63;

export function buildCreatePlan(opts: PlanOptions): Plan {
  return new Planner(opts).build();
}

class Planner {
  private readonly steps: PlanStep[] = [];
  private readonly problems: Problem[] = [];
  private readonly spec: Spec;
  private readonly proc: Process;
  private readonly rootfs: string;
  private readonly newNs: Set<NamespaceType>;
  private readonly joinNs: Map<NamespaceType, string>;
  private readonly fds: FdRole[] = ['sync', 'exec-fifo'];
  private readonly afterPivot: PlanStep[] = [];

  constructor(private readonly opts: PlanOptions) {
    this.spec = opts.spec;
    this.proc = opts.spec.process as Process; // validation guarantees it
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
      this.fail('/linux/namespaces', 'tsrunc needs a mount namespace ("mount") to set up mounts; refusing to mount in the host namespace');
    }
    if (hasMountNs) {
      this.rootfsSetup();
    }
    this.add({ op: 'sync', tag: 'hooks' });
    (this.spec.hooks?.createContainer ?? []).forEach((h, i) =>
      this.add({ op: 'hook', hook: 'createContainer', index: i, path: h.path, args: h.args ?? [], env: h.env ?? [], timeout: h.timeout ?? 0, stateIndex: 0 }),
    );
    if (hasMountNs) this.add(this.opts.noPivot ? { op: 'move-root' } : { op: 'pivot-root' });
    else this.add({ op: 'chroot' });
    this.finalizeRootfs();
    this.processAttributes();
    if (this.problems.length > 0) throw new ConfigError('config.json', this.problems);
    return { containerId: this.opts.id, rootfs: this.rootfs, preserveFds: this.opts.preserveFds, fds: this.fds, steps: this.steps };
  }

  private namespaces(): void {
    this.add({ op: 'sync', tag: 'cgroup' });
    for (const ns of JOIN_ORDER) {
      const p = this.joinNs.get(ns);
      if (p !== undefined) this.add({ op: 'setns', ns, path: p });
    }
    if (this.newNs.has('user')) {
      this.add({ op: 'unshare', namespaces: ['user'] }, { op: 'sync', tag: 'userns' }, { op: 'become-root' });
    }
    const others = [...this.newNs].filter((n) => n !== 'user');
    if (others.length > 0) this.add({ op: 'unshare', namespaces: others });
    const offsets = this.spec.linux?.timeOffsets;
    if (this.newNs.has('time') && offsets !== undefined) {
      const lines = Object.entries(offsets).map(([clock, o]) => `${clock} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}\n`);
      this.add({ op: 'write-file', path: '/proc/self/timens_offsets', content: lines.join(''), what: 'setting time namespace offsets' });
    }
    // A new or joined pid namespace (and a new time namespace) applies to children only.
    if (this.newNs.has('pid') || this.joinNs.has('pid') || this.newNs.has('time') || this.joinNs.has('time')) this.add({ op: 'fork' });
  }

  private rootfsSetup(): void {
    const prop = this.spec.linux?.rootfsPropagation;
    const propFlags = prop ? parseMountOptions([prop]).propagation[0] ?? MS.SLAVE | MS.REC : MS.SLAVE | MS.REC;
    this.add({ op: 'root-propagation', flags: propFlags, option: prop ?? 'rslave' });
    // pivot_root refuses a new root whose parent mount is shared: make that one mount private
    // (in the container's mount namespace only), and give "/" its propagation after the pivot.
    const shared = (propFlags & MS.SHARED) !== 0;
    if (shared) this.add({ op: 'root-propagation', flags: MS.PRIVATE, option: 'private', path: mountPointOf(this.rootfs) });
    this.add({ op: 'bind-rootfs', rootfs: this.rootfs });
    if (shared) this.afterPivot.push({ op: 'root-propagation', flags: propFlags, option: prop ?? 'rshared' });
    let devBound = false;
    (this.spec.mounts ?? []).forEach((m, i) => {
      if (path.posix.normalize(m.destination) === '/dev' && isBind(m)) devBound = true;
      this.mount(m, i);
    });
    if (!devBound) this.devices();
  }

  private mount(m: Mount, index: number): void {
    const at = `/mounts/${index}`;
    const opts = parseMountOptions(m.options);
    const dest = path.posix.normalize(m.destination);
    const bind = isBind(m);
    if (m.type === 'cgroup') return this.cgroupMount(m, dest, opts.flags);
    let source = m.source ?? '';
    let destKind: 'dir' | 'file' = 'dir';
    if (bind) {
      source = path.resolve(this.opts.bundle, source);
      let st: fs.Stats;
      try {
        st = fs.statSync(source);
      } catch {
        this.fail(`${at}/source`, `bind mount source ${source} does not exist`);
        return;
      }
      destKind = st.isDirectory() ? 'dir' : 'file';
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
    this.add({
      op: 'mount',
      source,
      destination: dest,
      fstype,
      options: m.options ?? [],
      flags: bindMount ? flags : flags & ~(MS.BIND | MS.REC),
      data: opts.data.join(','),
      bind: bindMount,
      attrSet: opts.attrSet,
      attrClear: opts.attrClear,
      destKind,
      realDir: fstype === 'proc' || fstype === 'sysfs' || dest === '/proc' || dest === '/sys',
      propagation: opts.propagation,
    });
    if (opts.tmpcopyup) this.fail(`${at}/options`, 'tmpcopyup is not supported by tsrunc yet');
  }

  /** A "cgroup" mount: the container's own cgroups, namespaced when it has a cgroup namespace. */
  private cgroupMount(m: Mount, dest: string, flags: number): void {
    const common = { options: m.options ?? [], attrSet: 0, attrClear: 0, destKind: 'dir' as const, realDir: false, propagation: [] };
    // Each cgroup mount is read-only from the start; the tmpfs holding them is made
    // read-only in place once they are in (it needs its mount points created first).
    const mountFlags = flags & ~(MS.BIND | MS.REC);
    const tmpfsFlags = mountFlags & ~MS.RDONLY;
    const namespaced = this.newNs.has('cgroup');
    const pureV2 = this.opts.hierarchies.length === 1 && this.opts.hierarchies[0]?.version === 2;
    if (pureV2) {
      const h = this.opts.hierarchies[0] as CgroupHierarchy;
      if (namespaced) this.add({ op: 'mount', source: 'cgroup', destination: dest, fstype: 'cgroup2', flags: mountFlags, data: '', bind: false, ...common });
      else this.add({ op: 'mount', source: this.opts.cgroupPaths[h.key] ?? h.mountpoint, destination: dest, fstype: '', flags: mountFlags | MS.BIND, data: '', bind: true, ...common });
    } else {
      this.add({ op: 'mount', source: 'tmpfs', destination: dest, fstype: 'tmpfs', flags: tmpfsFlags, data: 'mode=755', bind: false, ...common });
      for (const h of this.opts.hierarchies) {
        const sub = path.posix.join(dest, h.key);
        if (namespaced) {
          this.add({ op: 'mount', source: 'cgroup', destination: sub, fstype: h.version === 2 ? 'cgroup2' : 'cgroup', flags: mountFlags, data: h.version === 2 ? '' : h.controllers.join(','), bind: false, ...common });
        } else {
          const src = this.opts.cgroupPaths[h.key];
          if (src !== undefined) this.add({ op: 'mount', source: src, destination: sub, fstype: '', flags: mountFlags | MS.BIND, data: '', bind: true, ...common });
        }
        if (h.key.includes(',')) {
          for (const c of h.key.split(',')) this.add({ op: 'symlink', target: h.key, path: path.posix.join(dest, c) });
        }
      }
    }
    if ((flags & MS.RDONLY) !== 0 && !pureV2) this.afterPivot.push({ op: 'readonly-path', path: dest, inPlace: true });
  }

  private devices(): void {
    const inUserns = this.newNs.has('user') || this.joinNs.has('user');
    type Dev = { path: string; major: number; minor: number; type: 'c' | 'b' | 'p'; fileMode: number; uid: number; gid: number };
    const devices: Dev[] = DEFAULT_DEVICES.map((d) => ({ ...d, type: 'c', fileMode: 0o666, uid: 0, gid: 0 }));
    for (const d of this.spec.linux?.devices ?? []) {
      const idx = devices.findIndex((x) => x.path === d.path);
      const entry: Dev = { path: d.path, major: d.major ?? 0, minor: d.minor ?? 0, type: (d.type === 'u' ? 'c' : d.type) as 'c' | 'b' | 'p', fileMode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0 };
      if (idx >= 0) devices[idx] = entry;
      else devices.push(entry);
    }
    for (const d of devices) {
      if (inUserns) this.add({ op: 'bind-device', path: d.path, hostPath: d.path });
      else this.add({ op: 'mknod', path: d.path, type: d.type, mode: d.fileMode, major: d.major, minor: d.minor, uid: d.uid, gid: d.gid });
    }
    for (const [target, link] of DEV_SYMLINKS) this.add({ op: 'symlink', target, path: link });
    if (fs.existsSync('/proc/kcore')) this.add({ op: 'symlink', target: '/proc/kcore', path: '/dev/core' });
    this.add({ op: 'symlink', target: 'pts/ptmx', path: '/dev/ptmx' });
  }

  private finalizeRootfs(): void {
    const proc = this.proc;
    if (proc.terminal === true) {
      if (!this.opts.consoleSocket) {
        this.fail('/process/terminal', 'a terminal needs --console-socket (to receive the pty master)');
      } else {
        this.add({ op: 'console', socketSlot: this.fds.indexOf('console-socket'), rows: proc.consoleSize?.height ?? 0, cols: proc.consoleSize?.width ?? 0 });
      }
    } else {
      this.add({ op: 'setsid' });
    }
    if (this.spec.hostname) this.add({ op: 'sethostname', name: this.spec.hostname });
    if (this.spec.domainname) this.add({ op: 'setdomainname', name: this.spec.domainname });
    for (const [key, value] of Object.entries(this.spec.linux?.sysctl ?? {})) {
      this.add({ op: 'write-file', path: `/proc/sys/${key.replace(/\./g, '/')}`, content: value, what: `setting sysctl ${key}` });
    }
    this.steps.push(...this.afterPivot);
    for (const p of this.spec.linux?.readonlyPaths ?? []) this.add({ op: 'readonly-path', path: p });
    for (const p of this.spec.linux?.maskedPaths ?? []) this.add({ op: 'mask-path', path: p });
    if (this.spec.root?.readonly === true) this.add({ op: 'remount-root-ro' });
  }

  private processAttributes(): void {
    const proc = this.proc;
    for (const r of proc.rlimits ?? []) {
      const resource = RLIMITS[r.type];
      if (resource === undefined) continue;
      this.add({ op: 'rlimit', name: r.type, resource, soft: limit(r.soft), hard: limit(r.hard) });
    }
    if (proc.oomScoreAdj !== undefined) {
      this.add({ op: 'write-file', path: '/proc/self/oom_score_adj', content: String(proc.oomScoreAdj), what: 'setting oom_score_adj' });
    }
    const pers = this.spec.linux?.personality;
    if (pers !== undefined) {
      const persona = PERSONALITIES[pers.domain];
      if (persona === undefined) this.fail('/linux/personality/domain', `unsupported personality ${pers.domain}`);
      else this.add({ op: 'personality', persona, domain: pers.domain });
    }
    const sched = proc.scheduler;
    if (sched !== undefined) {
      const flags = (sched.flags ?? []).reduce((f, name) => f | (SCHED_FLAGS[name] ?? 0), 0);
      this.add({ op: 'scheduler', policy: sched.policy, policyValue: SCHED_POLICIES[sched.policy] ?? 0, priority: sched.priority ?? 0, nice: sched.nice ?? 0, flags, runtime: sched.runtime ?? 0, deadline: sched.deadline ?? 0, period: sched.period ?? 0 });
    }
    const io = proc.ioPriority;
    if (io !== undefined) {
      const cls = IOPRIO_CLASSES[io.class] ?? 0;
      this.add({ op: 'ioprio', class: io.class, priority: io.priority, value: (cls << 13) | io.priority });
    }
    if (proc.apparmorProfile) {
      if (!fs.existsSync('/sys/kernel/security/apparmor')) this.fail('/process/apparmorProfile', 'AppArmor is not enabled on this host');
      else this.add({ op: 'write-file', path: '/proc/self/attr/apparmor/exec', content: `exec ${proc.apparmorProfile}`, what: 'setting the AppArmor profile' });
    }
    if (proc.selinuxLabel) {
      if (!fs.existsSync('/sys/fs/selinux/enforce')) this.fail('/process/selinuxLabel', 'SELinux is not enabled on this host');
      else this.add({ op: 'write-file', path: '/proc/self/attr/exec', content: proc.selinuxLabel, what: 'setting the SELinux label' });
    }
    if (this.spec.linux?.mountLabel && !fs.existsSync('/sys/fs/selinux/enforce')) this.fail('/linux/mountLabel', 'SELinux is not enabled on this host');
    // Never run a container without the filter it asked for.
    if (this.spec.linux?.seccomp !== undefined) this.fail('/linux/seccomp', 'seccomp is not supported by this build of tsrunc yet');
    if (this.spec.linux?.intelRdt !== undefined) this.fail('/linux/intelRdt', 'Intel RDT is not supported by tsrunc');
    if (this.spec.linux?.memoryPolicy !== undefined) this.fail('/linux/memoryPolicy', 'memory policies are not supported by tsrunc yet');
    if (this.spec.linux?.netDevices !== undefined && Object.keys(this.spec.linux.netDevices).length > 0) this.fail('/linux/netDevices', 'moving network devices is not supported by tsrunc yet');
    if (proc.execCPUAffinity !== undefined) this.fail('/process/execCPUAffinity', 'exec CPU affinity is not supported by tsrunc yet');
    if (!this.opts.noNewKeyring) this.add({ op: 'session-keyring', name: this.opts.id });
    if (proc.noNewPrivileges === true) this.add({ op: 'no-new-privs' });
    this.add({ op: 'close-fds', from: 3 + this.opts.preserveFds });
    const caps = proc.capabilities;
    const sets = {
      bounding: caps?.bounding ?? [],
      effective: caps?.effective ?? [],
      permitted: caps?.permitted ?? [],
      inheritable: caps?.inheritable ?? [],
      ambient: caps?.ambient ?? [],
    };
    if (caps !== undefined) this.add({ op: 'caps', phase: 'bounding', ...sets });
    this.add({ op: 'user', uid: proc.user.uid, gid: proc.user.gid, additionalGids: proc.user.additionalGids ?? [] });
    if (caps !== undefined) this.add({ op: 'caps', phase: 'sets', ...sets });
    this.add({ op: 'umask', mask: proc.user.umask ?? 0o022 });
    this.add({ op: 'chdir', path: proc.cwd });
    const env = proc.env ?? [];
    const args = proc.args ?? [];
    const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
    this.add({ op: 'find-exec', name: args[0] ?? '', searchPath: pathVar });
    this.add({ op: 'ready' });
    this.add({ op: 'wait-start', fifoSlot: this.fds.indexOf('exec-fifo') });
    (this.spec.hooks?.startContainer ?? []).forEach((h, i) =>
      this.add({ op: 'hook', hook: 'startContainer', index: i, path: h.path, args: h.args ?? [], env: h.env ?? [], timeout: h.timeout ?? 0, stateIndex: 1 }),
    );
    this.add({ op: 'exec', args, env });
  }
}

/** The mount point (host view) that contains `dir`: the longest mount path that prefixes it. */
function mountPointOf(dir: string): string {
  let best = '/';
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (mp === undefined) continue;
    if ((dir === mp || dir.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}

function isBind(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function limit(v: number): number {
  return v >= RLIM_INFINITY_THRESHOLD ? -1 : v;
}
