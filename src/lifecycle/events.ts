// `events`: runc's event stream — {"type":"stats",...} every interval (or once with
// --stats) and {"type":"oom",...} when the kernel OOM-kills a process of the container.
import { containerCgroups, requireCgroups } from '../cgroups';
import { TsruncError } from '../errors';
import { computeStatus } from '../state/status';
import type { StateStore } from '../state/store';

export interface ContainerEvent {
  type: 'stats' | 'oom';
  id: string;
  data?: unknown;
}

/** An event as one line of JSON: bigint counters (cgroup stats) written as plain, exact numbers, as Go's encoder does. */
export function eventJson(event: ContainerEvent): string {
  return JSON.stringify(event, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000big:${v}` : v)).replace(
    /"\\u0000big:([0-9]+)"/g,
    '$1',
  );
}

function snapshot(store: StateStore, id: string) {
  const handle = store.open(id, 'shared');
  try {
    const record = handle.read();
    return { record, status: computeStatus(record, handle.dir) };
  } finally {
    handle.release();
  }
}

export function statsEvent(store: StateStore, id: string): ContainerEvent {
  const { record, status } = snapshot(store, id);
  if (status === 'stopped') throw new TsruncError('state', 'container not running', { containerId: id });
  return { type: 'stats', id, data: requireCgroups(record, id, 'events --stats').stats() };
}

/** Emits events until the container stops. */
export async function streamEvents(
  store: StateStore,
  id: string,
  intervalMs: number,
  emit: (e: ContainerEvent) => void,
): Promise<void> {
  let { record, status } = snapshot(store, id);
  if (status === 'stopped') throw new TsruncError('state', 'container not running', { containerId: id });
  let ooms = requireCgroups(record, id, 'events').oomKills();
  let nextStats = Date.now();
  for (;;) {
    const cgroups = containerCgroups(record, id);
    const kills = cgroups.oomKills();
    if (kills > ooms) emit({ type: 'oom', id });
    ooms = kills;
    if (Date.now() >= nextStats) {
      emit({ type: 'stats', id, data: cgroups.stats() });
      nextStats = Date.now() + intervalMs;
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, 200)));
    try {
      ({ record, status } = snapshot(store, id));
    } catch {
      return; // deleted
    }
    if (status === 'stopped') return;
  }
}

/** Go durations as runc takes them for --interval: 5s, 500ms, 1m, 1h30m. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const m = /^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (m === null) throw new TsruncError('usage', `invalid duration ${JSON.stringify(text)} (e.g. 5s, 500ms)`);
    total += Number(m[1]) * (units[m[2] as string] ?? 1);
    rest = rest.slice(m[0].length);
  }
  if (total <= 0) throw new TsruncError('usage', 'duration must be greater than 0');
  return total;
}
