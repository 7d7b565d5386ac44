// What kind of mount a config.json entry is, decided once for validation and the planner.
import type { Mount } from './types';

/** A bind mount: type "bind", or a "bind" or "rbind" option whatever the type (as runc reads it). */
export function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}
