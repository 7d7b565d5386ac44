// What the native executor can carry out today. `features` reports exactly this, and the
// planner refuses configs that need more, so the two cannot drift apart.
export const EXECUTOR_SUPPORT = {
  namespaces: [] as readonly string[],
  hooks: [] as readonly string[],
  cgroup: { v1: false, v2: false, systemd: false, systemdUser: false, rdma: false },
  seccomp: false,
};
