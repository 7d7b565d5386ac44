// What the native executor can carry out today, as `features` reports it. Only features.ts
// reads this: validation and the planner refuse what tsrunc lacks each on their own.
import { HOOK_NAMES, NAMESPACE_TYPES } from '../spec/types';

export const EXECUTOR_SUPPORT = {
  namespaces: [...NAMESPACE_TYPES].sort() as readonly string[],
  hooks: [...HOOK_NAMES] as readonly string[],
  /** Cgroups on v1, v2 and hybrid hosts: created, joined, given their limits and device rules (src/cgroups); the cgroupfs driver only. */
  cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
  seccomp: true,
};
