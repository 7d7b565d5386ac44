// Names the spec uses for Linux constants, with their kernel values.
import type { NamespaceType } from './types';

export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Capability number by name (its index in CAPABILITIES). */
export function capabilityNumber(name: string): number | undefined {
  const n = CAPABILITIES.indexOf(name);
  return n < 0 ? undefined : n;
}

export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** Parses a signal as runc does: a number, NAME, SIGNAME, or RTMIN+n / RTMAX-n. */
export function parseSignal(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    // 0 is kill(2)'s existence check; runc passes any number through, 0 included.
    return n <= SIGRTMAX ? n : undefined;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const known = SIGNALS[name];
  if (known !== undefined) return known;
  const rt = /^RT(MIN|MAX)([+-][0-9]+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
    return n >= SIGRTMIN && n <= SIGRTMAX ? n : undefined;
  }
  return undefined;
}

/** clone(2)/setns(2) flag of each namespace type, and its name under /proc/PID/ns. */
export const NAMESPACES = {
  mount: { flag: 0x00020000, proc: 'mnt' },
  uts: { flag: 0x04000000, proc: 'uts' },
  ipc: { flag: 0x08000000, proc: 'ipc' },
  user: { flag: 0x10000000, proc: 'user' },
  pid: { flag: 0x20000000, proc: 'pid' },
  network: { flag: 0x40000000, proc: 'net' },
  cgroup: { flag: 0x02000000, proc: 'cgroup' },
  time: { flag: 0x00000080, proc: 'time' },
} as const;

/**
 * The order in which namespaces given by path are joined, by create and by exec: the user
 * namespace first (it gives the rights to join the others), the mount namespace last (the
 * paths of the others are resolved before it changes what they name).
 */
export const NAMESPACE_JOIN_ORDER: readonly NamespaceType[] = [
  'user',
  'ipc',
  'uts',
  'network',
  'pid',
  'cgroup',
  'time',
  'mount',
];
