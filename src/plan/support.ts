// What the native executor can carry out today. `features` reports exactly this, and the
// planner refuses configs that need more, so the two cannot drift apart.
import { HOOK_NAMES, NAMESPACE_TYPES } from '../spec/types';

export const EXECUTOR_SUPPORT = {
  namespaces: [...NAMESPACE_TYPES].sort() as readonly string[],
  hooks: [...HOOK_NAMES] as readonly string[],
  seccomp: true,
};
