// Linux CPU (and memory node) lists as the kernel writes them, "0-3,7": cpuset files,
// systemd's AllowedCPUs, process.execCPUAffinity.

/** The numbers of a list ("0-3,7" → 0,1,2,3,7), each at most `max`; an Error saying what is wrong otherwise. */
export function parseCpuList(list: string, max: number, what: 'cpuset' | 'node' = 'cpuset'): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part.trim() === '') continue;
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (m === null) throw new Error(`invalid ${what} list ${JSON.stringify(list)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to > max)
      throw new Error(`invalid ${what} range ${JSON.stringify(part.trim())}${to > max ? ` (at most ${max})` : ''}`);
    for (let i = from; i <= to; i++) out.push(i);
  }
  return out;
}
