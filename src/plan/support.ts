// What the native executor can carry out today, as `features` reports it. Only features.ts
// reads this: validation and the planner refuse what tsrunc lacks each on their own.
import { HOOK_NAMES, NAMESPACE_TYPES } from '../spec/types';

export const EXECUTOR_SUPPORT = {
  namespaces: [...NAMESPACE_TYPES].sort() as readonly string[],
  hooks: [...HOOK_NAMES] as readonly string[],
  seccomp: true,
};
