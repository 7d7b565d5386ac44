// Rootless: what running without the host's root changes, decided as runc decides it. Two
// things are separate there and here: the effective uid not being 0 ("rootless euid": a user
// namespace is required, id maps are limited, the state lives in $XDG_RUNTIME_DIR) and the
// rootless cgroup manager (--rootless, else auto: a cgroup that cannot be created for lack of
// permission is done without, unless the config asks for limits).
import * as fs from 'node:fs';

/** What the decisions depend on, read once from the process (or made up by a test). */
export interface RootlessFacts {
  euid: number;
  egid: number;
  /** This process is in a user namespace other than the host's (/proc/self/uid_map maps less than everything). */
  inUserNamespace: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/** This process's facts; /proc/self/uid_map is read only if a decision asks for it (every command computes the default root). */
export function processRootlessFacts(): RootlessFacts {
  let userns: boolean | undefined;
  return {
    euid: process.geteuid?.() ?? 0,
    egid: process.getegid?.() ?? 0,
    get inUserNamespace(): boolean {
      return (userns ??= inUserNamespace());
    },
    env: process.env,
  };
}

/** The host's user namespace maps every id: "0 0 4294967295". */
export function inUserNamespace(uidMap?: string): boolean {
  let text = uidMap;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/uid_map', 'utf8');
    } catch {
      return false;
    }
  }
  const fields = text.trim().split(/\s+/);
  return !(fields.length === 3 && fields[0] === '0' && fields[1] === '0' && fields[2] === '4294967295');
}

export const ROOT_STATE_DIR = '/run/tsrunc';

/**
 * The default --root: /run/tsrunc, or $XDG_RUNTIME_DIR/tsrunc where runc would use
 * $XDG_RUNTIME_DIR/runc — for an ordinary user, and for root inside a user namespace unless
 * USER says root (runc's shouldHonorXDGRuntimeDir: `!ok || u != "root"`; rootless podman's
 * conmon runs the runtime as root of its user namespace with XDG_RUNTIME_DIR and no USER).
 */
export function defaultRoot(f: RootlessFacts = processRootlessFacts()): string {
  const xdg = f.env['XDG_RUNTIME_DIR'];
  if (xdg === undefined || xdg === '') return ROOT_STATE_DIR;
  if (f.euid !== 0) return `${xdg.replace(/\/+$/, '')}/tsrunc`;
  if (f.inUserNamespace && f.env['USER'] !== 'root') return `${xdg.replace(/\/+$/, '')}/tsrunc`;
  return ROOT_STATE_DIR;
}

/**
 * runc's shouldUseRootlessCgroupManager: --rootless true or false decides; auto is rootless
 * for an ordinary user, and for root in a user namespace with the cgroupfs driver (with the
 * systemd driver runc asks the user bus whose it is and takes root's when it cannot tell; tsrunc
 * keeps the system's there).
 */
export function useRootlessCgroups(flag: 'true' | 'false' | 'auto', f: RootlessFacts, systemd: boolean): boolean {
  if (flag === 'true') return true;
  if (flag === 'false') return false;
  if (f.euid !== 0) return true;
  return !systemd && f.inUserNamespace;
}
