// The devices every container gets, in one table, as runc keeps them in specconv.AllowedDevices:
// the nodes the planner creates in a /dev the config does not bind (src/plan/planner.ts) and the
// cgroup rules that let the container use them (src/cgroups/resources.ts).
import type { DeviceCgroupRule } from './types';

export interface DefaultDevice {
  path: string;
  type: 'c';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** The default device nodes, in the order the plan creates them; each is allowed rwm. */
export const DEFAULT_DEVICES: readonly DefaultDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/**
 * Devices every container may use, appended after the config's own rules, as runc 1.1 does:
 * mknod of any device, the default nodes above (`path` names the node a rule comes with), and
 * the devices of a terminal and of tun.
 */
export const DEFAULT_DEVICE_RULES: readonly (DeviceCgroupRule & { path?: string })[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  ...DEFAULT_DEVICES.map((d) => ({
    allow: true,
    type: d.type,
    major: d.major,
    minor: d.minor,
    access: 'rwm',
    path: d.path,
  })),
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // /dev/pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // /dev/net/tun
];
