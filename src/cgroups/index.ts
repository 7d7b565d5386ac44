// The entry to src/cgroups: modules outside it import from here only (a unit test checks it),
// and what is here is the CgroupManager interface, its types and the driver factory.
export type {
  CgroupDriverName,
  CgroupManager,
  CgroupRecordFields,
  CgroupSetup,
  ExistingCgroups,
  RecordedCgroups,
} from './manager';
export type { CgroupHierarchy, CgroupPaths } from './hierarchy';
export type { Stats } from './stats';
export {
  CGROUP_FEATURES,
  containerCgroups,
  forgetHierarchies,
  requireCgroups,
  selectCgroupDriver,
  type CgroupDriver,
  type CgroupDriverOptions,
} from './driver';
