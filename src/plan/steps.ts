// The plan: every step the native executor takes to turn config.json into a running init,
// in order. Steps are plain, typed, printable values (`tsrunc create --dry-run` prints
// them); src/plan/wire.ts lowers them to the addon's {op, s, n} form (native/ops.h).
import type { HookName, IdMapping, NamespaceType } from '../spec/types';

/**
 * An idmapped mount's mapping: a user namespace with exactly these maps is made for it (uid_map
 * and gid_map lines "containerID hostID size": the id on the filesystem, the id it is seen as),
 * and MOUNT_ATTR_IDMAP set with it on the cloned tree (every mount of it when recursive).
 */
export interface StepIdmap {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  recursive: boolean;
  /** The mount's entry in config.json ("/mounts/3"), named by an error of the step. */
  pointer: string;
}

/** Where the parent has work to do while the child waits. */
export type SyncTag =
  | 'cgroup' // put the child into its cgroups (before any namespace is made)
  | 'userns' // write uid_map/gid_map of the new user namespace
  | 'net-devices' // move linux.netDevices into the init's network namespace (renamed there)
  | 'hooks' // run prestart/createRuntime hooks; the ack carries the state for the init's hooks
  | 'seccomp'; // (sent by the child with the listener fd) forward it to linux.seccomp.listenerPath

export type PlanStep =
  | { op: 'sync'; tag: SyncTag }
  | {
      op: 'setns';
      ns: NamespaceType;
      path: string;
      /** exec: the runtime opened it (no pid reuse in between) and passes it in this slot. */ fdSlot?: number;
    }
  | { op: 'unshare'; namespaces: NamespaceType[] }
  | { op: 'write-file'; path: string; content: string; what: string }
  | { op: 'fork' }
  | { op: 'become-root' }
  | { op: 'root-propagation'; flags: number; option: string; path?: string }
  | { op: 'bind-rootfs'; rootfs: string }
  | {
      op: 'mount';
      source: string;
      destination: string;
      fstype: string;
      options: string[];
      flags: number;
      data: string;
      bind: boolean;
      attrSet: number;
      attrClear: number;
      destKind: 'dir' | 'file';
      /** Refuse symlinks anywhere on the way (proc and sysfs go only onto real directories). */
      realDir: boolean;
      propagation: number[];
      /** tmpfs: copy what the directory held into it (runc's tmpcopyup). */
      copyUp?: boolean;
      /** tmpfs over a directory that was there: its root gets that directory's mode, as runc gives it. */
      keepMode?: boolean;
      /** bind: the source tree was cloned by an 'open-tree' step (before the user namespace) at this index. */
      tree?: number;
      /** bind: an idmapped mount (its 'open-tree' step sets the mapping; the mount step needs that tree). */
      idmap?: StepIdmap;
      /** The SELinux label the new mount's root gets (setxattr security.selinux): runc's for mqueue. */
      label?: string;
    }
  /**
   * A bind source cloned (open_tree) and given its attributes while this process is still the
   * runtime's root, before a new user namespace could no longer reach it (runc opens sources on
   * the host side too); the mount step attaches it.
   */
  | {
      op: 'open-tree';
      index: number;
      source: string;
      flags: number;
      attrSet: number;
      attrClear: number;
      idmap?: StepIdmap;
      /** The source is inside this directory (the rootfs): resolved there as if it were "/" (an idmapped source only). */
      inRootfs?: string;
    }
  /** --no-pivot: a proc or sysfs mount of the host, outside the rootfs, detached (or covered) before the chroot. */
  | { op: 'detach-host-mount'; path: string; fstype: string }
  /** sched_setaffinity of this process: execCPUAffinity's initial (before the cgroup join) or final (after). */
  | { op: 'cpu-affinity'; cpus: number[]; when: 'initial' | 'final' }
  /** set_mempolicy(mode | flags, nodes) for this process (linux.memoryPolicy, runtime-spec 1.3). */
  | { op: 'memory-policy'; mode: string; flags: string[]; value: number; nodes: number[] }
  /**
   * linux.netDevices, after the parent moved the host's `hostName` in as `name` (a template with
   * %d: the kernel completed it): its permanent global addresses, read on the host before the
   * move (the kernel drops them on the way), added again, and the link set up, as runc does.
   * `index`: its host ifindex, which the kernel keeps where the namespace has no link with it.
   */
  /** The loopback interface of a new network namespace up (runc's loopback network, which brings lo up). */
  | { op: 'loopback-up' }
  /**
   * After the root is entered: fds 0..2 that are a /dev/null (the host's, opened by the caller)
   * reopened on the container's /dev/null, as runc does (reOpenDevNull): CRIU finds no mount for
   * a file of a mount outside the container, and the container's own is what it should see.
   */
  | { op: 'reopen-dev-null' }
  | { op: 'net-device'; name: string; hostName: string; index: number; addresses: string[] }
  /**
   * A failed create's cleanup (a helper in the container's network namespace, never the init):
   * the device moved in as `name` goes back to the namespace in slot `nsSlot` (the runtime's),
   * under its host name.
   */
  | { op: 'net-device-return'; name: string; hostName: string; index: number; nsSlot: number }
  | { op: 'mkdir'; path: string; mode: number }
  | {
      op: 'mknod';
      path: string;
      type: 'c' | 'b' | 'p';
      mode: number;
      major: number;
      minor: number;
      uid: number;
      gid: number;
    }
  | { op: 'bind-device'; path: string; hostPath: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'pivot-root' }
  | { op: 'move-root' }
  | { op: 'chroot'; rootfs: string }
  /** label: the SELinux context of the tmpfs over a directory (linux.mountLabel, as runc gives it). */
  | { op: 'mask-path'; path: string; label?: string }
  | { op: 'readonly-path'; path: string; inPlace?: boolean }
  | { op: 'remount-root-ro' }
  | { op: 'sethostname'; name: string }
  | { op: 'setdomainname'; name: string }
  | {
      op: 'console';
      socketSlot: number;
      rows: number;
      cols: number;
      bindConsole: boolean;
      /** The process's uid, which gets to own the pty (as runc gives it). */
      uid: number;
      /** exec: the pty becomes the controlling terminal after the fork ('console-attach'). */
      attachLater: boolean;
    }
  | { op: 'console-attach' }
  | { op: 'setsid' }
  | { op: 'rlimit'; name: string; resource: number; soft: number; hard: number }
  /**
   * As runc: first as root, before the user and capabilities change (a directory the user cannot
   * enter still works; EACCES/EPERM there is left for later), then as the user when that failed;
   * the result is checked to be inside the container either way.
   */
  | { op: 'chdir'; path: string; phase: 'as-root' | 'as-user' }
  /** HOME from the container's /etc/passwd for this uid ("/" when unknown), for a process env without one. */
  | { op: 'home'; uid: number }
  | { op: 'umask'; mask: number }
  | { op: 'user'; uid: number; gid: number; additionalGids: number[] }
  | {
      op: 'caps';
      phase: 'bounding' | 'sets';
      bounding: string[];
      effective: string[];
      permitted: string[];
      inheritable: string[];
      ambient: string[];
      /** The host's cap_last_cap (HostFacts.capLastCap): never read from the rootfs. */ lastCap: number;
    }
  | { op: 'no-new-privs' }
  | {
      op: 'hook';
      hook: HookName;
      index: number;
      path: string;
      args: string[];
      env: string[];
      timeout: number;
      stateIndex: number;
      /** createContainer: run in the rootfs, as runc runs it. */ inRootfs?: boolean;
    }
  | { op: 'find-exec'; name: string; searchPath: string }
  | {
      op: 'ready';
      /** exec: the channel stays open until execve, which closes it (or fails and says why). */ untilExec?: boolean;
    }
  | { op: 'wait-start'; fifoSlot: number }
  | { op: 'open-proc' }
  | { op: 'exec'; args: string[]; env: string[] }
  | { op: 'close-fds'; from: number }
  | { op: 'dumpable'; on: boolean }
  | { op: 'personality'; persona: number; domain: string }
  | {
      op: 'scheduler';
      policy: string;
      policyValue: number;
      priority: number;
      nice: number;
      flags: number;
      runtime: number;
      deadline: number;
      period: number;
    }
  | { op: 'ioprio'; class: string; priority: number; value: number }
  | { op: 'session-keyring'; name: string }
  | { op: 'seccomp'; program: Buffer; flags: number; rules: number; skipped: string[]; notify: boolean };

export type StepOp = PlanStep['op'];

/** The fds the parent hands to the child, in slot order (slot i lands on fd 3+preserve+i). */
export type FdRole = 'sync' | 'exec-fifo' | 'console-socket' | `ns-${NamespaceType}` | 'host-network';

export interface Plan {
  containerId: string;
  rootfs: string;
  /** The caller's fds 3..3+preserveFds-1 that the container keeps. */
  preserveFds: number;
  fds: FdRole[];
  steps: PlanStep[];
}

/** One line per step: what `--dry-run` prints and what errors are prefixed with. */
export function describeStep(step: PlanStep): string {
  switch (step.op) {
    case 'sync':
      return {
        cgroup: 'wait for the parent to place the process in its cgroups',
        userns: 'wait for the parent to write uid_map and gid_map',
        'net-devices': 'wait for the parent to move the host network devices in (linux.netDevices)',
        hooks: 'wait for the parent to run prestart and createRuntime hooks',
        seccomp: 'hand the seccomp listener to the parent',
      }[step.tag];
    case 'setns':
      return `joining the ${step.ns} namespace ${step.path}`;
    case 'unshare':
      return `creating ${step.namespaces.join(', ')} namespace${step.namespaces.length > 1 ? 's' : ''}`;
    case 'write-file':
      return `${step.what} (write ${JSON.stringify(step.content.trim())} to ${step.path})`;
    case 'fork':
      return 'forking the container init (pid 1 of the new pid namespace)';
    case 'become-root':
      return 'becoming root in the new user namespace';
    case 'root-propagation':
      return `setting ${step.path ?? '/'} to ${step.option} propagation`;
    case 'bind-rootfs':
      return `binding the rootfs ${step.rootfs} onto itself`;
    case 'mount':
      return `mounting ${step.source || step.fstype} on ${step.destination}${step.bind ? (step.idmap ? ' (bind, idmapped)' : ' (bind)') : ` (${step.fstype})`}${step.options.length > 0 ? ` with ${step.options.join(',')}` : ''}${step.label ? `, its root labelled ${step.label}` : ''}`;
    case 'open-tree':
      return step.idmap === undefined
        ? `opening the bind source ${step.source} (before the user namespace)`
        : `opening the bind source ${step.source}${step.inRootfs !== undefined ? ' (resolved inside the rootfs)' : ''} of ${step.idmap.pointer} idmapped${step.idmap.recursive ? ' recursively' : ''} (uids ${mapList(step.idmap.uidMappings)}; gids ${mapList(step.idmap.gidMappings)}), before any namespace is made`;
    case 'detach-host-mount':
      return `detaching the host's ${step.fstype} mount ${step.path} (--no-pivot)`;
    case 'cpu-affinity':
      return `setting the ${step.when} CPU affinity ${step.cpus.join(',')} (execCPUAffinity)`;
    case 'memory-policy':
      return `setting the memory policy ${[step.mode, ...step.flags].join('|')}${step.nodes.length > 0 ? ` on nodes ${step.nodes.join(',')}` : ''}`;
    case 'loopback-up':
      return 'setting the loopback interface up';
    case 'reopen-dev-null':
      return "reopening stdio that is /dev/null on the container's /dev/null";
    case 'net-device':
      return `setting up the network device ${step.name} (the host's ${step.hostName}): ${step.addresses.length > 0 ? `addresses ${step.addresses.join(', ')}, ` : ''}up`;
    case 'net-device-return':
      return `moving the network device ${step.name} back to the host as ${step.hostName}`;
    case 'mkdir':
      return `creating directory ${step.path}`;
    case 'mknod':
      return `creating device ${step.path} (${step.type} ${step.major}:${step.minor})`;
    case 'bind-device':
      return `binding device ${step.hostPath} on ${step.path}`;
    case 'symlink':
      return `creating symlink ${step.path} -> ${step.target}`;
    case 'pivot-root':
      return 'entering the rootfs with pivot_root';
    case 'move-root':
      return 'entering the rootfs with MS_MOVE and chroot (--no-pivot)';
    case 'chroot':
      return `entering the rootfs ${step.rootfs} with chroot`;
    case 'mask-path':
      return `masking ${step.path}${step.label ? ` (a directory gets a tmpfs of context ${step.label})` : ''}`;
    case 'readonly-path':
      return `making ${step.path} read-only`;
    case 'remount-root-ro':
      return 'remounting the root read-only';
    case 'sethostname':
      return `setting hostname ${step.name}`;
    case 'setdomainname':
      return `setting domainname ${step.name}`;
    case 'console':
      return `creating the console pty${step.rows || step.cols ? ` (${step.rows}x${step.cols})` : ''} and sending its master to the console socket`;
    case 'console-attach':
      return 'making the pty the controlling terminal and stdio';
    case 'setsid':
      return 'starting a new session';
    case 'rlimit':
      return `setting ${step.name} to ${fmtLimit(step.soft)}/${fmtLimit(step.hard)}`;
    case 'chdir':
      return `changing directory to ${step.path}${step.phase === 'as-root' ? ' (before the user changes)' : ''}`;
    case 'home':
      return `setting HOME from /etc/passwd (uid ${step.uid})`;
    case 'umask':
      return `setting umask ${step.mask.toString(8).padStart(4, '0')}`;
    case 'user':
      return `switching to uid ${step.uid}, gid ${step.gid}${step.additionalGids.length ? `, groups ${step.additionalGids.join(',')}` : ''}`;
    case 'caps':
      return step.phase === 'bounding'
        ? `limiting the bounding set to ${list(step.bounding)}`
        : `setting capabilities (effective ${list(step.effective)}; ambient ${list(step.ambient)})`;
    case 'no-new-privs':
      return 'setting no_new_privs';
    case 'hook':
      return `running ${step.hook} hook #${step.index} ${step.path}`;
    case 'find-exec':
      return step.name.includes('/') ? `checking the executable ${step.name}` : `looking up ${step.name} in PATH`;
    case 'ready':
      return step.untilExec === true
        ? 'telling the parent the process is set up (the channel closes at execve)'
        : 'telling the parent the container is created';
    case 'wait-start':
      return 'waiting for start (exec.fifo)';
    case 'exec':
      return `executing ${JSON.stringify(step.args)}`;
    case 'open-proc':
      return "opening the container's /proc";
    case 'close-fds':
      return `closing every fd from ${step.from} at exec`;
    case 'dumpable':
      return `setting dumpable ${step.on ? 'on' : 'off'}`;
    case 'personality':
      return `setting personality ${step.domain}`;
    case 'scheduler':
      return `setting scheduler ${step.policy}`;
    case 'ioprio':
      return `setting I/O priority ${step.class}/${step.priority}`;
    case 'session-keyring':
      return `joining a new session keyring ${step.name}`;
    case 'seccomp':
      return `loading the seccomp filter (${step.rules} rules, ${step.program.length / 8} BPF instructions${step.skipped.length > 0 ? `; unknown here: ${step.skipped.join(',')}` : ''})`;
  }
}

function fmtLimit(n: number): string {
  return n < 0 ? 'unlimited' : String(n);
}

/** Mappings as containerID:hostID:size (runc's tests write them so). */
function mapList(maps: IdMapping[]): string {
  return maps.map((m) => `${m.containerID}:${m.hostID}:${m.size}`).join(',');
}

function list(names: string[]): string {
  return names.length === 0 ? 'none' : names.join(',');
}

/** The plan as text, one numbered step a line, as `create --dry-run` prints it. */
export function formatPlan(plan: Plan): string {
  const lines = [
    `container ${plan.containerId}, rootfs ${plan.rootfs}`,
    `fds passed to the init: ${plan.fds.map((r, i) => `${3 + plan.preserveFds + i}=${r}`).join(' ')}${plan.preserveFds ? ` (plus preserved 3..${2 + plan.preserveFds})` : ''}`,
  ];
  plan.steps.forEach((s, i) => lines.push(`${String(i + 1).padStart(3)}. ${describeStep(s)}`));
  return lines.join('\n') + '\n';
}
