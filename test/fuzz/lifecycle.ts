// Shared parts of the root fuzz tests: slots (a private --root, a bundle, a copy of the busybox
// rootfs and a shared dir each, so that two containers can run side by side) and a leak check
// after a container is gone.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { busyboxRootfs } from '../helpers/container';
import { leftovers } from '../helpers/host';
import { tempDir, type Teardownable } from '../helpers/tsrunc';

export interface Slot {
  root: string;
  bundle: string;
  rootfs: string;
  shared: string;
  log: string;
}

/**
 * `n` slots under one temp dir. Each has its own rootfs copy: configs may mount onto paths
 * that do not exist in it (the runtime creates them) and must not touch the shared rootfs.
 */
export function makeSlots(t: Teardownable, n: number, prefix: string): Slot[] {
  const work = tempDir(t, prefix);
  // A container's root in a user namespace (an unprivileged host uid) must reach its rootfs.
  fs.chmodSync(work, 0o755);
  const source = busyboxRootfs(t);
  return Array.from({ length: n }, (_, i) => {
    const dir = path.join(work, `slot${i}`);
    fs.mkdirSync(dir, { mode: 0o755 });
    execFileSync('cp', ['-a', source, path.join(dir, 'rootfs')]);
    const slot: Slot = {
      root: path.join(dir, 'root'),
      bundle: path.join(dir, 'bundle'),
      rootfs: path.join(dir, 'rootfs'),
      shared: path.join(dir, 'shared'),
      log: path.join(dir, 'log.json'),
    };
    fs.mkdirSync(slot.root, { mode: 0o700 });
    fs.mkdirSync(slot.bundle);
    fs.mkdirSync(slot.shared, { mode: 0o777 });
    return slot;
  });
}

/** What a container `id` left on the host, in its slot: state, cgroups, processes, mounts (also of its rootfs and shared dir). */
export function leaks(slot: Slot, id: string): string[] {
  return leftovers(
    { root: slot.root, id, bundle: slot.bundle },
    { processPaths: [slot.rootfs], mountPaths: [slot.rootfs, slot.shared] },
  );
}
