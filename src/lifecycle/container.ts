// Helpers shared by the lifecycle commands: waiting for a process to go.
import { isSameProcessAlive } from '../state/proc';
import { sleepMs } from '../util/sleep';

/** Waits until the process is gone (or a zombie); false when it outlives the timeout. */
export function waitForExit(pid: number, startTime: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (isSameProcessAlive(pid, startTime)) {
    if (Date.now() > deadline) return false;
    sleepMs(delay);
    delay = Math.min(delay * 2, 50);
  }
  return true;
}
