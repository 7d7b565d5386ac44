// Facts about the host that a plan carries, read here by the runtime on the host: the executor
// reads none of them itself (after pivot_root, a path such as /proc/sys/kernel/cap_last_cap
// would be a file of the image wherever the config mounts no /proc).
import * as fs from 'node:fs';
import { TsruncError } from '../errors';

let capLastCap: number | undefined;

/** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
export function hostCapLastCap(): number {
  if (capLastCap === undefined) {
    let text: string;
    try {
      text = fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8');
    } catch (err) {
      throw new TsruncError('system', `reading /proc/sys/kernel/cap_last_cap: ${(err as Error).message}`);
    }
    const n = Number(text.trim());
    if (!Number.isInteger(n) || n < 0 || n > 63) throw new TsruncError('system', '/proc/sys/kernel/cap_last_cap does not hold a capability number (0..63)');
    capLastCap = n;
  }
  return capLastCap;
}
