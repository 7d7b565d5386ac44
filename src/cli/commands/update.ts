import type { Argv } from 'yargs';
import { UsageError } from '../../errors';
import { parseResources, resourcesFromFlags } from '../../lifecycle/update';
import { KERNEL_MEMORY_IGNORED } from '../../spec/validate';
import { defineCommand, readInput, type GlobalArgs } from '../context';

// Unsigned as in the runtime spec (and runc, which refuses "-5" for these as a parse error);
// a quota, a realtime runtime and a pids limit may be -1 (no limit).
const UNSIGNED = new Set(['blkio-weight', 'cpu-period', 'cpu-share', 'cpu-rt-period']);
const NUMERIC_FLAGS: [string, string][] = [
  ['blkio-weight', 'specifies per cgroup weight, range is from 10 to 1000'],
  ['cpu-period', 'CPU CFS period to be used for hardcapping (in usecs)'],
  ['cpu-quota', 'CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period'],
  ['cpu-share', 'CPU shares (relative weight vs. other containers)'],
  ['cpu-rt-period', 'CPU realtime period to be used for hardcapping (in usecs)'],
  ['cpu-rt-runtime', 'CPU realtime hardcap limit (in usecs)'],
  ['pids-limit', 'maximum number of pids allowed in the container'],
];
const STRING_FLAGS: [string, string][] = [
  ['cpuset-cpus', 'CPU(s) to use'],
  ['cpuset-mems', 'memory node(s) to use'],
  ['kernel-memory', 'kernel memory limit (in bytes)'],
  ['kernel-memory-tcp', 'kernel memory limit for TCP buffer (in bytes)'],
  ['memory', 'memory limit (in bytes)'],
  ['memory-reservation', 'memory reservation or soft limit (in bytes)'],
  ['memory-swap', 'total memory usage (memory + swap); set -1 to enable unlimited swap'],
  ['l3-cache-schema', 'the string of Intel RDT/CAT L3 cache schema'],
  ['mem-bw-schema', 'the string of Intel RDT/MBA memory bandwidth schema'],
];

export type UpdateFlags = { 'container-id': string; resources?: string } & Record<string, string | number | undefined>;

export default defineCommand<UpdateFlags>({
  command: 'update <container-id>',
  describe: 'update container resource constraints',
  builder: (y) => {
    let b = y.positional('container-id', { type: 'string', demandOption: true }).option('resources', {
      alias: 'r',
      type: 'string',
      describe: 'path to a file containing the resources to update, or "-" to read from standard input',
    }) as Argv<GlobalArgs>;
    // Read as text and checked in the handler: yargs makes "abc" NaN and "" 0, silently.
    for (const [name, describe] of NUMERIC_FLAGS) b = b.option(name, { type: 'string', describe });
    for (const [name, describe] of STRING_FLAGS) b = b.option(name, { type: 'string', describe });
    return b as Argv<UpdateFlags & GlobalArgs>;
  },
  handler: (args, ctx) => {
    let resources;
    if (args.resources !== undefined) {
      resources = parseResources(
        readInput(args.resources),
        args.resources === '-' ? 'resources (stdin)' : args.resources,
      );
    } else {
      const num = (k: string): number | undefined => {
        if (args[k] === undefined) return undefined;
        const text = String(args[k]);
        // As runc (strconv.ParseInt): a decimal integer and nothing else.
        if (!/^-?[0-9]+$/.test(text))
          throw new UsageError(`update: invalid value ${JSON.stringify(text)} for --${k}: an integer is required`);
        if (UNSIGNED.has(k) && text.startsWith('-'))
          throw new UsageError(
            `update: invalid value ${JSON.stringify(text)} for --${k}: a non-negative integer is required`,
          );
        // (beyond 2^53 - 1 a double is not the number given, and it would reach the cgroup file as such)
        if (!Number.isSafeInteger(Number(text)))
          throw new UsageError(
            `update: invalid value ${JSON.stringify(text)} for --${k}: out of range (at most ${Number.MAX_SAFE_INTEGER} in magnitude)`,
          );
        return Number(text);
      };
      const str = (k: string): string | undefined => (args[k] === undefined ? undefined : String(args[k]));
      resources = resourcesFromFlags({
        blkioWeight: num('blkio-weight'),
        cpuPeriod: num('cpu-period'),
        cpuQuota: num('cpu-quota'),
        cpuShare: num('cpu-share'),
        cpuRtPeriod: num('cpu-rt-period'),
        cpuRtRuntime: num('cpu-rt-runtime'),
        cpusetCpus: str('cpuset-cpus'),
        cpusetMems: str('cpuset-mems'),
        memory: str('memory'),
        memoryReservation: str('memory-reservation'),
        memorySwap: str('memory-swap'),
        kernelMemoryTcp: str('kernel-memory-tcp'),
        pidsLimit: num('pids-limit'),
        l3CacheSchema: str('l3-cache-schema'),
        memBwSchema: str('mem-bw-schema'),
      });
    }
    if (args['kernel-memory'] !== undefined || resources.memory?.kernel !== undefined)
      ctx.log.warn(KERNEL_MEMORY_IGNORED);
    ctx.runtime.update(args['container-id'], resources);
  },
});
