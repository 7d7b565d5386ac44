// The typed face of the C++ addon (native/). Everything the addon does is declared
// here; nothing else in src/ touches the binding object directly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SeccompProgramInput } from '../seccomp/profile';

export interface WaitStatus {
  pid: number;
  exitCode: number | null;
  signal: number | null;
}

/**
 * libseccomp through the addon: the profile as a BPF program, and the syscall names it does not
 * know. A type of its own so that the planner can be handed the compiler: src/plan may import
 * src/native for types only (test/unit/layering.test.ts).
 */
export type SeccompCompiler = (profile: Pick<SeccompProgramInput, 'defaultAction' | 'archs' | 'rules'>) => {
  program: Buffer;
  skipped: string[];
};

/**
 * A value of a systemd unit property, with its D-Bus signature: what the systemd cgroup driver
 * sends in StartTransientUnit and SetUnitProperties (systemd.resource-control(5)).
 */
export type SystemdValue =
  | { type: 's'; value: string }
  | { type: 'b'; value: boolean }
  | { type: 't'; value: bigint }
  | { type: 'u'; value: number }
  | { type: 'i'; value: number }
  | { type: 'x'; value: bigint }
  | { type: 'd'; value: number }
  | { type: 'as'; value: string[] }
  | { type: 'au'; value: number[] }
  | { type: 'ay'; value: Buffer }
  | { type: 'a(ss)'; value: [string, string][] }
  | { type: 'a(st)'; value: [string, bigint][] };

export interface SystemdProperty {
  name: string;
  value: SystemdValue;
}

/** Which systemd: the system's (the system bus), or the calling user's (the user bus: rootless). */
export type SystemdScope = 'system' | 'user';

/** One caller of the resident server, as a worker accepted it (native/daemon.cc). */
export type DaemonCaller =
  | { refused: string }
  | {
      refused?: undefined;
      conn: number;
      peer: number;
      argv: string[];
      env: string[];
      umask: number;
      /** Which of stdin, stdout, stderr (bits 0..2) GO will carry. */
      present: number;
    };

/** What the front's GO carried: its cwd, and its stdin, stdout, stderr (-1: it had none open). */
export interface DaemonGo {
  cwd: number;
  stdio: [number, number, number];
}

export interface NativeBinding {
  napiVersion: number;
  /** A listening unix stream socket bound at a path (close-on-exec), or systemd's fd checked. */
  daemonListen(pathOrFd: string | number): number;
  /** Every fd from 3 up close-on-exec (the server's start: nothing it inherited reaches a worker). */
  daemonCloexecAll(): void;
  /** A worker's start: every fd from 3 up (the listening one too) close-on-exec, PR_SET_PDEATHSIG; returns getppid(). */
  daemonWorkerStart(listenFd: number): number;
  /** Blocks for one caller; refuses (and closes) a peer that is not this process's equal. */
  daemonAccept(listenFd: number, buildId: string): DaemonCaller;
  /** Sends a REPLY of `kind`; false when the front is gone. */
  daemonReply(conn: number, kind: number, buildId: string): boolean;
  /** Blocks for the front's GO and takes its fds; null when it went away (or sent something else). */
  daemonAwaitGo(conn: number, present: number): DaemonGo | null;
  /** The caller's stdio as fds 0..2 (/dev/null where it had none); the received fds closed. */
  daemonTakeStdio(stdio: number[]): void;
  /** A copy of the connection the worker keeps (close-on-exec) once the server holds it: a served create's SPAWN goes on it. */
  daemonKeepConn(conn: number): number;
  /**
   * SPAWN: the front (the caller's process) starts tsrunc-init as spawn() would here, with `fds`
   * on slots 3+preserve+i (a child subreaper first when `subreaper`); returns its pid (the
   * front's child) and the channel the exits of the front's children come on. The fds passed
   * stay open here.
   */
  daemonSpawn(
    conn: number,
    plan: Buffer,
    fds: number[],
    preserve: number,
    initFd: number,
    subreaper: boolean,
  ): { pid: number; channel: number };
  /**
   * waitPid(-1) for the front's children: the next one the front reaped, as it reports it; null
   * when nohang and none yet. Throws ECHILD once the front has no child left (or is gone).
   */
  daemonChildNext(channel: number, nohang: boolean): WaitStatus | null;
  /** Asks the front to send `signal` to `pid` (its child, or its spawned child's); false if it could not be asked. */
  daemonSignal(channel: number, pid: number, signal: number): boolean;
  /** Copies (close-on-exec, above 2) of this process's fds 0..2, for daemonRestoreStdio. */
  daemonSaveStdio(): [number, number, number];
  /** The copies back on fds 0..2 (what was there closed), the copies closed. */
  daemonRestoreStdio(saved: [number, number, number]): void;
  /** Between a reused worker's commands: the signals a front forwards ignored, whatever their action (on), or each put back as it was before the first call (off). */
  daemonQuiesceSignals(on: boolean): void;
  /** This process's prctl, scheduling, personality and session facts, as one comparable line. */
  daemonSelfFacts(): string;
  closeFd(fd: number): void;
  /** The fds this process has open (below 1024). */
  openFds(): number[];
  /** Advisory lock on an open fd; throws with code EWOULDBLOCK when !wait and held. */
  flock(fd: number, exclusive: boolean, wait: boolean): void;
  /** true when fd is readable ('r') or writable ('w') within timeoutMs (-1: forever). */
  poll(fd: number, events: 'r' | 'w', timeoutMs: number): boolean;
  /** A connected unix stream socket (close-on-exec). */
  connectUnix(socketPath: string): number;
  /** A datagram socket bound at `path`, mode 0777 (close-on-exec): the NOTIFY_SOCKET a container sends to. */
  bindUnixgram(path: string): number;
  /** One datagram's text (at most 4096 bytes, no fds taken), or null when none came within timeoutMs. */
  recvDatagram(fd: number, timeoutMs: number): string | null;
  /** One datagram to the socket at `path` ("@name": an abstract socket). */
  sendUnixgram(path: string, text: string): void;
  /** kill(2); false when the process does not exist. */
  kill(pid: number, signal: number): boolean;
  /**
   * Starts tsrunc-init (exec'd at once from `initFd`, a sealed memfd) on the encoded `plan`;
   * `fds` land on fd slots 3+preserve+i, everything else of this process is closed in the child.
   * Returns its pid (a child of this process).
   */
  spawn(plan: Buffer, fds: number[], preserve: number, initFd: number): number;
  /** A sealed memfd holding `data` (close-on-exec), to send with a message. */
  sealedData(data: Buffer): number;
  /**
   * Starts the program at `file` (absolute) with exactly the fds `fds` (fd i = fds[i]; -1:
   * /dev/null), default signal dispositions, PR_SET_PDEATHSIG SIGKILL; returns its pid (a child).
   */
  spawnProgram(file: string, argv: string[], env: string[], fds: number[]): number;
  /** One whole SOCK_SEQPACKET message and the fds it carried; data empty at EOF; null on timeout. */
  recvPacket(fd: number, timeoutMs: number): { data: Buffer; fds: number[] } | null;
  /** One message (binary). */
  sendPacket(fd: number, data: Buffer): void;
  /** mount(source, target, MS_BIND|MS_REC) in this process's (the host's) mount namespace. */
  bindMount(source: string, target: string): void;
  /** umount2(target, MNT_DETACH|UMOUNT_NOFOLLOW). */
  unmountDetach(target: string): void;
  /** A SOCK_SEQPACKET pair [parent end, child end], close-on-exec. */
  socketPair(): [number, number];
  /** One message; "" at EOF; null when nothing came within timeoutMs; {text, fd} when it carries an fd. */
  recvMessage(fd: number, timeoutMs: number): string | { text: string; fd: number } | null;
  /** One message with an fd attached (SCM_RIGHTS). */
  sendWithFd(socket: number, text: string, fd: number): void;
  sendMessage(fd: number, message: string): void;
  /** waitpid(2); null when nohang and the child is still running. */
  waitPid(pid: number, nohang: boolean): WaitStatus | null;
  mkfifo(path: string, mode: number): void;
  /** An O_PATH fd (Node's fs cannot open one). */
  openPath(path: string): number;
  setSubreaper(on: boolean): void;
  /** Receives one fd sent with SCM_RIGHTS. */
  recvFd(socket: number): number;
  setWinsize(fd: number, rows: number, cols: number): void;
  /** Loads a BPF_PROG_TYPE_CGROUP_DEVICE program and attaches it to the cgroup directory. */
  attachDeviceFilter(cgroupDir: string, instructions: Buffer): void;
  compileSeccomp: SeccompCompiler;
  seccompVersion(): string;
  /** A sealed memfd copy of a file (close-on-exec). */
  sealedCopy(path: string): number;
  /*
   * rtnetlink in this process's network namespace (linux.netDevices): errors carry `code` (the
   * kernel's errno name) and name the request in `syscall` ("RTM_NEWLINK").
   */
  /** A link by name (its alternative names too, as the kernel looks them up) and its addresses; ENODEV when there is none. */
  netdevInspect(name: string): {
    index: number;
    /** Its own name. */
    name: string;
    up: boolean;
    /** "10.0.0.1/24"; scope is RT_SCOPE_*; permanent: IFA_F_PERMANENT. */
    addresses: { address: string; scope: number; permanent: boolean }[];
  };
  /** RTM_NEWLINK: link `index` into the network namespace of `netnsFd`, named `newName` there (a %d template completed by the kernel). */
  netdevMove(index: number, newName: string, netnsFd: number): void;
  /** Each address ("10.0.0.1/24") added to link `index` (RTM_NEWADDR), then the link set up when `up`. */
  netdevConfigure(index: number, addresses: string[], up: boolean): void;
  /*
   * systemd's manager over D-Bus (sd-bus of libsystemd.so.0, loaded on first use; one
   * connection per process and scope, kept: 'system' is the system bus, or for root systemd's
   * private socket when the bus cannot be reached). Errors carry `code` (the errno name),
   * `errno` (negative, as Node's), and for a D-Bus error `dbusName`
   * (org.freedesktop.systemd1.UnitExists: EEXIST, ...); their message reads
   * "systemd StartTransientUnit(x.scope): <systemd's message>". A job that ends otherwise than
   * "done" throws "<unit>: job <result>" (code EIO, `jobResult`); no end within timeoutMs throws
   * ETIMEDOUT. Arguments and properties that are not as typed throw a TypeError (naming the
   * property) before any connection; no libsystemd.so.0 throws ENOENT.
   */
  /** StartTransientUnit(unit, "replace", properties, []), then waits up to timeoutMs for its job; throws unless the job's result is "done". */
  systemdStartTransientUnit(scope: SystemdScope, unit: string, properties: SystemdProperty[], timeoutMs: number): void;
  /** StopUnit(unit, "replace"), then waits for its job; false when there is no such unit (NoSuchUnit). */
  systemdStopUnit(scope: SystemdScope, unit: string, timeoutMs: number): boolean;
  /** SetUnitProperties(unit, runtime = true, properties). */
  systemdSetUnitProperties(scope: SystemdScope, unit: string, properties: SystemdProperty[]): void;
  /** ResetFailedUnit(unit); a unit that is not loaded or not failed is no error. */
  systemdResetFailedUnit(scope: SystemdScope, unit: string): void;
  /** A string property of the manager (org.freedesktop.systemd1.Manager: Version, ControlGroup). */
  systemdManagerProperty(scope: SystemdScope, name: string): string;
  /** A string property of a loaded unit (org.freedesktop.systemd1.Unit: ActiveState, ...); undefined when no such unit is loaded. */
  systemdUnitProperty(scope: SystemdScope, unit: string, name: string): string | undefined;
}

let binding: NativeBinding | undefined;

/**
 * The addon, as node-gyp-build finds one (the prebuild convention): a local compile first
 * (build/Release: a source build, or an installed package's fallback compile), else the prebuild
 * for this platform and architecture shipped in the package, prebuilds/linux-x64/tsrunc.napi.glibc.node.
 * Looked for beside dist/ (a build or an installed package) and, for the tests that run the
 * sources, at the repository's root. The first candidate when none exists (the load then fails
 * naming it).
 */
function addonPath(): string {
  const prebuild = path.join('prebuilds', `${process.platform}-${process.arch}`, 'tsrunc.napi.glibc.node');
  const candidates: string[] = [];
  for (const top of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')])
    candidates.push(path.join(top, 'build', 'Release', 'tsrunc.node'), path.join(top, prebuild));
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return candidates[0] as string;
}

/** tsrunc-init, built beside the addon (native/init/): what sets up or joins a container. */
export function initPath(): string {
  return path.join(path.dirname(addonPath()), 'tsrunc-init');
}

export function native(): NativeBinding {
  if (binding === undefined) {
    // A computed require keeps esbuild from trying to bundle the .node file.
    const load = require as (id: string) => unknown;
    binding = load(addonPath()) as NativeBinding;
  }
  return binding;
}
