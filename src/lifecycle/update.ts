// `update`: new limits for a running container, from a LinuxResources JSON document
// (`--resources FILE|-`, what the shims send) or from runc's single flags.
import { requireCgroups } from '../cgroups';
import { ConfigError, TsruncError } from '../errors';
import { parseChecked } from '../spec/json-input';
import type { Resources } from '../spec/types';
import * as validators from '../spec/validators.generated';
import { computeStatus } from '../state/status';
import type { ContainerHandle } from '../state/store';

/** Parses and checks a LinuxResources document; pointers are relative to the document. */
export function parseResources(text: string, file: string): Resources {
  return parseChecked<Resources>(text, file, validators.resources);
}

export function updateContainer(handle: ContainerHandle, resources: Resources): void {
  const record = handle.read();
  const status = computeStatus(record, handle.dir);
  if (status === 'stopped') throw new TsruncError('state', 'container not running', { containerId: record.id });
  // Device rules are not updatable; like runc 1.1, ignore them rather than refuse the update:
  // containerd's CRI plugin sends the container's whole LinuxResources, devices included.
  if (resources.devices !== undefined) {
    const { devices: _ignored, ...rest } = resources;
    resources = rest;
  }
  // As runc's update: a CFS quota or period given alone keeps the other at its current value
  // (cgroup v2 writes both in cpu.max, where a period alone would drop the quota).
  const cpu = resources.cpu;
  const stored = record.config.linux?.resources?.cpu;
  if (cpu !== undefined && (cpu.quota === undefined) !== (cpu.period === undefined)) {
    if (cpu.quota === undefined && stored?.quota !== undefined)
      resources = { ...resources, cpu: { ...cpu, quota: stored.quota } };
    if (cpu.period === undefined && stored?.period !== undefined)
      resources = { ...resources, cpu: { ...cpu, period: stored.period } };
  }
  const cgroups = requireCgroups(record, record.id, 'update');
  if (
    resources.memory?.checkBeforeUpdate === true &&
    resources.memory.limit !== undefined &&
    resources.memory.limit > 0
  ) {
    const usage = cgroups.stats().memory.usage.usage;
    if (usage !== undefined && BigInt(usage) > BigInt(resources.memory.limit)) {
      throw new ConfigError('resources', [
        {
          pointer: '/memory/limit',
          message: `${resources.memory.limit} is below the current usage (${usage}); checkBeforeUpdate refuses it`,
        },
      ]);
    }
  }
  // (the container's device rules are applied again, as runc's update does)
  cgroups.update(resources, record.config);
  const linux = (record.config.linux ??= {});
  linux.resources = mergeResources(linux.resources ?? {}, resources);
  handle.write(record);
}

/** Fields given in `update` replace the stored ones; sections not given stay. */
function mergeResources(base: Resources, update: Resources): Resources {
  const out: Resources = { ...base };
  for (const key of Object.keys(update) as (keyof Resources)[]) {
    const b = base[key];
    const u = update[key];
    if (
      u !== undefined &&
      b !== undefined &&
      typeof u === 'object' &&
      !Array.isArray(u) &&
      typeof b === 'object' &&
      !Array.isArray(b)
    ) {
      (out as Record<string, unknown>)[key] = { ...b, ...u };
    } else {
      (out as Record<string, unknown>)[key] = u;
    }
  }
  return out;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** runc's memory sizes: bytes, or a number with a binary unit (64m, 1.5GiB, 512k); -1 for unlimited. */
export function parseBytes(text: string, flag: string): number {
  if (text === '-1') return -1;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (m === null)
    throw new ConfigError(`--${flag}`, [
      { pointer: '', message: `invalid size ${JSON.stringify(text)} (bytes, or a number with k, m, g, t)` },
    ]);
  const bytes = Math.floor(Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? 1));
  if (!Number.isSafeInteger(bytes))
    throw new ConfigError(`--${flag}`, [
      {
        pointer: '',
        message: `size ${JSON.stringify(text)} is out of range (at most ${Number.MAX_SAFE_INTEGER} bytes)`,
      },
    ]);
  return bytes;
}

export interface UpdateFlags {
  blkioWeight?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShare?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  kernelMemoryTcp?: string;
  pidsLimit?: number;
  l3CacheSchema?: string;
  memBwSchema?: string;
}

export function resourcesFromFlags(f: UpdateFlags): Resources {
  const r: Resources = {};
  const cpu: NonNullable<Resources['cpu']> = {};
  if (f.cpuPeriod !== undefined) cpu.period = f.cpuPeriod;
  if (f.cpuQuota !== undefined) cpu.quota = f.cpuQuota;
  if (f.cpuShare !== undefined) cpu.shares = f.cpuShare;
  if (f.cpuRtPeriod !== undefined) cpu.realtimePeriod = f.cpuRtPeriod;
  if (f.cpuRtRuntime !== undefined) cpu.realtimeRuntime = f.cpuRtRuntime;
  if (f.cpusetCpus !== undefined) cpu.cpus = f.cpusetCpus;
  if (f.cpusetMems !== undefined) cpu.mems = f.cpusetMems;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  const mem: NonNullable<Resources['memory']> = {};
  if (f.memory !== undefined) mem.limit = parseBytes(f.memory, 'memory');
  if (f.memoryReservation !== undefined) mem.reservation = parseBytes(f.memoryReservation, 'memory-reservation');
  if (f.memorySwap !== undefined) mem.swap = parseBytes(f.memorySwap, 'memory-swap');
  if (f.kernelMemoryTcp !== undefined) mem.kernelTCP = parseBytes(f.kernelMemoryTcp, 'kernel-memory-tcp');
  if (Object.keys(mem).length > 0) r.memory = mem;
  if (f.pidsLimit !== undefined) r.pids = { limit: f.pidsLimit };
  if (f.blkioWeight !== undefined) r.blockIO = { weight: f.blkioWeight };
  if (f.l3CacheSchema !== undefined || f.memBwSchema !== undefined)
    throw new ConfigError('--l3-cache-schema', [{ pointer: '', message: 'Intel RDT is not supported by tsrunc' }]);
  return r;
}
