// Validation of config.json: the JSON schema first (shapes, types, enums), then the checks
// a schema cannot express (paths, the host, relations between fields), each located by a
// JSON pointer. Nothing here touches the host beyond reading it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, type Problem } from '../errors';
import { parseJson } from './json-input';
import { schemaProblems } from './schema-errors';
import { CAPABILITIES, RLIMITS } from './linux-names';
import { idmapProblems, isBindMount } from './mounts';
import { interfaceNameProblem, isNameTemplate, nameInside, netDevicePointer } from './net-devices';
import type { Hook, IdMapping, Linux, Mount, NamespaceType, Process, Spec } from './types';
import { HOOK_NAMES } from './types';
import * as validators from './validators.generated';

export interface ValidateOptions {
  /** The bundle directory; root.path is relative to it. */
  bundle: string;
  /** Name shown before each problem. */
  file?: string;
  /** The cgroup driver, which reads linux.cgroupsPath its own way: what it objects to is a problem there. */
  cgroupDriver?: { cgroupsPathProblem(cgroupsPath: string): string | undefined };
  /** Check the host too (rootfs exists, ...). `validate` and `create` do; unit tests may not. */
  checkHost?: boolean;
  /** Integer literals of the text that JSON.parse could not hold exactly, by pointer (see parseJson). */
  bigIntegers?: ReadonlyMap<string, string>;
  /** The runtime runs as an ordinary user (rootless): runc's rootless checks apply. */
  rootlessEuid?: boolean;
}

export interface ValidationResult {
  spec: Spec;
  /** Problems runc only warns about (unknown capabilities, ...). */
  warnings: Problem[];
}

export const CONFIG_FILE = 'config.json';

/** memory.kernel is accepted and ignored, as runc 1.1 does: the kernel deprecated kmem limits, and docker still sends the field. */
export const KERNEL_MEMORY_IGNORED = 'kernel memory limits are ignored (deprecated by the kernel)';

/** Reads and validates <bundle>/config.json. Throws ConfigError listing every problem. */
export function loadBundleConfig(options: ValidateOptions): ValidationResult {
  const file = options.file ?? CONFIG_FILE;
  const configPath = path.join(options.bundle, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'JSON specification file config.json not found'
        : String((err as Error).message);
    throw new ConfigError(file, [{ pointer: '', message: `${why} (bundle ${options.bundle})` }]);
  }
  return validateConfigText(text, options);
}

export function validateConfigText(text: string, options: ValidateOptions): ValidationResult {
  const { doc, bigIntegers } = parseJson(text, options.file ?? CONFIG_FILE);
  return validateConfig(doc, { ...options, bigIntegers });
}

export function validateConfig(doc: unknown, options: ValidateOptions): ValidationResult {
  const file = options.file ?? CONFIG_FILE;
  const problems = schemaProblems(validators.config, doc);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const spec = doc as Spec;
  const checker = new SemanticChecker(spec, options);
  checker.run();
  if (checker.problems.length > 0) throw new ConfigError(file, checker.problems);
  return { spec, warnings: checker.warnings };
}

/** Sysctl prefixes that belong to a namespace, and which one (as runc checks them). */
const NAMESPACED_SYSCTLS: { test: (key: string) => boolean; ns: NamespaceType }[] = [
  { test: (k) => k.startsWith('net.'), ns: 'network' },
  { test: (k) => k.startsWith('fs.mqueue.'), ns: 'ipc' },
  {
    test: (k) =>
      [
        'kernel.msgmax',
        'kernel.msgmnb',
        'kernel.msgmni',
        'kernel.sem',
        'kernel.shmall',
        'kernel.shmmax',
        'kernel.shmmni',
        'kernel.shm_rmid_forced',
      ].includes(k),
    ns: 'ipc',
  },
  { test: (k) => k === 'kernel.hostname' || k === 'kernel.domainname', ns: 'uts' },
];

class SemanticChecker {
  readonly problems: Problem[] = [];
  readonly warnings: Problem[] = [];
  private readonly newNamespaces = new Set<NamespaceType>();
  private readonly allNamespaces = new Set<NamespaceType>();

  constructor(
    private readonly spec: Spec,
    private readonly options: ValidateOptions,
  ) {}

  private fail(pointer: string, message: string): void {
    this.problems.push({ pointer, message });
  }

  run(): void {
    this.checkVersion();
    this.checkNamespaces();
    this.checkRoot();
    this.checkProcess();
    this.checkMounts();
    this.checkHooks();
    this.checkLinux();
  }

  private checkVersion(): void {
    if (!/^1\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(this.spec.ociVersion)) {
      this.fail(
        '/ociVersion',
        `unsupported version ${JSON.stringify(this.spec.ociVersion)}: tsrunc supports runtime-spec 1.x (e.g. "1.2.0")`,
      );
    }
  }

  private checkNamespaces(): void {
    const list = this.spec.linux?.namespaces ?? [];
    list.forEach((ns, i) => {
      if (this.allNamespaces.has(ns.type))
        this.fail(`/linux/namespaces/${i}/type`, `namespace type ${ns.type} is repeated`);
      this.allNamespaces.add(ns.type);
      if (ns.path === undefined || ns.path === '') this.newNamespaces.add(ns.type);
      else if (!path.isAbsolute(ns.path))
        this.fail(`/linux/namespaces/${i}/path`, `must be an absolute path, got ${JSON.stringify(ns.path)}`);
    });
  }

  private checkRoot(): void {
    const root = this.spec.root;
    if (root === undefined) {
      this.fail('/root', 'is required on Linux');
      return;
    }
    if (root.path === '') {
      this.fail('/root/path', 'must not be empty');
      return;
    }
    if (!this.options.checkHost) return;
    const rootfs = path.resolve(this.options.bundle, root.path);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(rootfs);
    } catch {
      this.fail('/root/path', `rootfs ${rootfs} does not exist`);
      return;
    }
    if (st.isSymbolicLink()) this.fail('/root/path', `rootfs ${rootfs} is a symlink; give the real directory`);
    else if (!st.isDirectory()) this.fail('/root/path', `rootfs ${rootfs} is not a directory`);
  }

  private checkProcess(): void {
    const proc = this.spec.process;
    if (proc === undefined) {
      this.fail('/process', 'is required to create a container');
      return;
    }
    if (!path.isAbsolute(proc.cwd))
      this.fail('/process/cwd', `must be an absolute path, got ${JSON.stringify(proc.cwd)}`);
    if (proc.args === undefined || proc.args.length === 0) this.fail('/process/args', 'must have at least 1 item');
    proc.env?.forEach((e, i) => {
      if (!e.includes('=')) this.fail(`/process/env/${i}`, `must be NAME=VALUE, got ${JSON.stringify(e)}`);
      else if (e.startsWith('=')) this.fail(`/process/env/${i}`, 'has an empty variable name');
    });
    // Only the five sets: the schema lets other keys through (as runc ignores them), with any value.
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const) {
      proc.capabilities?.[set]?.forEach((name, i) => {
        if (!CAPABILITIES.includes(name))
          this.warnings.push({
            pointer: `/process/capabilities/${set}/${i}`,
            message: `unknown capability ${name} is ignored`,
          });
      });
    }
    if (proc.consoleSize !== undefined && proc.terminal !== true)
      this.fail('/process/consoleSize', 'requires process.terminal to be true');
    this.problems.push(...processProblems(proc, '/process', this.options.bigIntegers));
  }

  private checkMounts(): void {
    (this.spec.mounts ?? []).forEach((m: Mount, i) => {
      const at = `/mounts/${i}`;
      if (!path.isAbsolute(m.destination))
        this.fail(`${at}/destination`, `must be an absolute path, got ${JSON.stringify(m.destination)}`);
      if (isBindMount(m) && (m.source === undefined || m.source === ''))
        this.fail(`${at}/source`, 'is required for a bind mount');
      this.problems.push(...idmapProblems(m, at, this.spec, this.options.rootlessEuid === true));
    });
  }

  private checkHooks(): void {
    for (const name of HOOK_NAMES) {
      (this.spec.hooks?.[name] ?? []).forEach((h: Hook, i) => {
        if (!path.isAbsolute(h.path))
          this.fail(`/hooks/${name}/${i}/path`, `must be an absolute path, got ${JSON.stringify(h.path)}`);
      });
    }
  }

  private checkLinux(): void {
    const linux = this.spec.linux ?? {};
    if (linux.resources?.memory?.kernel !== undefined)
      this.warnings.push({ pointer: '/linux/resources/memory/kernel', message: KERNEL_MEMORY_IGNORED });
    const hasUserns = this.allNamespaces.has('user');
    const newUserns = this.newNamespaces.has('user');
    for (const key of ['uidMappings', 'gidMappings'] as const) {
      const maps = linux[key];
      if (maps !== undefined && maps.length > 0 && !newUserns) {
        this.fail(
          `/linux/${key}`,
          hasUserns
            ? 'cannot be set when joining an existing user namespace'
            : 'requires a user namespace (linux.namespaces has no "user")',
        );
      }
      if (newUserns && (maps === undefined || maps.length === 0)) {
        this.fail(
          `/linux/${key}`,
          `user namespace enabled, but no ${key === 'uidMappings' ? 'uid' : 'gid'} mappings found`,
        );
      }
      if (maps !== undefined) this.checkIdMappings(`/linux/${key}`, maps);
    }
    if (this.options.rootlessEuid === true) this.checkRootless(hasUserns, newUserns);
    if (linux.timeOffsets !== undefined && !this.newNamespaces.has('time')) {
      this.fail('/linux/timeOffsets', 'requires a new time namespace (linux.namespaces with type "time" and no path)');
    }
    if (this.spec.hostname !== undefined && this.spec.hostname !== '' && !this.allNamespaces.has('uts')) {
      this.fail('/hostname', 'unable to set hostname without a private UTS namespace');
    }
    if (this.spec.domainname !== undefined && this.spec.domainname !== '' && !this.allNamespaces.has('uts')) {
      this.fail('/domainname', 'unable to set domainname without a private UTS namespace');
    }
    const devicePaths = new Map<string, number>();
    (linux.devices ?? []).forEach((d, i) => {
      if (!path.isAbsolute(d.path) || !path.normalize(d.path).startsWith('/dev/')) {
        this.fail(`/linux/devices/${i}/path`, `must be an absolute path under /dev, got ${JSON.stringify(d.path)}`);
      }
      const prev = devicePaths.get(d.path);
      if (prev !== undefined) this.fail(`/linux/devices/${i}/path`, `repeats /linux/devices/${prev}/path`);
      devicePaths.set(d.path, i);
    });
    for (const key of Object.keys(linux.sysctl ?? {})) {
      const rule = NAMESPACED_SYSCTLS.find((r) => r.test(key));
      const ptr = `/linux/sysctl/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (rule === undefined) this.fail(ptr, `sysctl ${JSON.stringify(key)} is not in a separate kernel namespace`);
      else if (!this.allNamespaces.has(rule.ns))
        this.fail(
          ptr,
          `sysctl ${JSON.stringify(key)} requires ${rule.ns === 'ipc' ? 'an ipc' : `a ${rule.ns}`} namespace of the container's own`,
        );
    }
    for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
      linux[key]?.forEach((p, i) => {
        if (!path.isAbsolute(p)) this.fail(`/linux/${key}/${i}`, `must be an absolute path, got ${JSON.stringify(p)}`);
      });
    }
    const cgroupsPathProblem =
      linux.cgroupsPath === undefined || linux.cgroupsPath === ''
        ? undefined
        : this.options.cgroupDriver?.cgroupsPathProblem(linux.cgroupsPath);
    if (cgroupsPathProblem !== undefined) this.fail('/linux/cgroupsPath', cgroupsPathProblem);
    this.checkNetDevices(linux);
    if (linux.intelRdt !== undefined && this.options.checkHost && !fs.existsSync('/sys/fs/resctrl/schemata')) {
      this.fail('/linux/intelRdt', 'Intel RDT (resctrl) is not available on this host');
    }
    const seccomp = linux.seccomp;
    if (seccomp !== undefined) {
      seccomp.syscalls?.forEach((s, i) => {
        if (s.errnoRet !== undefined && s.action !== 'SCMP_ACT_ERRNO' && s.action !== 'SCMP_ACT_TRACE') {
          this.fail(
            `/linux/seccomp/syscalls/${i}/errnoRet`,
            `is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${s.action}`,
          );
        }
        s.names.forEach((n, j) => {
          if (n === '') this.fail(`/linux/seccomp/syscalls/${i}/names/${j}`, 'must not be empty');
        });
      });
    }
  }

  /**
   * linux.netDevices, with runc's rules (validate.netdevices): a network namespace to move the
   * devices into (a new one, or one the container joins), not rootless, names the kernel takes.
   * And what the kernel would refuse only once some device had moved: two devices given the same
   * name inside, a device named "lo" inside (every network namespace has its own), the host's lo.
   */
  private checkNetDevices(linux: Linux): void {
    const devices = linux.netDevices ?? {};
    const hostNames = Object.keys(devices);
    if (hostNames.length === 0) return;
    if (!this.allNamespaces.has('network'))
      this.fail('/linux/netDevices', 'unable to move network devices without a NET namespace');
    if (this.options.rootlessEuid === true)
      this.fail('/linux/netDevices', 'network devices are not supported for rootless containers');
    const taken = new Map<string, string>(); // a name inside -> the entry that gives it
    for (const hostName of hostNames) {
      const at = netDevicePointer(hostName);
      const hostProblem = interfaceNameProblem(hostName, false);
      if (hostProblem !== undefined)
        this.fail(at, `invalid network device name ${JSON.stringify(hostName)}: ${hostProblem}`);
      else if (hostName === 'lo') this.fail(at, 'the loopback interface cannot leave its network namespace');
      const given = devices[hostName]?.name;
      const inside = nameInside(hostName, devices[hostName]);
      const insideAt = inside === hostName ? at : netDevicePointer(hostName, 'name');
      if (inside !== hostName) {
        const problem = interfaceNameProblem(inside, true);
        if (problem !== undefined) {
          this.fail(insideAt, `invalid network device name ${JSON.stringify(given)}: ${problem}`);
          continue;
        }
      } else if (hostProblem !== undefined) continue;
      if (isNameTemplate(inside)) continue;
      if (inside === 'lo' && hostName !== 'lo')
        this.fail(insideAt, 'every network namespace has its own "lo": the device cannot take that name inside');
      const other = taken.get(inside);
      if (other !== undefined)
        this.fail(insideAt, `${other} is named ${JSON.stringify(inside)} inside the container too`);
      else taken.set(inside, at);
    }
  }

  /**
   * runc's rootless checks (rootlessEUIDCheck): an ordinary user's container needs a user
   * namespace, and a uid= or gid= mount option must name an id the container maps (the
   * kernel would refuse it at mount time, or it would name someone else's id).
   */
  private checkRootless(hasUserns: boolean, newUserns: boolean): void {
    if (!hasUserns)
      this.fail(
        '/linux/namespaces',
        'rootless container requires user namespaces (tsrunc runs as an ordinary user: `tsrunc spec --rootless` writes such a config)',
      );
    if (!newUserns) return;
    const mapped = (maps: IdMapping[] | undefined, id: number): boolean =>
      (maps ?? []).some((m) => id >= m.containerID && id < m.containerID + m.size);
    (this.spec.mounts ?? []).forEach((m, i) =>
      (m.options ?? []).forEach((o, j) => {
        const opt = /^(uid|gid)=(.*)$/.exec(o);
        if (opt === null) return;
        const [, kind, id] = opt as unknown as [string, 'uid' | 'gid', string];
        if (!/^\d+$/.test(id)) {
          this.fail(
            `/mounts/${i}/options/${j}`,
            `${kind}= must be a decimal id for a rootless container, got ${JSON.stringify(o)}`,
          );
          return;
        }
        const maps = kind === 'uid' ? this.spec.linux?.uidMappings : this.spec.linux?.gidMappings;
        if (!mapped(maps, Number(id)))
          this.fail(
            `/mounts/${i}/options/${j}`,
            `cannot specify ${o} mount option for rootless container: the container maps no ${kind} ${id}`,
          );
      }),
    );
  }

  private checkIdMappings(at: string, maps: IdMapping[]): void {
    maps.forEach((m, i) => {
      if (m.size === 0) this.fail(`${at}/${i}/size`, 'must be at least 1');
      for (let j = 0; j < i; j++) {
        const o = maps[j] as IdMapping;
        if (m.containerID < o.containerID + o.size && o.containerID < m.containerID + m.size) {
          this.fail(`${at}/${i}/containerID`, `range overlaps ${at}/${j}`);
        }
      }
    });
  }
}

/** RLIM_INFINITY as JSON writes it: JSON.parse makes it 2^64, as it does its neighbours. */
const RLIM_INFINITY_LITERAL = '18446744073709551615';

function rlimitText(v: number): string {
  return v === 2 ** 64 ? `${RLIM_INFINITY_LITERAL} (unlimited)` : String(v);
}

/**
 * The checks of a process that config.json (at "/process") and exec's process.json (at "")
 * share: rlimits (known, not repeated, soft <= hard, values the executor takes exactly),
 * oomScoreAdj and the scheduler's ranges. `bigIntegers`: see ValidateOptions.
 */
export function processProblems(
  proc: Process,
  at: string,
  bigIntegers: ReadonlyMap<string, string> = new Map(),
): Problem[] {
  const problems: Problem[] = [];
  const fail = (pointer: string, message: string): void => {
    problems.push({ pointer, message });
  };
  const seen = new Set<string>();
  proc.rlimits?.forEach((r, i) => {
    const here = `${at}/rlimits/${i}`;
    if (RLIMITS[r.type] === undefined) fail(`${here}/type`, `unknown rlimit ${r.type}`);
    if (seen.has(r.type)) fail(`${here}/type`, `rlimit ${r.type} is repeated`);
    seen.add(r.type);
    let exact = true;
    for (const f of ['soft', 'hard'] as const) {
      const v = r[f];
      if (Number.isSafeInteger(v)) continue;
      // 2^64 is RLIM_INFINITY only as the literal 18446744073709551615 (a document given as an
      // object, not text, has no literal to check).
      const literal = bigIntegers.get(`${here}/${f}`);
      if (v === 2 ** 64 && (literal === undefined || literal === RLIM_INFINITY_LITERAL)) continue;
      exact = false;
      fail(
        `${here}/${f}`,
        `must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, or ${RLIM_INFINITY_LITERAL} (unlimited)`,
      );
    }
    if (exact && r.soft > r.hard)
      fail(`${here}/soft`, `soft limit ${rlimitText(r.soft)} is above the hard limit ${rlimitText(r.hard)}`);
  });
  if (proc.oomScoreAdj !== undefined && (proc.oomScoreAdj < -1000 || proc.oomScoreAdj > 1000))
    fail(`${at}/oomScoreAdj`, 'must be between -1000 and 1000');
  const sched = proc.scheduler;
  if (sched !== undefined) {
    if (sched.nice !== undefined && (sched.nice < -20 || sched.nice > 19))
      fail(`${at}/scheduler/nice`, 'must be between -20 and 19');
    const realtime = sched.policy === 'SCHED_FIFO' || sched.policy === 'SCHED_RR';
    if (sched.priority !== undefined) {
      if (realtime && (sched.priority < 1 || sched.priority > 99))
        fail(`${at}/scheduler/priority`, `must be between 1 and 99 for ${sched.policy}`);
      if (!realtime && sched.priority !== 0) fail(`${at}/scheduler/priority`, `must be 0 for ${sched.policy}`);
    }
    if (sched.policy !== 'SCHED_DEADLINE') {
      for (const f of ['runtime', 'deadline', 'period'] as const) {
        if (sched[f] !== undefined && sched[f] !== 0) fail(`${at}/scheduler/${f}`, 'is only valid with SCHED_DEADLINE');
      }
    }
  }
  return problems;
}
