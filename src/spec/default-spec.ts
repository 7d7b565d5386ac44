// The config.json that `tsrunc spec` writes: runc 1.1's `spec`, field by field and in its order
// (an sh on a terminal, a minimal capability set, the usual mounts, the pid, network, ipc, uts
// and mount namespaces, masked and read-only paths), so a bundle made with either runtime runs
// on both and callers that edit runc's default (adding a cgroup namespace, as docker does on
// cgroup v2) can edit ours. Only the hostname and ociVersion are tsrunc's own.
import type { Mount, Spec } from './types';
import { OCI_VERSION } from './oci-version';

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrunc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/**
 * The rootless variant, as runc's `spec --rootless` (its specconv.ToRootless): a user namespace
 * mapping the caller to root, no network namespace of its own, /sys bound from the host, no
 * gid= or uid= options (the caller may not own those ids) and no cgroup resources. The id
 * mappings come first in `linux`, as runc writes them.
 */
export function rootlessSpec(uid: number, gid: number): Spec {
  const spec = defaultSpec();
  const { resources: _resources, namespaces = [], ...rest } = spec.linux ?? {};
  spec.linux = {
    uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    namespaces: [...namespaces.filter((ns) => ns.type !== 'network' && ns.type !== 'user'), { type: 'user' }],
    ...rest,
  };
  spec.mounts = (spec.mounts ?? []).map((m): Mount => {
    if (m.destination === '/sys')
      return {
        destination: '/sys',
        type: 'none',
        source: '/sys',
        options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
      };
    if (m.options === undefined) return m;
    return { ...m, options: m.options.filter((o) => !o.startsWith('gid=') && !o.startsWith('uid=')) };
  });
  return spec;
}
