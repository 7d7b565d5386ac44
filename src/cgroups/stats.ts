// Statistics of a container's cgroups in runc's `events` shape (cpu, memory, pids, blkio,
// hugetlb), read from v1 or v2 files, whichever hierarchy serves each controller.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CgroupHierarchy, CgroupPaths } from './hierarchy';
import { hierarchyFor } from './resources';

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface MemoryEntry {
  limit: Count;
  usage?: Count;
  max?: Count;
  failcnt: Count;
}

export interface Stats {
  cpu: {
    usage: { total: Count; percpu?: number[]; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: Count; limit?: Count };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, { usage?: Count; max?: Count; failcnt: Count }>;
}

function read(dir: string | undefined, file: string): string | undefined {
  if (dir === undefined) return undefined;
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Counters are uint64: past 2^53 they stay exact as bigint (written by lifecycle/events.ts's eventJson). */
export type Count = number | bigint;

function num(dir: string | undefined, file: string): Count | undefined {
  const t = read(dir, file);
  if (t === undefined) return undefined;
  if (t === 'max') return 0; // unlimited, as runc reports it
  if (!/^[0-9]+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

function keyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.split(/\s+/);
    if (k !== undefined && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

const USER_HZ = 100;

export function readStats(paths: CgroupPaths, hierarchies: CgroupHierarchy[]): Stats {
  const dirOf = (controller: string): { dir: string | undefined; v: 1 | 2 } => {
    const h = hierarchyFor(controller, hierarchies);
    return { dir: h === undefined ? undefined : paths[h.key], v: h?.version ?? 1 };
  };
  const stats: Stats = {
    cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: {} },
    memory: {
      usage: { limit: 0, failcnt: 0 },
      swap: { limit: 0, failcnt: 0 },
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
    },
    pids: {},
    blkio: {},
    hugetlb: {},
  };

  const cpuacct = dirOf('cpuacct');
  const cpu = dirOf('cpu');
  if (cpu.v === 2) {
    const st = keyed(read(cpu.dir, 'cpu.stat'));
    stats.cpu.usage = {
      total: (st['usage_usec'] ?? 0) * 1000,
      user: (st['user_usec'] ?? 0) * 1000,
      kernel: (st['system_usec'] ?? 0) * 1000,
    };
    stats.cpu.throttling = {
      periods: st['nr_periods'] ?? 0,
      throttledPeriods: st['nr_throttled'] ?? 0,
      throttledTime: (st['throttled_usec'] ?? 0) * 1000,
    };
  } else {
    const acct = keyed(read(cpuacct.dir, 'cpuacct.stat'));
    stats.cpu.usage = {
      total: num(cpuacct.dir, 'cpuacct.usage') ?? 0,
      percpu: (read(cpuacct.dir, 'cpuacct.usage_percpu') ?? '').split(/\s+/).filter(Boolean).map(Number),
      user: ((acct['user'] ?? 0) * 1e9) / USER_HZ,
      kernel: ((acct['system'] ?? 0) * 1e9) / USER_HZ,
    };
    const st = keyed(read(cpu.dir, 'cpu.stat'));
    stats.cpu.throttling = {
      periods: st['nr_periods'] ?? 0,
      throttledPeriods: st['nr_throttled'] ?? 0,
      throttledTime: st['throttled_time'] ?? 0,
    };
  }

  const mem = dirOf('memory');
  if (mem.v === 2) {
    const raw = keyed(read(mem.dir, 'memory.stat'));
    stats.memory = {
      cache: raw['file'] ?? 0,
      usage: {
        usage: num(mem.dir, 'memory.current') ?? 0,
        max: num(mem.dir, 'memory.peak') ?? 0,
        limit: num(mem.dir, 'memory.max') ?? 0,
        failcnt: keyed(read(mem.dir, 'memory.events'))['max'] ?? 0,
      },
      swap: {
        usage: num(mem.dir, 'memory.swap.current') ?? 0,
        limit: num(mem.dir, 'memory.swap.max') ?? 0,
        failcnt: 0,
      },
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      raw,
    };
  } else if (mem.dir !== undefined) {
    const entry = (prefix: string): MemoryEntry => ({
      usage: num(mem.dir, `${prefix}.usage_in_bytes`) ?? 0,
      max: num(mem.dir, `${prefix}.max_usage_in_bytes`) ?? 0,
      limit: num(mem.dir, `${prefix}.limit_in_bytes`) ?? 0,
      failcnt: num(mem.dir, `${prefix}.failcnt`) ?? 0,
    });
    const raw = keyed(read(mem.dir, 'memory.stat'));
    stats.memory = {
      cache: raw['cache'] ?? 0,
      usage: entry('memory'),
      swap: entry('memory.memsw'),
      kernel: entry('memory.kmem'),
      kernelTCP: entry('memory.kmem.tcp'),
      raw,
    };
  }

  const pids = dirOf('pids');
  const current = num(pids.dir, 'pids.current');
  if (current !== undefined) stats.pids = { current, limit: num(pids.dir, 'pids.max') ?? 0 };

  const blkio = hierarchies.find((h) => h.version === 1 && h.controllers.includes('blkio'));
  if (blkio !== undefined) {
    const parse = (file: string): BlkioEntry[] =>
      (read(paths[blkio.key], file) ?? '')
        .split('\n')
        .map((l) => l.split(/\s+/))
        .filter((f) => f.length === 3 && /^\d+:\d+$/.test(f[0] ?? ''))
        .map(([dev, op, value]) => ({
          major: Number(dev!.split(':')[0]),
          minor: Number(dev!.split(':')[1]),
          op: op!,
          value: Number(value),
        }));
    stats.blkio = {
      ioServiceBytesRecursive: parse('blkio.throttle.io_service_bytes_recursive'),
      ioServicedRecursive: parse('blkio.throttle.io_serviced_recursive'),
    };
  } else {
    const io = dirOf('io');
    const bytes: BlkioEntry[] = [];
    const ops: BlkioEntry[] = [];
    for (const line of (read(io.dir, 'io.stat') ?? '').split('\n')) {
      const [dev, ...kvs] = line.split(/\s+/);
      if (dev === undefined || !/^\d+:\d+$/.test(dev)) continue;
      const [major, minor] = dev.split(':').map(Number) as [number, number];
      const kv = Object.fromEntries(kvs.map((x) => x.split('=')).map(([k, v]) => [k, Number(v)]));
      bytes.push(
        { major, minor, op: 'Read', value: kv['rbytes'] ?? 0 },
        { major, minor, op: 'Write', value: kv['wbytes'] ?? 0 },
      );
      ops.push(
        { major, minor, op: 'Read', value: kv['rios'] ?? 0 },
        { major, minor, op: 'Write', value: kv['wios'] ?? 0 },
      );
    }
    stats.blkio = { ioServiceBytesRecursive: bytes, ioServicedRecursive: ops };
  }

  const huge = dirOf('hugetlb');
  if (huge.dir !== undefined) {
    for (const f of fs.readdirSync(huge.dir)) {
      const m = huge.v === 1 ? /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(f) : /^hugetlb\.([^.]+)\.current$/.exec(f);
      if (m === null) continue;
      const size = m[1] as string;
      stats.hugetlb[size] =
        huge.v === 1
          ? {
              usage: num(huge.dir, f) ?? 0,
              max: num(huge.dir, `hugetlb.${size}.max_usage_in_bytes`) ?? 0,
              failcnt: num(huge.dir, `hugetlb.${size}.failcnt`) ?? 0,
            }
          : {
              usage: num(huge.dir, f) ?? 0,
              max: 0,
              failcnt: keyed(read(huge.dir, `hugetlb.${size}.events`))['max'] ?? 0,
            };
    }
  }
  return stats;
}

/** The count of OOM kills so far (v1 memory.oom_control, v2 memory.events). */
export function oomKills(paths: CgroupPaths, hierarchies: CgroupHierarchy[]): number {
  const h = hierarchyFor('memory', hierarchies);
  if (h === undefined) return 0;
  const dir = paths[h.key];
  const text = read(dir, h.version === 1 ? 'memory.oom_control' : 'memory.events');
  const k = keyed(text);
  return k['oom_kill'] ?? 0;
}
