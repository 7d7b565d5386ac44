// What the systemd cgroup driver tells systemd: the unit's name and slice from a cgroupsPath
// ("slice:prefix:name", as runc reads it), the properties of the transient unit, the
// container's resources as unit properties (runc's conversions), and the
// org.systemd.property.* annotations. Pure: nothing here reads the host or talks to systemd,
// so that all of it is unit-tested (test/unit/systemd-properties.test.ts).
import { ConfigError, type Problem } from '../errors';
import type { SystemdProperty, SystemdValue } from '../native/addon';
import type { Resources, Spec } from '../spec/types';
import type { DeviceEmulator } from './device-rules';
import { blkioToIoWeight, sharesToWeight } from './resources';
import { parseCpuList } from '../spec/cpu-list';

/** systemd's "infinity" for a uint64 property (USEC_INFINITY, CGROUP_LIMIT_MAX). */
export const SD_INFINITY = 2n ** 64n - 1n;

/** The default cpu.cfs_period_us (100 ms), for a quota given without a period. */
const DEFAULT_CPU_PERIOD = 100000;

export interface SystemdUnit {
  /** The slice the unit goes in ("system.slice" when the cgroupsPath names none). */
  slice: string;
  /** "prefix-name.scope", or the name itself when it is a slice. */
  unit: string;
  /** The name part (the container's id when the cgroupsPath is empty): what the description names. */
  name: string;
  /** The container's cgroup below the hierarchy's root: the slice's path, then the unit. */
  cgroup: string;
}

/** runc's message for a cgroupsPath that is not "slice:prefix:name". */
export function cgroupsPathShapeProblem(cgroupsPath: string): string | undefined {
  return cgroupsPath.split(':').length === 3
    ? undefined
    : `expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${JSON.stringify(cgroupsPath)} instead`;
}

/**
 * systemd's slice nesting: "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice, "-.slice" the
 * root; throws (runc's words) for a name that is not a slice.
 */
export function expandSlice(slice: string): string {
  const invalid = (): Error => new Error(`invalid slice name: ${slice}`);
  if (!slice.endsWith('.slice') || slice.length <= '.slice'.length || slice.includes('/')) throw invalid();
  const name = slice.slice(0, -'.slice'.length);
  if (name === '-') return '/';
  let out = '';
  let prefix = '';
  for (const component of name.split('-')) {
    if (component === '') throw invalid();
    out += `/${prefix}${component}.slice`;
    prefix += `${component}-`;
  }
  return out;
}

/** A unit name systemd accepts: its characters ([A-Za-z0-9:_.\\-@]), at most 255 of them. */
function unitNameProblem(unit: string): string | undefined {
  if (unit.length > 255) return `the unit name ${JSON.stringify(unit)} is longer than systemd's 255 characters`;
  if (!/^[A-Za-z0-9:_.\\@-]+$/.test(unit))
    return `the unit name ${JSON.stringify(unit)} has characters systemd does not accept in one`;
  return undefined;
}

/**
 * The unit of container `id` by runc's rules: an empty cgroupsPath is "runc-ID.scope" in
 * system.slice (user.slice for a rootless caller); "slice:prefix:name" is "prefix-name.scope"
 * in `slice` (system.slice when empty), or the slice `name` itself when it ends in ".slice".
 */
export function systemdUnit(cgroupsPath: string | undefined, id: string, rootless = false): SystemdUnit {
  let parent = '';
  let prefix = 'runc';
  let name = id;
  if (cgroupsPath !== undefined && cgroupsPath !== '') {
    const shape = cgroupsPathShapeProblem(cgroupsPath);
    if (shape !== undefined) throw new Error(shape);
    [parent, prefix, name] = cgroupsPath.split(':') as [string, string, string];
  }
  const slice = parent === '' ? (rootless ? 'user.slice' : 'system.slice') : parent;
  const unit = name.endsWith('.slice') ? name : `${prefix}-${name}.scope`;
  const problem = unitNameProblem(unit);
  if (problem !== undefined) throw new Error(problem);
  const slicePath = expandSlice(slice);
  return { slice, unit, name, cgroup: `${slicePath === '/' ? '' : slicePath}/${unit}` };
}

/** What validation reports for a cgroupsPath with --systemd-cgroup (undefined: usable). */
export function systemdCgroupsPathProblem(cgroupsPath: string): string | undefined {
  try {
    systemdUnit(cgroupsPath, 'x');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const prop = (name: string, value: SystemdValue): SystemdProperty => ({ name, value });
const u64 = (n: number): SystemdValue => ({ type: 't', value: n === -1 ? SD_INFINITY : BigInt(n) });

/**
 * The unit's own properties, as runc sets them: a description, its slice (a slice unit is
 * ordered after its parent instead), the init's pid, delegation (scopes), accounting, and no
 * default dependencies.
 */
export function unitProperties(u: SystemdUnit, pid: number, cgroupVersion: 1 | 2): SystemdProperty[] {
  const isSlice = u.unit.endsWith('.slice');
  const out: SystemdProperty[] = [prop('Description', { type: 's', value: `libcontainer container ${u.name}` })];
  out.push(isSlice ? prop('Wants', { type: 'as', value: [u.slice] }) : prop('Slice', { type: 's', value: u.slice }));
  out.push(prop('PIDs', { type: 'au', value: [pid] }));
  if (!isSlice) out.push(prop('Delegate', { type: 'b', value: true }));
  out.push(prop('MemoryAccounting', { type: 'b', value: true }));
  out.push(prop('CPUAccounting', { type: 'b', value: true }));
  out.push(prop(cgroupVersion === 2 ? 'IOAccounting' : 'BlockIOAccounting', { type: 'b', value: true }));
  out.push(prop('TasksAccounting', { type: 'b', value: true }));
  out.push(prop('DefaultDependencies', { type: 'b', value: false }));
  return out;
}

/** cpuset's list syntax ("0-3,8") as systemd's bitmask bytes (bit N of byte N/8 is cpu N). */
export function cpusetBits(list: string): Buffer {
  const bits = parseCpuList(list, 8191);
  const out = Buffer.alloc(bits.length === 0 ? 0 : Math.floor(Math.max(...bits) / 8) + 1);
  for (const b of bits) out[b >> 3] = (out[b >> 3] as number) | (1 << (b & 7));
  return out;
}

/** runc's CPU quota properties: the period where given, the quota per second rounded up to 10 ms. */
function cpuQuotaProperties(quota: number, period: number): SystemdProperty[] {
  const out: SystemdProperty[] = [];
  if (period !== 0) out.push(prop('CPUQuotaPeriodUSec', { type: 't', value: BigInt(period) }));
  if (quota !== 0 || period !== 0) {
    let perSec = SD_INFINITY;
    if (quota > 0) {
      const p = BigInt(period === 0 ? DEFAULT_CPU_PERIOD : period);
      perSec = (BigInt(quota) * 1000000n) / p;
      if (perSec % 10000n !== 0n) perSec = (perSec / 10000n + 1n) * 10000n;
    }
    out.push(prop('CPUQuotaPerSecUSec', { type: 't', value: perSec }));
  }
  return out;
}

/**
 * The device rules as systemd's DevicePolicy and DeviceAllow, in runc's notation: "char-*" for
 * a wildcard, "char-MAJOR" for a wildcard minor and /dev/char/M:N for one device (systemd ≥ 240
 * reads both from the string). An older systemd takes a wildcard minor only as a /proc/devices
 * group ("char-pts", which may cover more majors than one) and looks a node up with stat(2), so
 * there `facts` says which group a major is in and whether a node exists.
 *
 * cgroup v2: the driver's own device filter always enforces the container's exact rules, and
 * systemd's program is consulted beside it (both must allow): so systemd is given the rules
 * only when its list allows no less — "strict" with the list. Where it cannot say them (a deny
 * list, "*:N", and on an old systemd a major /proc/devices does not name or a node that does
 * not exist) it gets "auto" with no list, which restricts nothing, rather than a list stricter
 * than the container's (runc replaces systemd's program instead).
 *
 * cgroup v1 (`cgroupVersion` 1) is different: there is one device list per cgroup, and systemd
 * writes its own over the container's whenever it applies the unit's properties (any property
 * change, by anyone) — "auto" there is "a *:* rwm", every device open. So on v1, as runc does,
 * systemd always gets "strict" with what it can say of the rules and no more: a rule it cannot
 * say is left out (the container's list, written by the driver, has it), and a deny list is
 * an empty allow list (deny-all); only allow-all stays "auto".
 */
export function deviceProperties(
  devices: DeviceEmulator,
  facts: {
    groupOf(type: 'b' | 'c', major: number): string | undefined;
    exists(devicePath: string): boolean;
  },
  systemdVersion: number,
  cgroupVersion: 1 | 2 = 2,
): SystemdProperty[] {
  const auto = [prop('DevicePolicy', { type: 's', value: 'auto' }), prop('DeviceAllow', { type: 'a(ss)', value: [] })];
  const strict = (allow: [string, string][]): SystemdProperty[] => [
    prop('DevicePolicy', { type: 's', value: 'strict' }),
    prop('DeviceAllow', { type: 'a(ss)', value: allow }),
  ];
  const v1 = cgroupVersion === 1;
  const parsesPaths = systemdVersion >= 240;
  // (a deny list's reduced rules: "a" allowed, then its denials; allow-all has none of those)
  if (devices.isBlacklist()) return !v1 || devices.cleanRules().every((r) => r.allow) ? auto : strict([]);
  const allow: [string, string][] = [];
  for (const rule of devices.cleanRules()) {
    if (!rule.allow || (rule.type !== 'b' && rule.type !== 'c')) {
      if (v1) continue;
      return auto;
    }
    const kind = rule.type === 'b' ? 'block' : 'char';
    const major = rule.major ?? -1;
    const minor = rule.minor ?? -1;
    const access = rule.access ?? 'rwm';
    let entry: string | undefined;
    if (major === -1) entry = minor === -1 ? `${kind}-*` : undefined;
    else if (minor === -1) {
      const group = parsesPaths ? String(major) : facts.groupOf(rule.type, major);
      entry = group === undefined ? undefined : `${kind}-${group}`;
    } else {
      const p = `/dev/${kind}/${major}:${minor}`;
      entry = parsesPaths || facts.exists(p) ? p : undefined;
    }
    if (entry === undefined) {
      if (v1) continue;
      return auto;
    }
    allow.push([entry, access]);
  }
  return strict(allow);
}

/** The number a systemd Version property starts with ("252.39-1~deb12u1", "v255", "255~rc1"); 0 if none. */
export function parseSystemdVersion(version: string | undefined): number {
  const m = /^v?(\d+)/.exec((version ?? '').trim());
  return m === null ? 0 : Number(m[1]);
}

/** The major → group name table of /proc/devices' text ("Character devices:" / "Block devices:"). */
export function parseProcDevices(text: string): (type: 'b' | 'c', major: number) => string | undefined {
  const groups = { b: new Map<number, string>(), c: new Map<number, string>() };
  let section: 'b' | 'c' | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === 'Character devices:') section = 'c';
    else if (line === 'Block devices:') section = 'b';
    else {
      const m = /^(\d+)\s+(\S+)$/.exec(line);
      if (m !== null && section !== undefined && !groups[section].has(Number(m[1])))
        groups[section].set(Number(m[1]), m[2] as string);
    }
  }
  return (type, major) => groups[type].get(major);
}

/**
 * linux.resources as unit properties where systemd has one (runc's conversions; cgroup v2
 * names, or v1's where they differ). The driver writes every limit to the cgroup files as
 * well, as runc does: a limit systemd has no property for is set there alone.
 */
export function resourceProperties(resources: Resources | undefined, cgroupVersion: 1 | 2): SystemdProperty[] {
  const out: SystemdProperty[] = [];
  if (resources === undefined) return out;
  const mem = resources.memory;
  if (mem !== undefined) {
    const limit = mem.limit ?? 0;
    if (cgroupVersion === 2) {
      if (limit !== 0) out.push(prop('MemoryMax', u64(limit)));
      if (mem.reservation !== undefined && mem.reservation !== 0) out.push(prop('MemoryLow', u64(mem.reservation)));
      const swap = mem.swap ?? 0;
      // runc's ConvertMemorySwapToCgroupV2Value (its errors are the cgroup files' to report)
      let swapOnly: bigint | undefined;
      if (limit === -1 && swap === 0) swapOnly = SD_INFINITY;
      else if (swap === -1) swapOnly = SD_INFINITY;
      else if (swap > 0 && limit > 0 && swap >= limit) swapOnly = BigInt(swap - limit);
      if (swapOnly !== undefined) out.push(prop('MemorySwapMax', { type: 't', value: swapOnly }));
    } else if (limit !== 0) out.push(prop('MemoryLimit', u64(limit)));
  }
  const cpu = resources.cpu;
  if (cpu !== undefined) {
    if (cpu.shares !== undefined && cpu.shares !== 0)
      out.push(
        cgroupVersion === 2
          ? prop('CPUWeight', { type: 't', value: BigInt(sharesToWeight(cpu.shares)) })
          : prop('CPUShares', { type: 't', value: BigInt(cpu.shares) }),
      );
    out.push(...cpuQuotaProperties(cpu.quota ?? 0, cpu.period ?? 0));
    // On v1 too, as runc's legacy manager sends them: systemd keeps them on the unit (it
    // applies cpuset on v2 only; on v1 the cpuset files carry the limit).
    if (cpu.cpus !== undefined && cpu.cpus !== '')
      out.push(prop('AllowedCPUs', { type: 'ay', value: cpusetBits(cpu.cpus) }));
    if (cpu.mems !== undefined && cpu.mems !== '')
      out.push(prop('AllowedMemoryNodes', { type: 'ay', value: cpusetBits(cpu.mems) }));
  }
  const pids = resources.pids;
  if (pids !== undefined && (pids.limit > 0 || pids.limit === -1)) out.push(prop('TasksMax', u64(pids.limit)));
  const io = resources.blockIO;
  if (io?.weight !== undefined && io.weight !== 0)
    out.push(
      cgroupVersion === 2
        ? prop('IOWeight', { type: 't', value: BigInt(blkioToIoWeight(io.weight)) })
        : prop('BlockIOWeight', { type: 't', value: BigInt(io.weight) }),
    );
  if (cgroupVersion === 2 && resources.unified !== undefined) out.push(...unifiedProperties(resources.unified));
  return out;
}

/** linux.resources.unified keys systemd has a property for (runc's unifiedResToSystemdProps); the rest go to the files only. */
function unifiedProperties(unified: Record<string, string>): SystemdProperty[] {
  const out: SystemdProperty[] = [];
  const num = (v: string): bigint | undefined => (v === 'max' ? SD_INFINITY : /^\d+$/.test(v) ? BigInt(v) : undefined);
  const memory: Record<string, string> = {
    'memory.high': 'MemoryHigh',
    'memory.low': 'MemoryLow',
    'memory.min': 'MemoryMin',
    'memory.max': 'MemoryMax',
    'memory.swap.max': 'MemorySwapMax',
  };
  for (const key of Object.keys(unified).sort()) {
    const v = (unified[key] as string).trim();
    if (key === 'cpu.max') {
      const [q, p] = v.split(/\s+/);
      const quota = q === 'max' || q === undefined ? 0 : Number(q);
      const period = p === undefined ? DEFAULT_CPU_PERIOD : Number(p);
      if (Number.isSafeInteger(quota) && Number.isSafeInteger(period)) out.push(...cpuQuotaProperties(quota, period));
    } else if (key === 'cpu.weight' && /^\d+$/.test(v)) out.push(prop('CPUWeight', { type: 't', value: BigInt(v) }));
    else if (key === 'cpuset.cpus' || key === 'cpuset.mems') {
      out.push(
        prop(key === 'cpuset.cpus' ? 'AllowedCPUs' : 'AllowedMemoryNodes', { type: 'ay', value: cpusetBits(v) }),
      );
    } else if (memory[key] !== undefined && num(v) !== undefined)
      out.push(prop(memory[key] as string, { type: 't', value: num(v) as bigint }));
    else if (key === 'pids.max' && num(v) !== undefined)
      out.push(prop('TasksMax', { type: 't', value: num(v) as bigint }));
  }
  return out;
}

const ANNOTATION = 'org.systemd.property.';

/**
 * org.systemd.property.NAME annotations as unit properties, as runc passes them on: NAME must
 * be a property name (`^[A-Z][A-Za-z0-9]+$`), the value is in GVariant's text form ("uint64
 * 1000", "true", "'text'", "['a', 'b']"), and a NAME ending in "Sec" is turned into its
 * "USec" form with the value in microseconds (TimeoutStopSec=5 → TimeoutStopUSec=5000000).
 */
export function annotationProperties(spec: Pick<Spec, 'annotations'>): SystemdProperty[] {
  const out: SystemdProperty[] = [];
  const problems: Problem[] = [];
  for (const [key, text] of Object.entries(spec.annotations ?? {})) {
    if (!key.startsWith(ANNOTATION)) continue;
    const pointer = `/annotations/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    let name = key.slice(ANNOTATION.length);
    if (!/^[A-Z][A-Za-z0-9]+$/.test(name)) {
      problems.push({ pointer, message: `${JSON.stringify(name)} is not a systemd property name` });
      continue;
    }
    let value: SystemdValue;
    try {
      value = parseGVariant(text);
    } catch (err) {
      problems.push({ pointer, message: `value ${JSON.stringify(text)}: ${(err as Error).message}` });
      continue;
    }
    if (name.endsWith('Sec') && !name.endsWith('USec')) {
      const seconds =
        value.type === 't' || value.type === 'x'
          ? Number(value.value)
          : value.type === 'u' || value.type === 'i' || value.type === 'd'
            ? value.value
            : NaN;
      if (!Number.isFinite(seconds) || seconds < 0) {
        problems.push({
          pointer,
          message: `${name} needs a non-negative number of seconds, got ${JSON.stringify(text)}`,
        });
        continue;
      }
      name = `${name.slice(0, -3)}USec`;
      value = { type: 't', value: BigInt(Math.round(seconds * 1e6)) };
    }
    out.push({ name, value });
  }
  if (problems.length > 0) throw new ConfigError('config.json', problems);
  return out;
}

const INT_TYPES: Record<string, 't' | 'x' | 'u' | 'i'> = { uint64: 't', int64: 'x', uint32: 'u', int32: 'i' };

/** The GVariant text forms runc's annotations use: booleans, (typed) integers, doubles, strings, arrays of strings or of uint32. */
export function parseGVariant(text: string): SystemdValue {
  const t = text.trim();
  if (t === 'true' || t === 'false') return { type: 'b', value: t === 'true' };
  const typed = /^(uint64|int64|uint32|int32)\s+(-?\d+)$/.exec(t);
  if (typed !== null) return intValue(INT_TYPES[typed[1] as string] as 't' | 'x' | 'u' | 'i', typed[2] as string);
  const at = /^@([tuxi])\s+(-?\d+)$/.exec(t);
  if (at !== null) return intValue(at[1] as 't' | 'x' | 'u' | 'i', at[2] as string);
  if (/^-?\d+$/.test(t)) return intValue('i', t);
  if (/^-?\d+\.\d*(e-?\d+)?$/.test(t)) return { type: 'd', value: Number(t) };
  if (/^'(?:[^'\\]|\\.)*'$/.test(t) || /^"(?:[^"\\]|\\.)*"$/.test(t)) return { type: 's', value: unquote(t) };
  const array = /^(@a[su]\s*)?\[(.*)\]$/s.exec(t);
  if (array !== null) {
    const items = splitItems(array[2] as string);
    if (items.length === 0) {
      if (array[1]?.includes('au')) return { type: 'au', value: [] };
      return { type: 'as', value: [] };
    }
    if (items.every((i) => /^'(?:[^'\\]|\\.)*'$/.test(i) || /^"(?:[^"\\]|\\.)*"$/.test(i)))
      return { type: 'as', value: items.map(unquote) };
    const ints = items.map((i) => /^(?:uint32\s+)?(\d+)$/.exec(i)?.[1]);
    if (ints.every((i) => i !== undefined && Number(i) <= 0xffffffff))
      return { type: 'au', value: ints.map((i) => Number(i)) };
  }
  throw new Error(
    'not a GVariant value tsrunc reads (a boolean, a number, a quoted string, or an array of strings or numbers)',
  );
}

function intValue(type: 't' | 'x' | 'u' | 'i', digits: string): SystemdValue {
  const n = BigInt(digits);
  const range = {
    t: [0n, 2n ** 64n - 1n],
    x: [-(2n ** 63n), 2n ** 63n - 1n],
    u: [0n, 2n ** 32n - 1n],
    i: [-(2n ** 31n), 2n ** 31n - 1n],
  }[type];
  if (n < (range[0] as bigint) || n > (range[1] as bigint)) throw new Error(`${digits} is out of range`);
  return type === 't' || type === 'x' ? { type, value: n } : { type, value: Number(n) };
}

function unquote(s: string): string {
  return s.slice(1, -1).replace(/\\(.)/g, '$1');
}

function splitItems(body: string): string[] {
  const items: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (quote !== undefined) {
      cur += c;
      if (c === '\\') cur += body[++i] ?? '';
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === ',') {
      items.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') items.push(cur.trim());
  return items;
}
