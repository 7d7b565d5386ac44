// What the native executor can carry out today. `features` reports exactly this, and the
// planner refuses configs that need more, so the two cannot drift apart.
import { HOOK_NAMES, NAMESPACE_TYPES } from '../spec/types';

export const EXECUTOR_SUPPORT = {
  namespaces: [...NAMESPACE_TYPES].sort() as readonly string[],
  hooks: [...HOOK_NAMES] as readonly string[],
  /** Cgroup directories are created and joined on v1, v2 and hybrid hosts; limits come later. */
  cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
  seccomp: true,
};
