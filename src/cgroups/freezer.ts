// Freezing and thawing a container's cgroup: v1 freezer.state, v2 cgroup.freeze (waiting
// until the kernel reports the new state, so `pause` returns with every process stopped).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError } from '../errors';
import { sleepMs } from '../util/sleep';
import type { CgroupPaths } from './hierarchy';

function freezerOf(paths: CgroupPaths): { kind: 'v1' | 'v2'; dir: string } | undefined {
  if (paths['freezer'] !== undefined) return { kind: 'v1', dir: paths['freezer'] };
  for (const [key, dir] of Object.entries(paths)) {
    if ((key === '' || key === 'unified') && fs.existsSync(path.join(dir, 'cgroup.freeze'))) return { kind: 'v2', dir };
  }
  return undefined;
}

export function setFrozen(paths: CgroupPaths, frozen: boolean, containerId: string): void {
  const f = freezerOf(paths);
  if (f === undefined)
    throw new TsruncError('system', 'no freezer cgroup for this container (neither v1 freezer nor cgroup.freeze)', {
      containerId,
    });
  const deadline = Date.now() + 10_000;
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    if (f.kind === 'v1') {
      fs.writeFileSync(path.join(f.dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
      const state = fs.readFileSync(path.join(f.dir, 'freezer.state'), 'utf8').trim();
      if (state === (frozen ? 'FROZEN' : 'THAWED')) return;
    } else {
      fs.writeFileSync(path.join(f.dir, 'cgroup.freeze'), frozen ? '1' : '0');
      if (/^frozen 1$/m.test(fs.readFileSync(path.join(f.dir, 'cgroup.events'), 'utf8')) === frozen) return;
    }
    if (Date.now() > deadline)
      throw new TsruncError('system', `timed out ${frozen ? 'freezing' : 'thawing'} the container's cgroup`, {
        containerId,
      });
    sleepMs(delay);
  }
}

/** true when the container's cgroup is frozen (read live, never from the state file). */
export function isFrozen(paths: CgroupPaths): boolean {
  const f = freezerOf(paths);
  if (f === undefined) return false;
  try {
    if (f.kind === 'v1') return fs.readFileSync(path.join(f.dir, 'freezer.state'), 'utf8').trim() === 'FROZEN';
    return /^frozen 1$/m.test(fs.readFileSync(path.join(f.dir, 'cgroup.events'), 'utf8'));
  } catch {
    return false;
  }
}

export function isFreezable(paths: CgroupPaths): boolean {
  return freezerOf(paths) !== undefined;
}
