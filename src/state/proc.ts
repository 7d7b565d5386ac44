// What /proc says about a process: alive or not, and when it started (so that a pid
// reused by another process is not mistaken for the container's init).
import * as fs from 'node:fs';

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  startTime: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0] ?? '?';
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  return { pid, state, ppid, startTime };
}

/** Alive, and the same process as the one recorded (same start time), and not a zombie. */
export function isSameProcessAlive(pid: number, startTime: number): boolean {
  if (pid <= 0) return false;
  const st = readProcStat(pid);
  if (st === undefined) return false;
  if (st.state === 'Z' || st.state === 'X') return false;
  return st.startTime === startTime;
}
