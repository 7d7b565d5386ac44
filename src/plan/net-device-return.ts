// The plan of the helper that moves a network device back out of a container whose create
// failed (src/lifecycle/net-devices.ts): a tsrunc-init of its own, never the container's init,
// with the runtime's root, joins the container's network namespace by an fd the runtime holds
// and moves the device to the runtime's namespace (the other fd) under its host name.
import type { Plan } from './steps';

export function buildNetDeviceReturnPlan(
  containerId: string,
  device: {
    /** Its name inside (a %d template as planned: the helper finds the device by its index). */ name: string;
    hostName: string;
    /** Its index on the host, which the kernel kept where it could. */ index: number;
  },
): Plan {
  return {
    containerId,
    rootfs: '/',
    preserveFds: 0,
    fds: ['sync', 'ns-network', 'host-network'],
    steps: [
      { op: 'setns', ns: 'network', path: '(held by the runtime)', fdSlot: 1 },
      { op: 'net-device-return', name: device.name, hostName: device.hostName, index: device.index, nsSlot: 2 },
      { op: 'ready' },
    ],
  };
}
