// The host facts a plan depends on (src/plan/host-facts.ts), read here, on the host, once per
// create or exec: the planners read nothing of the host themselves.
import * as fs from 'node:fs';
import { TsruncError } from '../errors';
import { native } from '../native/addon';
import type { HostFacts, HostMount, ProcessHostFacts } from '../plan/host-facts';
import { bindSources } from '../plan/planner';
import type { Spec } from '../spec/types';
import { inUserNamespace } from '../util/rootless';
import { inspectNetDevices } from './net-devices';

let capLastCap: number | undefined;

/** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
export function hostCapLastCap(): number {
  if (capLastCap === undefined) {
    let text: string;
    try {
      text = fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8');
    } catch (err) {
      throw new TsruncError('system', `reading /proc/sys/kernel/cap_last_cap: ${(err as Error).message}`);
    }
    const n = Number(text.trim());
    if (!Number.isInteger(n) || n < 0 || n > 63)
      throw new TsruncError('system', '/proc/sys/kernel/cap_last_cap does not hold a capability number (0..63)');
    capLastCap = n;
  }
  return capLastCap;
}

/** systemd socket activation: LISTEN_FDS given to the runtime are passed on, as runc does. */
export function listenFds(): number {
  const listen = Number(process.env['LISTEN_FDS'] ?? 0);
  return Number.isInteger(listen) && listen > 0 ? listen : 0;
}

/** /proc/self/mountinfo's mount points (with "\040" read as the space it stands for) and filesystem types. */
export function parseMountInfo(text: string): HostMount[] {
  const out: HostMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const mountPoint = fields[4]?.replace(/\\040/g, ' ');
    if (mountPoint === undefined) continue;
    const sep = fields.indexOf('-');
    out.push({ mountPoint, fstype: sep > 0 ? (fields[sep + 1] ?? '') : '' });
  }
  return out;
}

/** What the steps of any process depend on (exec's whole plan; part of create's). */
export function gatherProcessHostFacts(): ProcessHostFacts {
  return {
    capLastCap: hostCapLastCap(),
    selinux: fs.existsSync('/sys/fs/selinux/enforce'),
    apparmor: fs.existsSync('/sys/kernel/security/apparmor'),
    compileSeccomp: (input) => native().compileSeccomp(input),
  };
}

/** What the plan of a container with this config depends on; `cgroups` as src/cgroups resolved them. */
export function gatherHostFacts(
  spec: Spec,
  bundle: string,
  cgroups: HostFacts['cgroups'],
  /** Bind sources that are directories by the time the plan runs, though not yet. */
  dirsToBe: string[] = [],
): HostFacts {
  const sources = new Map<string, 'dir' | 'file'>(dirsToBe.map((d) => [d, 'dir']));
  for (const source of bindSources(spec, bundle)) {
    if (sources.has(source)) continue;
    try {
      sources.set(source, fs.statSync(source).isDirectory() ? 'dir' : 'file');
    } catch {
      // (absent from the map: the planner names the mount whose source does not exist)
    }
  }
  let mounts: HostMount[] | undefined;
  return {
    ...gatherProcessHostFacts(),
    // Read on first use, once: only --no-pivot and a shared rootfsPropagation look at it.
    get mounts(): HostMount[] {
      return (mounts ??= parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')));
    },
    bindSources: sources,
    procKcore: fs.existsSync('/proc/kcore'),
    listenFds: listenFds(),
    rootlessEuid: (process.geteuid?.() ?? 0) !== 0,
    runtimeInUserNamespace: inUserNamespace(),
    cgroups,
    netDevices: inspectNetDevices(spec),
  };
}
