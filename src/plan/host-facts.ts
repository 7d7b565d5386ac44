// What a plan depends on of the host, as data. The caller gathers it once per create or exec
// (src/lifecycle/host-facts.ts reads it on the host; the unit tests pass their own), and no
// module of src/plan reads the host itself, so a plan is a function of the config, the options
// and these facts. The executor reads none of them either: after pivot_root, a path such as
// /proc/sys/kernel/cap_last_cap would be a file of the image wherever the config mounts no /proc.
import type { SeccompProgramInput } from '../seccomp/profile';

/** A line of /proc/self/mountinfo: the mount point (host view) and the filesystem type. */
export interface HostMount {
  mountPoint: string;
  fstype: string;
}

/** A cgroup hierarchy of the host: what the planner uses of src/cgroups' description of one. */
export interface HostCgroupHierarchy {
  /** Basename of the mount point: "memory", "cpu,cpuacct", "unified", or "" on a pure v2 host. */
  key: string;
  mountpoint: string;
  version: 1 | 2;
  /** v1: its controllers (and name=X); v2: those of cgroup.controllers. */
  controllers: readonly string[];
}

/** libseccomp (the addon, in the runtime): a profile as a BPF program, and the syscall names it does not know. */
export type SeccompCompiler = (input: SeccompProgramInput) => { program: Buffer; skipped: string[] };

/** A host interface linux.netDevices names, as the runtime read it before planning. */
export interface HostNetDevice {
  /** Its ifindex in the runtime's network namespace. */
  index: number;
  /** Its own name (the config may name it by an alternative name, which the kernel also finds). */
  name: string;
  up: boolean;
  /**
   * Its permanent addresses of global scope ("10.0.0.1/24", "fd00::1/64"): what runc carries
   * across the move (the kernel drops every address of a link that changes namespace).
   */
  addresses: string[];
}

/** What the steps of any process, a container's init or an exec'd one, depend on. */
export interface ProcessHostFacts {
  /** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
  capLastCap: number;
  /** SELinux is enabled (/sys/fs/selinux/enforce exists). */
  selinux: boolean;
  /** AppArmor is enabled (/sys/kernel/security/apparmor exists). */
  apparmor: boolean;
  /** Compiles linux.seccomp here, in the runtime; the child only loads the program. */
  compileSeccomp: SeccompCompiler;
}

/** Everything a container's plan depends on of the host. */
export interface HostFacts extends ProcessHostFacts {
  /**
   * /proc/self/mountinfo, in its order: --no-pivot detaches the host's proc and sysfs mounts, and
   * a shared rootfsPropagation makes the mount holding the rootfs private.
   */
  readonly mounts: readonly HostMount[];
  /** The config's bind sources (bindSources(spec, bundle)) that exist: a directory, or anything else ("file"). */
  bindSources: ReadonlyMap<string, 'dir' | 'file'>;
  /** /proc/kcore exists (/dev/core links to it). */
  procKcore: boolean;
  /** LISTEN_FDS given to the runtime (systemd socket activation): passed on to the init, as runc does. */
  listenFds: number;
  /**
   * The runtime's effective uid is not 0 (rootless): the parent cannot open /proc/PID files of
   * a non-dumpable child, so the init is dumpable while the runtime writes its id maps, as runc's is.
   */
  rootlessEuid: boolean;
  /**
   * The runtime runs in a user namespace other than the host's (root of rootless podman's, whose
   * containers share it): no device node can be made there, so devices are bound, as runc's
   * `userns.RunningInUserNS()`.
   */
  runtimeInUserNamespace: boolean;
  /**
   * The host's cgroup hierarchies, and by hierarchy key the directory a cgroup mount shows: the
   * container's cgroup, or rootless where it has none the runtime's own (all decided by src/cgroups).
   */
  cgroups: { hierarchies: readonly HostCgroupHierarchy[]; paths: Readonly<Record<string, string>> };
  /** linux.netDevices' host interfaces, by the config's name for them; absent: no such interface. */
  netDevices: ReadonlyMap<string, HostNetDevice>;
}
