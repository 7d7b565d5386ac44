// Device cgroup rules as runc 1.1 handles them (libcontainer/cgroups/devices, the "emulator"):
// the rules of a container reduced to the state they leave a devices cgroup in — allow-all
// with deny exceptions, or deny-all with allow exceptions, each exception a (type, major,
// minor) with its set of r/w/m — and, from the state a cgroup is in now (its devices.list),
// the fewest writes that bring it to that state without ever denying in passing what stays
// allowed (runc's "minimal transition"). cgroup v1 gets those writes; the v2 eBPF filter is
// compiled from the same reduced rules, so that both versions enforce one meaning.
//
// Access strings are read as runc reads them: r, w and m, in any order and repeated, any other
// letter ignored ("rwa" is rw, "rrw" is rw). The kernel itself refuses such strings in
// devices.allow, so only the normalised form is ever written.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, TsruncError, systemError } from '../errors';
import type { DeviceCgroupRule } from '../spec/types';

const R = 1;
const W = 2;
const M = 4;

/** r, w and m of an access string as a bit set; other letters are ignored, as runc does. */
export function accessBits(access: string): number {
  let bits = 0;
  for (const ch of access) {
    if (ch === 'r') bits |= R;
    else if (ch === 'w') bits |= W;
    else if (ch === 'm') bits |= M;
  }
  return bits;
}

/** The bit set as cgroup v1 writes it: a subset of "rwm", in that order. */
export function accessString(bits: number): string {
  return `${bits & R ? 'r' : ''}${bits & W ? 'w' : ''}${bits & M ? 'm' : ''}`;
}

interface Meta {
  type: 'b' | 'c';
  /** -1: any */
  major: number;
  /** -1: any */
  minor: number;
}

const keyOf = (m: Meta): string => `${m.type} ${m.major}:${m.minor}`;

function ruleString(type: string, major: number, minor: number, bits: number): string {
  return `${type} ${major < 0 ? '*' : major}:${minor < 0 ? '*' : minor} ${accessString(bits)}`;
}

/** Where a rule came from, for the message when it cannot be applied. */
export type RuleSource = (index: number) => string;

export class DeviceRuleError extends Error {}

/**
 * The state of a devices cgroup: allow-all (defaultAllow, "black-list") with deny exceptions,
 * or deny-all with allow exceptions.
 */
export class DeviceEmulator {
  defaultAllow: boolean;
  private readonly rules = new Map<string, { meta: Meta; bits: number }>();

  constructor(defaultAllow = false) {
    this.defaultAllow = defaultAllow;
  }

  /** The state the rules leave a deny-all cgroup in, applied in order (later rules win). */
  static fromRules(
    rules: DeviceCgroupRule[],
    source: RuleSource = (i) => `/linux/resources/devices/${i}`,
  ): DeviceEmulator {
    const e = new DeviceEmulator(false);
    const problems: { pointer: string; message: string }[] = [];
    rules.forEach((rule, i) => {
      try {
        e.apply(rule);
      } catch (err) {
        if (!(err instanceof DeviceRuleError)) throw err;
        problems.push({ pointer: source(i), message: err.message });
      }
    });
    if (problems.length > 0) throw new ConfigError('config.json', problems);
    return e;
  }

  /** The state a v1 devices.list shows ("a *:* rwm" alone: allow-all). */
  static fromList(text: string): DeviceEmulator {
    const e = new DeviceEmulator(false);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
      if (m === null) throw new Error(`malformed devices.list line ${JSON.stringify(line)}`);
      const [, type, major, minor, access] = m as unknown as [string, string, string, string, string];
      if (type === 'a') {
        e.reset(true);
        continue;
      }
      e.allow(
        {
          type: type as 'b' | 'c',
          major: major === '*' ? -1 : Number(major),
          minor: minor === '*' ? -1 : Number(minor),
        },
        accessBits(access),
      );
    }
    return e;
  }

  isBlacklist(): boolean {
    return this.defaultAllow;
  }

  apply(rule: DeviceCgroupRule): void {
    const type = rule.type ?? 'a';
    // (an absent access is all of rwm, as this runtime has always read it)
    const bits = accessBits(rule.access ?? 'rwm');
    if (type === 'a') {
      this.reset(rule.allow);
      return;
    }
    if (type !== 'b' && type !== 'c') throw new DeviceRuleError(`invalid cgroup device type ${JSON.stringify(type)}`);
    const meta: Meta = { type, major: rule.major ?? -1, minor: rule.minor ?? -1 };
    if (meta.major < 0) meta.major = -1;
    if (meta.minor < 0) meta.minor = -1;
    if (rule.allow) this.allow(meta, bits);
    else this.deny(meta, bits);
  }

  private reset(defaultAllow: boolean): void {
    this.defaultAllow = defaultAllow;
    this.rules.clear();
  }

  private allow(meta: Meta, bits: number): void {
    if (this.defaultAllow) this.remove(meta, bits, "removing a 'deny' exception");
    else this.add(meta, bits);
  }

  private deny(meta: Meta, bits: number): void {
    if (this.defaultAllow) this.add(meta, bits);
    else this.remove(meta, bits, "removing an 'allow' exception");
  }

  private add(meta: Meta, bits: number): void {
    if (bits === 0) return;
    const old = this.rules.get(keyOf(meta))?.bits ?? 0;
    this.rules.set(keyOf(meta), { meta, bits: old | bits });
  }

  private remove(meta: Meta, bits: number, what: string): void {
    // cgroup v1 silently ignores a rule that would punch a hole in a wildcard exception;
    // runc refuses it rather than let the rule look enforced.
    for (const partial of [
      { type: meta.type, major: -1, minor: meta.minor },
      { type: meta.type, major: meta.major, minor: -1 },
      { type: meta.type, major: -1, minor: -1 },
    ]) {
      if (keyOf(partial) === keyOf(meta)) continue;
      const wild = this.rules.get(keyOf(partial))?.bits ?? 0;
      if ((wild & bits) !== 0) {
        throw new DeviceRuleError(
          `${what} for ${ruleString(meta.type, meta.major, meta.minor, bits)} would punch a hole in the wildcard rule ${ruleString(partial.type, partial.major, partial.minor, wild)}, which the devices cgroup cannot do (runc refuses it too)`,
        );
      }
    }
    const left = (this.rules.get(keyOf(meta))?.bits ?? 0) & ~bits;
    if (left === 0) this.rules.delete(keyOf(meta));
    else this.rules.set(keyOf(meta), { meta, bits: left });
  }

  /** Exceptions sorted by (major, minor, type), as runc writes them. */
  private ordered(): { meta: Meta; bits: number }[] {
    return [...this.rules.values()].sort(
      (a, b) =>
        a.meta.major - b.meta.major ||
        a.meta.minor - b.meta.minor ||
        (a.meta.type < b.meta.type ? -1 : a.meta.type > b.meta.type ? 1 : 0),
    );
  }

  /**
   * The fewest rules that take a cgroup in this state to `target`: a disruptive "a" rule only
   * when the default must change (or this state is allow-all, whose deny exceptions
   * devices.list does not show), then what is dropped, then what is gained.
   */
  transition(target: DeviceEmulator): DeviceCgroupRule[] {
    const out: DeviceCgroupRule[] = [];
    let old = this.ordered();
    const oldBits = new Map(old.map((r) => [keyOf(r.meta), r.bits]));
    if (this.defaultAllow || this.defaultAllow !== target.defaultAllow) {
      out.push({ allow: target.defaultAllow, type: 'a', major: -1, minor: -1, access: 'rwm' });
      old = [];
      oldBits.clear();
    }
    for (const { meta, bits } of old) {
      const dropped = bits & ~(target.rules.get(keyOf(meta))?.bits ?? 0);
      if (dropped !== 0)
        out.push({
          allow: target.defaultAllow,
          type: meta.type,
          major: meta.major,
          minor: meta.minor,
          access: accessString(dropped),
        });
    }
    for (const { meta, bits } of target.ordered()) {
      const gained = bits & ~(oldBits.get(keyOf(meta)) ?? 0);
      if (gained !== 0)
        out.push({
          allow: !target.defaultAllow,
          type: meta.type,
          major: meta.major,
          minor: meta.minor,
          access: accessString(gained),
        });
    }
    return out;
  }

  /** The reduced rules, from deny-all: what the v2 filter is compiled from. */
  cleanRules(): DeviceCgroupRule[] {
    return new DeviceEmulator(false).transition(this);
  }

  equals(other: DeviceEmulator): boolean {
    if (this.defaultAllow !== other.defaultAllow || this.rules.size !== other.rules.size) return false;
    for (const [k, r] of this.rules) if (other.rules.get(k)?.bits !== r.bits) return false;
    return true;
  }
}

/** A rule as devices.allow / devices.deny take it. */
export function cgroupRuleString(rule: DeviceCgroupRule): string {
  const type = rule.type ?? 'a';
  if (type === 'a') return 'a *:* rwm';
  return ruleString(type, rule.major ?? -1, rule.minor ?? -1, accessBits(rule.access ?? 'rwm'));
}

/**
 * Brings the v1 devices cgroup `dir` to `target` with the minimal transition from what its
 * devices.list shows, then checks that it got there (as runc does). Returns the rules written.
 */
export function applyDeviceRulesV1(dir: string, target: DeviceEmulator, containerId?: string): DeviceCgroupRule[] {
  const current = readDeviceList(dir, containerId);
  const rules = current.transition(target);
  for (const rule of rules) {
    const file = rule.allow ? 'devices.allow' : 'devices.deny';
    try {
      fs.writeFileSync(path.join(dir, file), cgroupRuleString(rule));
    } catch (err) {
      throw systemError(
        `/linux/resources/devices: writing ${JSON.stringify(cgroupRuleString(rule))} to ${file}`,
        err,
        containerId,
      );
    }
  }
  const after = readDeviceList(dir, containerId);
  if (target.isBlacklist() ? !after.isBlacklist() : !after.equals(target)) {
    throw new TsruncError(
      'system',
      `/linux/resources/devices: the devices cgroup ${dir} does not show the rules written to it (devices.list)`,
      { containerId },
    );
  }
  return rules;
}

function readDeviceList(dir: string, containerId: string | undefined): DeviceEmulator {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'devices.list'), 'utf8');
  } catch (err) {
    throw systemError(`reading ${path.join(dir, 'devices.list')}`, err, containerId);
  }
  try {
    return DeviceEmulator.fromList(text);
  } catch (err) {
    throw new TsruncError('system', `${path.join(dir, 'devices.list')}: ${(err as Error).message}`, {
      containerId,
      cause: err,
    });
  }
}
