// The mount points a restore needs in the rootfs (runc's prepareCriuRestoreMounts): CRIU mounts
// the container's mounts again at their places and fails where one is missing ("Can't stat
// mountpoint …/etc/hosts"), as it is in a rootfs other than the one dumped (an exported
// checkpoint imported into a new container). Made as create would make them: a file for a bind
// of a file, else a directory; none under a tmpfs (CRIU restores a tmpfs's contents itself) and
// none for a cgroup mount. Paths are resolved inside the rootfs: a symlink in the image never
// leads out of it (an absolute one is taken from the rootfs, ".." stops at it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, systemError } from '../errors';
import { isBindMount } from '../spec/mounts';
import type { Spec } from '../spec/types';

const MAX_LINKS = 40;

/** `p` (a path in the container) as a host path inside `root`, symlinks resolved within it; components that do not exist are kept as given. */
export function resolveInRoot(root: string, p: string): string {
  const pending = p.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const comp = pending.shift() as string;
    if (comp === '..') {
      done.pop();
      continue;
    }
    const here = path.join(root, ...done, comp);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(here);
    } catch {
      done.push(comp, ...pending.filter((c) => c !== '..'));
      // (what does not exist is created as named: no ".." past it)
      return path.join(root, ...done);
    }
    if (!st.isSymbolicLink()) {
      done.push(comp);
      continue;
    }
    if (++links > MAX_LINKS)
      throw new TsruncError('system', `too many symlinks resolving ${p} in ${root}`, { errno: 'ELOOP' });
    const target = fs.readlinkSync(here);
    const parts = target.split('/').filter((c) => c !== '' && c !== '.');
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...parts);
  }
  return path.join(root, ...done);
}

function underAny(dest: string, prefixes: string[]): boolean {
  return prefixes.some((t) => dest === t || dest.startsWith(t.endsWith('/') ? t : `${t}/`));
}

/** Makes each mount point the spec's mounts need in `rootfs` (see above). */
export function prepareRestoreMountpoints(spec: Spec, rootfs: string, bundle: string, id: string): void {
  const norm = (d: string): string => path.posix.normalize(path.posix.join('/', d));
  const tmpfs = (spec.mounts ?? []).filter((m) => m.type === 'tmpfs').map((m) => norm(m.destination));
  for (const m of spec.mounts ?? []) {
    const dest = norm(m.destination);
    if (
      m.type === 'cgroup' ||
      dest === '/' ||
      underAny(
        dest,
        tmpfs.filter((t) => t !== dest),
      )
    )
      continue;
    let file = false;
    if (isBindMount(m)) {
      try {
        file = !fs.statSync(path.resolve(bundle, m.source ?? '')).isDirectory();
      } catch {
        continue; // (a missing source is create's error, reported by the config check)
      }
    }
    try {
      const host = resolveInRoot(rootfs, dest);
      if (fs.existsSync(host)) continue;
      fs.mkdirSync(file ? path.dirname(host) : host, { recursive: true, mode: 0o755 });
      if (file)
        fs.closeSync(fs.openSync(host, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o755));
    } catch (err) {
      if (err instanceof TsruncError) throw err;
      throw systemError(`making the mount point ${dest} in the rootfs for the restore`, err, id);
    }
  }
}
