// linux.netDevices, the runtime's half (runc 1.4's setupNetworkDevices and devChangeNetNamespace).
// Before planning, each host interface is read here (HostFacts.netDevices: its index and the
// permanent global addresses runc keeps). At the init's 'net-devices' sync point — its network
// namespace just made or joined, before its mounts and any hook (the planner says where) — each
// interface is moved into that namespace and renamed in the same RTM_NEWLINK, from the host side:
// the runtime holds an fd of the namespace and never enters it. The init then adds the addresses
// and sets each link up (the plan's 'net-device' steps), inside, with the capabilities it has
// over that namespace there (runc does this from the host side too, through a socket it opens in
// the namespace).
//
// Afterwards the runtime leaves them alone, as runc does and runtime-spec 1.3 requires ("The
// runtime MUST NOT attempt to move the interface out of the namespace before deletion"): when
// the namespace is freed the kernel moves physical interfaces back to the initial namespace
// (under the name they had inside, or devN when that is taken there) and destroys virtual ones
// (veth, dummy, macvlan, ...). A joined namespace keeps them. Only a create that fails moves
// them back itself, to where they came from, as if it had never been tried (runtime.md's rule
// for errors; runc leaves that to the kernel too): a helper tsrunc-init joins the namespace by
// the runtime's fd and moves each device back under its host name, and the runtime gives it its
// addresses and link state again.
import * as fs from 'node:fs';
import { TsruncError, isErrno, systemError } from '../errors';
import type { Logger } from '../log';
import { native } from '../native/addon';
import type { HostNetDevice } from '../plan/host-facts';
import { buildNetDeviceReturnPlan } from '../plan/net-device-return';
import type { Plan, PlanStep } from '../plan/steps';
import { netDevicePointer } from '../spec/net-devices';
import type { Spec } from '../spec/types';
import { isSameProcessAlive, readProcStat } from '../state/proc';
import { ChildSession } from './session';

type NetDeviceStep = Extract<PlanStep, { op: 'net-device' }>;

const RT_SCOPE_UNIVERSE = 0;

/** The host interface `name` as the runtime sees it now; undefined when there is none. */
export function inspectNetDevice(name: string): HostNetDevice | undefined {
  let found;
  try {
    found = native().netdevInspect(name);
  } catch (err) {
    if (isErrno(err, 'ENODEV')) return undefined;
    throw systemError(`${netDevicePointer(name)}: reading the host's network interface ${name}`, err);
  }
  return {
    index: found.index,
    name: found.name,
    up: found.up,
    // (runc's rule: permanent addresses only, of global scope; link-local ones the kernel makes again)
    addresses: found.addresses.filter((a) => a.permanent && a.scope === RT_SCOPE_UNIVERSE).map((a) => a.address),
  };
}

/** HostFacts.netDevices: each interface linux.netDevices names, as it is now. */
export function inspectNetDevices(spec: Spec): Map<string, HostNetDevice> {
  const out = new Map<string, HostNetDevice>();
  for (const name of Object.keys(spec.linux?.netDevices ?? {})) {
    const device = inspectNetDevice(name);
    if (device !== undefined) out.set(name, device);
  }
  return out;
}

/** Moves a plan's network devices in, and back out when the create fails. */
export class NetDeviceMover {
  /** The container's network namespace, held from the move until create ends. */
  private netns = -1;
  /** What is inside (a refused rename leaves a device inside under its host name). */
  private readonly moved: { step: NetDeviceStep; nameInside: string; wasUp: boolean }[] = [];
  private readonly steps: NetDeviceStep[];

  constructor(
    plan: Plan,
    private readonly containerId: string,
  ) {
    this.steps = plan.steps.filter((s): s is NetDeviceStep => s.op === 'net-device');
  }

  get planned(): boolean {
    return this.steps.length > 0;
  }

  /**
   * The init's 'net-devices' sync point: `pid` (the init, waiting for the ack) is in the
   * container's network namespace. Each device is checked to be the one planned (same index,
   * same addresses) and moved; the first refusal ends the create (the cleanup moves back what
   * moved before it).
   */
  moveIn(pid: number): void {
    this.netns = this.openNetns(pid);
    const n = native();
    for (const step of this.steps) {
      const at = netDevicePointer(step.hostName);
      const now = inspectNetDevice(step.hostName);
      if (now === undefined)
        throw new TsruncError('system', `${at}: the host has no network interface ${step.hostName} any more`, {
          containerId: this.containerId,
        });
      if (now.index !== step.index || now.name !== step.hostName)
        throw new TsruncError(
          'system',
          `${at}: the host's network interface ${step.hostName} changed while the container was created (index ${step.index}, now ${now.index} named ${now.name})`,
          { containerId: this.containerId },
        );
      if (now.addresses.join(' ') !== step.addresses.join(' '))
        throw new TsruncError(
          'system',
          `${at}: the addresses of ${step.hostName} changed while the container was created (${step.addresses.join(', ') || 'none'}, now ${now.addresses.join(', ') || 'none'})`,
          { containerId: this.containerId },
        );
      try {
        // (the new name goes in the same message, as runc sends it: no moment where the device
        // has a name that could clash, and a template's number is the kernel's choice)
        n.netdevMove(step.index, step.name, this.netns);
      } catch (err) {
        // The kernel moves the device, then renames it: a name taken inside leaves it there
        // under its host name.
        if (inspectNetDevice(step.hostName)?.index !== step.index)
          this.moved.push({ step, nameInside: step.hostName, wasUp: now.up });
        throw systemError(
          `${at}: moving ${step.hostName} into the container's network namespace${step.name === step.hostName ? '' : ` as ${step.name}`}`,
          err,
          this.containerId,
        );
      }
      this.moved.push({ step, nameInside: step.name, wasUp: now.up });
    }
  }

  /**
   * The container's network namespace, from its init (still waiting for our ack, so the pid is
   * its own: checked after the open), and never the runtime's own: moving a device "into" it
   * would only rename it on the host.
   */
  private openNetns(pid: number): number {
    const startTime = readProcStat(pid)?.startTime ?? -1;
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${pid}/ns/net`, 'r');
    } catch (err) {
      throw systemError("opening the container's network namespace", err, this.containerId);
    }
    const mine = fs.statSync('/proc/self/ns/net');
    const its = fs.fstatSync(fd);
    let refusal: string | undefined;
    if (!isSameProcessAlive(pid, startTime)) refusal = 'the container process exited during setup';
    else if (its.ino === mine.ino && its.dev === mine.dev)
      refusal =
        "/linux/netDevices: the container's network namespace is the runtime's own; refusing to move network devices";
    if (refusal !== undefined) {
      fs.closeSync(fd);
      throw new TsruncError('system', refusal, { containerId: this.containerId });
    }
    return fd;
  }

  /**
   * A failed create (after its init was killed; the namespace lives on while this holds it):
   * each device moved in goes back to the runtime's network namespace under its host name, with
   * its addresses, and up if it was. What cannot be undone is logged; the kernel then deals
   * with that device when the namespace goes.
   */
  returnAll(log: Logger): void {
    if (this.netns < 0) return;
    for (const { step, nameInside, wasUp } of this.moved.splice(0).reverse()) {
      try {
        this.moveBack(step, nameInside);
      } catch (err) {
        log.warn(
          `${netDevicePointer(step.hostName)}: moving ${nameInside} back to the host as ${step.hostName}: ${(err as Error).message} (the kernel destroys a virtual device, and returns a physical one under its name inside, when the container's network namespace goes)`,
        );
        continue;
      }
      try {
        const back = inspectNetDevice(step.hostName);
        if (back === undefined) throw new Error('it is not on the host');
        native().netdevConfigure(back.index, step.addresses, wasUp);
      } catch (err) {
        log.warn(
          `${netDevicePointer(step.hostName)}: giving ${step.hostName} back its addresses and link state: ${(err as Error).message}`,
        );
      }
    }
  }

  /** A tsrunc-init of its own joins the namespace (by our fd) and moves the device out to ours. */
  private moveBack(step: NetDeviceStep, nameInside: string): void {
    const plan = buildNetDeviceReturnPlan(this.containerId, { ...step, name: nameInside });
    const session = new ChildSession(plan, this.containerId);
    const given = {
      'ns-network': fs.openSync(`/proc/self/fd/${this.netns}`, 'r'),
      'host-network': fs.openSync('/proc/self/ns/net', 'r'),
    };
    try {
      session.run(given, (tag) => {
        throw new TsruncError('system', `unexpected sync point ${tag}`, { containerId: this.containerId });
      });
    } finally {
      session.kill();
    }
  }

  /** Create is over (either way): the devices are the namespace's now. */
  release(): void {
    if (this.netns >= 0) fs.closeSync(this.netns);
    this.netns = -1;
  }
}
