// The mount points a restore makes in the rootfs (src/lifecycle/restore-mounts.ts): inside the
// rootfs whatever its symlinks say, a file for a bind of a file, nothing under a tmpfs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { prepareRestoreMountpoints, resolveInRoot } from '../../src/lifecycle/restore-mounts';
import type { Spec } from '../../src/spec/types';

function tree(t: { teardown(fn: () => void): void }): { root: string; outside: string; bundle: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-restore-mounts-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'rootfs');
  const outside = path.join(dir, 'outside');
  const bundle = path.join(dir, 'bundle');
  for (const d of [root, outside, bundle, path.join(root, 'usr', 'etc')]) fs.mkdirSync(d, { recursive: true });
  fs.symlinkSync('/usr/etc', path.join(root, 'etc')); // absolute: taken from the rootfs
  fs.symlinkSync('../../../outside', path.join(root, 'up')); // ".." stops at the rootfs
  fs.symlinkSync(outside, path.join(root, 'abs-out')); // the host path, read as the rootfs's
  fs.writeFileSync(path.join(bundle, 'hosts'), '127.0.0.1 localhost\n');
  fs.mkdirSync(path.join(bundle, 'data'));
  return { root, outside, bundle };
}

t.test('resolveInRoot keeps every path inside the rootfs', async (t) => {
  const { root } = tree(t);
  t.equal(resolveInRoot(root, '/etc/hosts'), path.join(root, 'usr/etc/hosts'));
  t.equal(resolveInRoot(root, '/up/x'), path.join(root, 'outside/x'));
  t.equal(
    resolveInRoot(root, '/abs-out/x'),
    path.join(root, path.relative('/', path.join(path.dirname(root), 'outside')), 'x'),
  );
  t.equal(resolveInRoot(root, '/../../a'), path.join(root, 'a'));
  fs.symlinkSync('loop', path.join(root, 'loop'));
  t.throws(() => resolveInRoot(root, '/loop/x'), /too many symlinks/);
});

t.test('mount points: a file for a file bind, directories otherwise, none under a tmpfs or for cgroup', async (t) => {
  const { root, outside, bundle } = tree(t);
  const spec = {
    ociVersion: '1.0.2',
    root: { path: root },
    mounts: [
      { destination: '/etc/hosts', type: 'bind', source: 'hosts', options: ['rbind'] },
      { destination: '/data/in', type: 'none', source: 'data', options: ['bind'] },
      { destination: '/up/escape', type: 'bind', source: 'data', options: ['rbind'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/run/secrets', type: 'bind', source: 'data', options: ['rbind'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue' },
    ],
  } as Spec;
  prepareRestoreMountpoints(spec, root, bundle, 'c');
  t.ok(fs.statSync(path.join(root, 'usr/etc/hosts')).isFile(), '/etc/hosts: a file, through the rootfs symlink');
  t.ok(fs.statSync(path.join(root, 'data/in')).isDirectory(), 'a directory bind: a directory');
  t.ok(fs.statSync(path.join(root, 'outside/escape')).isDirectory(), 'made inside the rootfs');
  t.notOk(fs.existsSync(path.join(outside, 'escape')), 'never outside it');
  t.ok(fs.statSync(path.join(root, 'run')).isDirectory(), 'the tmpfs mount point');
  t.notOk(fs.existsSync(path.join(root, 'run/secrets')), 'nothing under a tmpfs (criu restores its contents)');
  t.notOk(fs.existsSync(path.join(root, 'sys/fs/cgroup')), 'nothing for a cgroup mount');
  t.ok(fs.statSync(path.join(root, 'dev/mqueue')).isDirectory(), 'other filesystems: a directory');
});
