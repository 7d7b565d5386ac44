// LinuxResources turned into cgroup file writes, per hierarchy: cgroup v1 files where the
// controller is mounted as v1, v2 files (with runc's conversions) where it lives in the
// unified hierarchy. Each write carries the JSON pointer of the field it comes from, so an
// error names the field.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, TsruncError, type Problem } from '../errors';
import { DEFAULT_DEVICE_RULES } from '../spec/devices';
import type { DeviceCgroupRule, Resources, Spec, ThrottleDevice } from '../spec/types';
import { DeviceEmulator } from './device-rules';
import type { CgroupHierarchy, CgroupPaths } from './hierarchy';

export interface CgroupWrite {
  /** The hierarchy key the file belongs to. */
  hierarchy: string;
  file: string;
  value: string;
  pointer: string;
  /** Written only where the file exists (a write runc makes only then, such as swap with no swap accounting). */
  ifExists?: boolean;
  /** Written to `file` here instead when the directory has no `unless` (runc's choice of the BFQ files where CFQ's are absent). */
  fallback?: { file: string; unless: string };
}

/** v1 blkio weights: CFQ's files, or BFQ's where the kernel has no CFQ (Linux 5.0 and later), as runc chooses. */
const CFQ_OR_BFQ = (file: 'blkio.weight' | 'blkio.weight_device'): { fallback: { file: string; unless: string } } => ({
  fallback: { file: file.replace('blkio.', 'blkio.bfq.'), unless: 'blkio.weight' },
});

/** The file `w` goes to in `dir`. */
export function writeTarget(w: CgroupWrite, dir: string): string {
  return w.fallback !== undefined && !fs.existsSync(path.join(dir, w.fallback.unless)) ? w.fallback.file : w.file;
}

/** Which hierarchy serves `controller`: a v1 mount of it, else the unified one if it has it. */
export function hierarchyFor(controller: string, hierarchies: CgroupHierarchy[]): CgroupHierarchy | undefined {
  return (
    hierarchies.find((h) => h.version === 1 && h.controllers.includes(controller)) ??
    hierarchies.find((h) => h.version === 2 && h.controllers.includes(controller))
  );
}

/** cpu.shares (2..262144) to cpu.weight (1..10000), as runc converts. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/** blkio.weight (10..1000) to io.weight (1..10000), as runc converts. */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

const R = '/linux/resources';

class WritePlanner {
  readonly writes: CgroupWrite[] = [];
  readonly problems: Problem[] = [];

  constructor(private readonly hierarchies: CgroupHierarchy[]) {}

  private target(controller: string, pointer: string): CgroupHierarchy | undefined {
    const h = hierarchyFor(controller, this.hierarchies);
    if (h === undefined)
      this.problems.push({ pointer, message: `the ${controller} cgroup controller is not available on this host` });
    return h;
  }

  private put(
    h: CgroupHierarchy,
    file: string,
    value: string | number,
    pointer: string,
    opts: Pick<CgroupWrite, 'ifExists' | 'fallback'> = {},
  ): void {
    this.writes.push({ hierarchy: h.key, file, value: String(value), pointer, ...opts });
  }

  // memory.kernel is ignored here; validation warns (KERNEL_MEMORY_IGNORED in spec/validate.ts).
  memory(mem: NonNullable<Resources['memory']>): void {
    const at = `${R}/memory`;
    const h = this.target('memory', at);
    if (h === undefined) return;
    if (h.version === 1) {
      // With swap set, limit and memsw must move in the order that keeps limit <= memsw.
      const limit = mem.limit;
      const swap = mem.swap;
      if (limit === -1 && swap === undefined) {
        // As runc: an unlimited memory with no swap given is unlimited memory+swap too (a
        // memsw limit below it would refuse the write), where swap is accounted at all.
        this.put(h, 'memory.memsw.limit_in_bytes', -1, `${at}/limit`, { ifExists: true });
        this.put(h, 'memory.limit_in_bytes', -1, `${at}/limit`);
      } else if (swap !== undefined && limit !== undefined && (swap === -1 || swap >= limit)) {
        this.put(h, 'memory.memsw.limit_in_bytes', swap, `${at}/swap`);
        this.put(h, 'memory.limit_in_bytes', limit, `${at}/limit`);
      } else {
        if (limit !== undefined) this.put(h, 'memory.limit_in_bytes', limit, `${at}/limit`);
        if (swap !== undefined) this.put(h, 'memory.memsw.limit_in_bytes', swap, `${at}/swap`);
      }
      if (mem.reservation !== undefined)
        this.put(h, 'memory.soft_limit_in_bytes', mem.reservation, `${at}/reservation`);
      if (mem.kernelTCP !== undefined) this.put(h, 'memory.kmem.tcp.limit_in_bytes', mem.kernelTCP, `${at}/kernelTCP`);
      if (mem.swappiness !== undefined) this.put(h, 'memory.swappiness', mem.swappiness, `${at}/swappiness`);
      if (mem.disableOOMKiller === true) this.put(h, 'memory.oom_control', 1, `${at}/disableOOMKiller`);
      if (mem.useHierarchy !== undefined)
        this.put(h, 'memory.use_hierarchy', mem.useHierarchy ? 1 : 0, `${at}/useHierarchy`);
    } else {
      if (mem.limit !== undefined) this.put(h, 'memory.max', max(mem.limit), `${at}/limit`);
      if (mem.reservation !== undefined) this.put(h, 'memory.low', max(mem.reservation), `${at}/reservation`);
      if (mem.swappiness !== undefined)
        this.problems.push({ pointer: `${at}/swappiness`, message: 'is not supported on cgroup v2' });
      if (mem.kernelTCP !== undefined)
        this.problems.push({ pointer: `${at}/kernelTCP`, message: 'is not supported on cgroup v2' });
      if (mem.disableOOMKiller === true)
        this.problems.push({ pointer: `${at}/disableOOMKiller`, message: 'is not supported on cgroup v2' });
      // (as on v1, runc's: unlimited memory with no swap given leaves swap unlimited too)
      if (mem.limit === -1 && mem.swap === undefined)
        this.put(h, 'memory.swap.max', 'max', `${at}/limit`, { ifExists: true });
      if (mem.swap !== undefined) {
        // v1's swap is memory+swap; v2's memory.swap.max is swap alone.
        let swapOnly: number | 'max';
        if (mem.swap === -1) swapOnly = 'max';
        else if (mem.limit === undefined || mem.limit === -1) {
          this.problems.push({ pointer: `${at}/swap`, message: 'on cgroup v2, swap needs memory.limit to be set too' });
          return;
        } else if (mem.swap < mem.limit) {
          this.problems.push({ pointer: `${at}/swap`, message: `must be at least memory.limit (${mem.limit})` });
          return;
        } else swapOnly = mem.swap - mem.limit;
        this.put(h, 'memory.swap.max', swapOnly, `${at}/swap`);
      }
    }
  }

  cpu(cpu: NonNullable<Resources['cpu']>): void {
    const at = `${R}/cpu`;
    const cpuFields =
      cpu.shares !== undefined ||
      cpu.quota !== undefined ||
      cpu.period !== undefined ||
      cpu.burst !== undefined ||
      cpu.realtimeRuntime !== undefined ||
      cpu.realtimePeriod !== undefined ||
      cpu.idle !== undefined;
    const h = cpuFields ? this.target('cpu', at) : undefined;
    if (h !== undefined && h.version === 1) {
      // 0 means unset for shares and weights (docker writes 0s), as runc reads them.
      if (cpu.shares !== undefined && cpu.shares !== 0) this.put(h, 'cpu.shares', cpu.shares, `${at}/shares`);
      // (0 is unset, as runc reads both: docker's update sends 0s)
      if (cpu.period !== undefined && cpu.period !== 0) this.put(h, 'cpu.cfs_period_us', cpu.period, `${at}/period`);
      if (cpu.quota !== undefined && cpu.quota !== 0) this.put(h, 'cpu.cfs_quota_us', cpu.quota, `${at}/quota`);
      if (cpu.burst !== undefined) this.put(h, 'cpu.cfs_burst_us', cpu.burst, `${at}/burst`);
      if (cpu.realtimePeriod !== undefined) this.put(h, 'cpu.rt_period_us', cpu.realtimePeriod, `${at}/realtimePeriod`);
      if (cpu.realtimeRuntime !== undefined)
        this.put(h, 'cpu.rt_runtime_us', cpu.realtimeRuntime, `${at}/realtimeRuntime`);
      if (cpu.idle !== undefined) this.put(h, 'cpu.idle', cpu.idle, `${at}/idle`);
    } else if (h !== undefined) {
      if (cpu.shares !== undefined && cpu.shares !== 0)
        this.put(h, 'cpu.weight', sharesToWeight(cpu.shares), `${at}/shares`);
      const quota = cpu.quota ?? 0;
      const period = cpu.period ?? 0;
      if (quota !== 0 || period !== 0) {
        // As runc: 0 is unset for both (docker's update sends 0s; "max 0" is EINVAL), and a
        // quota alone keeps the cgroup's period.
        const max = quota > 0 ? String(quota) : 'max';
        this.put(h, 'cpu.max', period === 0 ? max : `${max} ${period}`, `${at}/${quota !== 0 ? 'quota' : 'period'}`);
      }
      if (cpu.burst !== undefined) this.put(h, 'cpu.max.burst', cpu.burst, `${at}/burst`);
      if (cpu.idle !== undefined) this.put(h, 'cpu.idle', cpu.idle, `${at}/idle`);
      if (cpu.realtimeRuntime !== undefined || cpu.realtimePeriod !== undefined) {
        this.problems.push({
          pointer: `${at}/realtimeRuntime`,
          message: 'realtime cpu limits are not supported on cgroup v2',
        });
      }
    }
    if (cpu.cpus !== undefined || cpu.mems !== undefined) {
      const c = this.target('cpuset', at);
      if (c !== undefined) {
        if (cpu.cpus !== undefined) this.put(c, 'cpuset.cpus', cpu.cpus, `${at}/cpus`);
        if (cpu.mems !== undefined) this.put(c, 'cpuset.mems', cpu.mems, `${at}/mems`);
      }
    }
  }

  pids(pids: NonNullable<Resources['pids']>): void {
    const h = this.target('pids', `${R}/pids`);
    // 0 leaves the limit as it is, as runc reads it (-1, or any negative, is no limit)
    if (h !== undefined && pids.limit !== 0)
      this.put(h, 'pids.max', pids.limit > 0 ? pids.limit : 'max', `${R}/pids/limit`);
  }

  blockIO(io: NonNullable<Resources['blockIO']>): void {
    const at = `${R}/blockIO`;
    const v1 = this.hierarchies.find((x) => x.version === 1 && x.controllers.includes('blkio'));
    const h = v1 ?? this.target('io', at);
    if (h === undefined) return;
    const dev = (d: { major: number; minor: number }): string => `${d.major}:${d.minor}`;
    const throttles: [keyof typeof io, string, string][] = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device', 'rbps'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device', 'wbps'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device', 'riops'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device', 'wiops'],
    ];
    if (h.version === 1) {
      if (io.weight !== undefined && io.weight !== 0)
        this.put(h, 'blkio.weight', io.weight, `${at}/weight`, CFQ_OR_BFQ('blkio.weight'));
      if (io.leafWeight !== undefined && io.leafWeight !== 0)
        this.put(h, 'blkio.leaf_weight', io.leafWeight, `${at}/leafWeight`);
      io.weightDevice?.forEach((d, i) => {
        if (d.weight !== undefined)
          this.put(
            h,
            'blkio.weight_device',
            `${dev(d)} ${d.weight}`,
            `${at}/weightDevice/${i}/weight`,
            CFQ_OR_BFQ('blkio.weight_device'),
          );
        if (d.leafWeight !== undefined)
          this.put(h, 'blkio.leaf_weight_device', `${dev(d)} ${d.leafWeight}`, `${at}/weightDevice/${i}/leafWeight`);
      });
      for (const [field, file] of throttles) {
        (io[field] as ThrottleDevice[] | undefined)?.forEach((d, i) =>
          this.put(h, file, `${dev(d)} ${d.rate}`, `${at}/${field}/${i}`),
        );
      }
    } else {
      if (io.weight !== undefined && io.weight !== 0)
        this.put(h, 'io.weight', `default ${blkioToIoWeight(io.weight)}`, `${at}/weight`);
      io.weightDevice?.forEach((d, i) => {
        if (d.weight !== undefined)
          this.put(h, 'io.weight', `${dev(d)} ${blkioToIoWeight(d.weight)}`, `${at}/weightDevice/${i}/weight`);
      });
      for (const [field, , key] of throttles) {
        (io[field] as ThrottleDevice[] | undefined)?.forEach((d, i) =>
          this.put(h, 'io.max', `${dev(d)} ${key}=${d.rate}`, `${at}/${field}/${i}`),
        );
      }
    }
  }

  hugepages(limits: NonNullable<Resources['hugepageLimits']>): void {
    limits.forEach((l, i) => {
      const at = `${R}/hugepageLimits/${i}`;
      const h = this.target('hugetlb', at);
      if (h === undefined) return;
      this.put(
        h,
        h.version === 1 ? `hugetlb.${l.pageSize}.limit_in_bytes` : `hugetlb.${l.pageSize}.max`,
        l.limit,
        `${at}/limit`,
      );
    });
  }

  network(net: NonNullable<Resources['network']>): void {
    const at = `${R}/network`;
    if (net.classID !== undefined) {
      const h = this.target('net_cls', `${at}/classID`);
      if (h !== undefined) this.put(h, 'net_cls.classid', net.classID, `${at}/classID`);
    }
    net.priorities?.forEach((p, i) => {
      const h = this.target('net_prio', `${at}/priorities/${i}`);
      if (h !== undefined) this.put(h, 'net_prio.ifpriomap', `${p.name} ${p.priority}`, `${at}/priorities/${i}`);
    });
  }

  rdma(rdma: NonNullable<Resources['rdma']>): void {
    for (const [device, limit] of Object.entries(rdma)) {
      const at = `${R}/rdma/${device}`;
      const h = this.target('rdma', at);
      if (h === undefined) continue;
      const parts = [device];
      if (limit.hcaHandles !== undefined) parts.push(`hca_handle=${limit.hcaHandles}`);
      if (limit.hcaObjects !== undefined) parts.push(`hca_object=${limit.hcaObjects}`);
      this.put(h, 'rdma.max', parts.join(' '), at);
    }
  }

  unified(unified: Record<string, string>): void {
    const h = this.hierarchies.find((x) => x.version === 2);
    // runc's words where the host is (for this file) cgroup v1: callers look for "invalid configuration".
    const V1 = 'invalid configuration: cannot use unified on cgroup v1';
    for (const [file, value] of Object.entries(unified)) {
      const at = `${R}/unified/${file.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (h === undefined) {
        this.problems.push({ pointer: at, message: `${V1} (no unified hierarchy on this host)` });
        continue;
      }
      if (file.includes('/') || file.startsWith('.')) {
        this.problems.push({ pointer: at, message: 'must name a file of the cgroup directory' });
        continue;
      }
      const controller = file.split('.')[0] ?? '';
      if (!['cgroup', ...h.controllers].includes(controller)) {
        const v1 = this.hierarchies.some((x) => x.version === 1 && x.controllers.includes(controller));
        this.problems.push({
          pointer: at,
          message: v1
            ? `${V1} (the ${controller} controller is a cgroup v1 hierarchy on this host)`
            : `the ${controller} controller is not available in the unified hierarchy of this host`,
        });
        continue;
      }
      this.put(h, file, value, at);
    }
  }
}

/**
 * The device rules of a container, as runc 1.1 builds them: the config's rules, then the
 * defaults — less a default whose device node the config lists itself in linux.devices (the
 * config's node replaces it). The devices of linux.devices are created, not allowed: a
 * config that wants them usable allows them in linux.resources.devices (docker, podman and
 * the CRI plugin all do), and a deny rule for one of them holds.
 */
export function containerDeviceRules(spec: Spec): DeviceCgroupRule[] {
  const listed = new Set((spec.linux?.devices ?? []).map((d) => d.path));
  const defaults = DEFAULT_DEVICE_RULES.filter((d) => d.path === undefined || !listed.has(d.path)).map(
    ({ path: _path, ...rule }) => rule,
  );
  return [...(spec.linux?.resources?.devices ?? []), ...defaults];
}

/** Where rule `i` of containerDeviceRules(spec) comes from, for messages. */
export function deviceRuleSource(spec: Spec): (i: number) => string {
  const own = spec.linux?.resources?.devices?.length ?? 0;
  return (i) => (i < own ? `${R}/devices/${i}` : '/linux/resources/devices (the default device rules appended to it)');
}

/** The state the container's device rules leave its devices cgroup in; ConfigError naming the rule that cannot be applied. */
export function containerDeviceState(spec: Spec): DeviceEmulator {
  return DeviceEmulator.fromRules(containerDeviceRules(spec), deviceRuleSource(spec));
}

function max(v: number): string {
  return v === -1 ? 'max' : String(v);
}

/** The writes that give a cgroup the limits in `resources`; throws ConfigError for what cannot be set here. */
export function resourceWrites(resources: Resources | undefined, hierarchies: CgroupHierarchy[]): CgroupWrite[] {
  const p = new WritePlanner(hierarchies);
  if (resources === undefined) return p.writes;
  if (resources.memory !== undefined) p.memory(resources.memory);
  if (resources.cpu !== undefined) p.cpu(resources.cpu);
  if (resources.pids !== undefined) p.pids(resources.pids);
  if (resources.blockIO !== undefined) p.blockIO(resources.blockIO);
  if (resources.hugepageLimits !== undefined) p.hugepages(resources.hugepageLimits);
  if (resources.network !== undefined) p.network(resources.network);
  if (resources.rdma !== undefined) p.rdma(resources.rdma);
  if (resources.unified !== undefined) p.unified(resources.unified);
  if (p.problems.length > 0) throw new ConfigError('config.json', p.problems);
  return p.writes;
}

/** v2 controllers the writes need, to enable in every ancestor's cgroup.subtree_control. */
export function controllersNeeded(writes: CgroupWrite[], hierarchies: CgroupHierarchy[]): string[] {
  const v2 = hierarchies.find((h) => h.version === 2);
  if (v2 === undefined) return [];
  const wanted = new Set<string>();
  for (const w of writes) if (w.hierarchy === v2.key) wanted.add(w.file.split('.')[0] ?? '');
  wanted.delete('cgroup');
  return [...wanted].filter((c) => v2.controllers.includes(c));
}

/**
 * v1 memory limits must keep limit <= memsw at every moment, so which goes first depends on
 * the current values; a CFS period below the current one can exceed a parent's quota until
 * the new quota is written (runc retries it after the quota): a write the kernel refuses with
 * EINVAL is retried after the others.
 */
const ORDER_SENSITIVE = new Set(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'cpu.cfs_period_us']);

export function applyWrites(writes: CgroupWrite[], paths: CgroupPaths, containerId?: string): void {
  const deferred: CgroupWrite[] = [];
  for (const w of writes) {
    const dir = paths[w.hierarchy];
    if (dir === undefined) continue;
    if (w.ifExists === true && !fs.existsSync(path.join(dir, w.file))) continue;
    const file = writeTarget(w, dir);
    try {
      writeExisting(path.join(dir, file), w.value);
    } catch (err) {
      if (ORDER_SENSITIVE.has(file) && (err as NodeJS.ErrnoException).code === 'EINVAL') deferred.push(w);
      else throw writeError(w, file, err, containerId);
    }
  }
  for (const w of deferred) {
    try {
      writeExisting(path.join(paths[w.hierarchy] as string, w.file), w.value);
    } catch (err) {
      throw writeError(w, w.file, err, containerId);
    }
  }
}

/**
 * Writes `value` to a cgroup file. cgroupfs refuses to create a file it does not have with
 * EACCES: that is reported as what it is, ENOENT, in runc's words ("no such file or directory").
 */
function writeExisting(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES' && !fs.existsSync(file))
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${file}'`), {
        code: 'ENOENT',
        errno: -2,
        syscall: 'open',
        path: file,
      });
    throw err;
  }
}

function writeError(w: CgroupWrite, file: string, err: unknown, containerId: string | undefined): TsruncError {
  const e = err as NodeJS.ErrnoException;
  const why = e.message.replace(/^[A-Z]+: /, '').replace(/, .*$/, '');
  return new TsruncError(
    'system',
    `${w.pointer}: writing ${JSON.stringify(w.value)} to ${file}: ${e.code ?? ''} ${why}`.trim(),
    { containerId, cause: err },
  );
}
