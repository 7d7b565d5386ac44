// `ps`: the container's processes, as host pids (JSON) or as ps(1) lines.
import { spawnSync } from 'node:child_process';
import { TsruncError } from '../errors';
import { requireCgroups } from '../cgroups';
import type { ContainerHandle } from '../state/store';

export function containerPids(handle: ContainerHandle): number[] {
  const record = handle.read();
  return requireCgroups(record, record.id, 'ps').pids();
}

/** Runs `ps` with the caller's arguments (default -ef) and keeps the header and our lines. */
export function psTable(pids: number[], psArgs: string[]): string {
  const r = spawnSync('ps', psArgs.length > 0 ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.error !== undefined) throw new TsruncError('system', `exec: "ps": ${r.error.message}`);
  // runc's message: the status, then everything ps said.
  if (r.status !== 0)
    throw new TsruncError(
      'system',
      `${r.status === null ? `signal: ${r.signal ?? 'unknown'}` : `exit status ${r.status}`}: ${r.stdout}${r.stderr}`,
    );
  const lines = r.stdout.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new TsruncError('system', "couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const rows = lines.slice(1).filter((l) => l.trim() !== '' && wanted.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...rows].join('\n') + '\n';
}
