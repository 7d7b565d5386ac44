// Idmapped mounts (runtime-spec 1.2 mount uidMappings/gidMappings, runc's idmap/ridmap options):
// what a container sees of a host directory bound with a mapping, and what the host sees of the
// files the container makes there. A mapping line "containerID hostID size" is written to the
// uid_map of a user namespace made for the mount (runc 1.2 and crun do the same): containerID is
// the id on the filesystem, hostID the (host) id it is seen as. So for a container whose root is
// host uid 100000, `containerID 1000, hostID 100000` makes its root own, and create, files of uid
// 1000 on the host. Also: the mapping without a user namespace, idmap/ridmap without mappings
// (the container's own), symlinks of the image on the way to the destination or the source, and
// refusals (a clear error naming the pointer, nothing left).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { rootSkipReason, runContainer, testContainer, userNamespace, type TestContainer } from '../helpers/container';
import { hostMountsMentioning, leftovers } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { rootEntries, tempDir, type Teardownable } from '../helpers/tsrunc';
import type { IdMapping, Mount, Spec } from '../../src/spec/types';

const skip = rootSkipReason();
const OVERFLOW = Number(fs.readFileSync('/proc/sys/kernel/overflowuid', 'utf8').trim());

const map = (containerID: number, hostID: number, size: number): IdMapping[] => [{ containerID, hostID, size }];

/** owner:group of a host path (not following a symlink). */
function owner(p: string): string {
  const st = fs.lstatSync(p);
  return `${st.uid}:${st.gid}`;
}

/** A host directory owned by uid:gid (mode 0755 unless given), in a temp dir removed at teardown. */
function volume(t: Teardownable, uid: number, gid: number, mode = 0o755): string {
  const dir = path.join(tempDir(t, 'tsrunc-idmap-vol'), 'vol');
  fs.mkdirSync(dir);
  fs.chownSync(dir, uid, gid);
  fs.chmodSync(dir, mode);
  return dir;
}

function hostFile(dir: string, name: string, uid: number, gid: number): void {
  fs.writeFileSync(path.join(dir, name), `${name}\n`);
  fs.chownSync(path.join(dir, name), uid, gid);
}

/** The container's root may chown (runc's default spec keeps only AUDIT_WRITE, KILL, NET_BIND_SERVICE). */
function withChown(s: Spec): void {
  const caps = s.process!.capabilities!;
  for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_CHOWN'];
}

/** A mount point made in the (copied) rootfs beforehand: the container's root cannot create it in a root-owned rootfs. */
function mountPoint(bundle: string, dest: string): void {
  fs.mkdirSync(path.join(bundle, 'rootfs', dest), { recursive: true });
}

function idmapped(
  source: string,
  destination: string,
  uids: IdMapping[],
  gids: IdMapping[],
  options = ['rbind'],
): Mount {
  return { destination, type: 'bind', source, options, uidMappings: uids, gidMappings: gids };
}

function assertNothingLeft(t: Test, c: TestContainer, more: string[] = []): void {
  t.same(leftovers(c, { mountPaths: more, processPaths: more }), [], 'no state, cgroup, process or mount left');
  t.same(rootEntries(c.root), [], 'nothing under --root');
  t.equal(c.status(), 'missing', 'the container does not exist');
}

t.test(
  'a container whose root is host uid 100000 writes into an idmapped volume: the host sees the mapped ids',
  { skip },
  async (t) => {
    const vol = volume(t, 1000, 2000);
    hostFile(vol, 'hostfile', 1000, 2000);
    hostFile(vol, 'five', 1005, 2006);
    hostFile(vol, 'stranger', 7, 7);
    const r = runContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        withChown(s);
        mountPoint(bundle, 'vol');
        s.mounts!.push(idmapped(vol, '/vol', map(1000, 100000, 65536), map(2000, 100000, 65536)));
        s.process!.args = [
          'sh',
          '-c',
          'stat -c "%n %u:%g" /vol/hostfile /vol/five /vol/stranger && touch /vol/made && mkdir /vol/dir && touch /vol/given && chown 5:6 /vol/given && stat -c "%n %u:%g" /vol/made /vol/given && cat /proc/self/uid_map',
        ];
      },
      { copyRootfs: true },
    );
    t.equal(r.status, 0, r.stderr);
    t.equal(
      r.stdout.split('\n').slice(0, 5).join('\n'),
      [
        '/vol/hostfile 0:0',
        '/vol/five 5:6',
        `/vol/stranger ${OVERFLOW}:${OVERFLOW}`,
        '/vol/made 0:0',
        '/vol/given 5:6',
      ].join('\n'),
      'the container sees host 1000:2000 as its root, 1005:2006 as 5:6, and an id outside the mapping as the overflow id',
    );
    t.match(r.stdout, /^\s+0\s+100000\s+65536$/m, "the container's own user namespace is its config's (0 -> 100000)");
    t.equal(owner(path.join(vol, 'made')), '1000:2000', 'a file the container root made is 1000:2000 on the host');
    t.equal(owner(path.join(vol, 'dir')), '1000:2000', 'so is a directory');
    t.equal(
      owner(path.join(vol, 'given')),
      '1005:2006',
      'a file chowned to 5:6 in the container is 1005:2006 on the host',
    );
    t.same(hostMountsMentioning(vol), [], 'no host mount of the volume is left');
  },
);

t.test('two containers with different mappings on one volume: each sees and makes its own ids', { skip }, async (t) => {
  // Anyone may create there: the second container's root is not the directory's owner.
  const vol = volume(t, 1000, 2000, 0o777);
  const script = (name: string): string[] => [
    'sh',
    '-c',
    `touch /vol/${name} && for f in /vol/*; do stat -c "%n %u:%g" "$f"; done`,
  ];
  const a = runContainer(
    t,
    (s, bundle) => {
      userNamespace(s, { bundle });
      mountPoint(bundle, 'vol');
      s.mounts!.push(idmapped(vol, '/vol', map(1000, 100000, 65536), map(2000, 100000, 65536)));
      s.process!.args = script('from-a');
    },
    { copyRootfs: true },
  );
  t.equal(a.status, 0, a.stderr);
  t.equal(a.stdout, '/vol/from-a 0:0\n', "the first container's file is its root's");
  const b = runContainer(
    t,
    (s, bundle) => {
      userNamespace(s, { bundle });
      s.linux!.uidMappings = map(0, 200000, 65536);
      s.linux!.gidMappings = map(0, 200000, 65536);
      mountPoint(bundle, 'vol');
      s.mounts!.push(idmapped(vol, '/vol', map(500, 200000, 65536), map(600, 200000, 65536)));
      s.process!.args = script('from-b');
    },
    { copyRootfs: true },
  );
  t.equal(b.status, 0, b.stderr);
  t.equal(
    b.stdout,
    '/vol/from-a 500:1400\n/vol/from-b 0:0\n',
    "the second sees the first's 1000:2000 through its own mapping (500:1400), and its own file as its root's",
  );
  t.equal(owner(path.join(vol, 'from-a')), '1000:2000', "the host sees the first container's ids");
  t.equal(owner(path.join(vol, 'from-b')), '500:600', "and the second container's");
});

t.test(
  "the child carrying the mapping is not counted by the container's pids limit (a limit of 1 runs)",
  { skip },
  async (t) => {
    const vol = volume(t, 0, 0);
    const r = runContainer(t, (s) => {
      // (no pid namespace: its init's fork would need a second pid)
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
      s.linux!.resources = { ...(s.linux!.resources ?? {}), pids: { limit: 1 } };
      s.mounts!.push(idmapped(vol, '/mnt/vol', map(0, 1000, 65536), map(0, 1000, 65536)));
      s.process!.args = ['stat', '-c', '%u:%g', '/mnt/vol'];
    });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout.trim(), '1000:1000', 'the volume is mapped');
  },
);

t.test('without a user namespace (as runc 1.2 allows): host root writes as the mapped ids', { skip }, async (t) => {
  const vol = volume(t, 1000, 2000);
  hostFile(vol, 'hostfile', 1000, 2000);
  const r = runContainer(
    t,
    (s) => {
      s.mounts!.push(idmapped(vol, '/mnt/vol', map(1000, 0, 65536), map(2000, 0, 65536)));
      s.process!.args = [
        'sh',
        '-c',
        'stat -c "%n %u:%g" /mnt/vol/hostfile && touch /mnt/vol/made && cat /proc/self/uid_map',
      ];
    },
    { copyRootfs: true },
  );
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\/mnt\/vol\/hostfile 0:0\n/, 'host 1000:2000 is root through the mount');
  t.match(r.stdout, /^\s+0\s+0\s+4294967295$/m, 'the container is in the host user namespace');
  t.equal(owner(path.join(vol, 'made')), '1000:2000', 'what root made is 1000:2000 on the host');
});

t.test(
  "idmap and ridmap without mappings take the container's; ridmap idmaps the submounts too",
  { skip },
  async (t) => {
    // (one teardown: the submount goes before the directories it is in)
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-idmap-vol-'));
    const vol = path.join(parent, 'vol');
    const sub = path.join(vol, 'sub');
    fs.mkdirSync(sub, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=755', 'tsrunc-idmap-sub', sub]);
    t.teardown(() => {
      execFileSync('umount', ['-l', sub]);
      fs.rmSync(parent, { recursive: true, force: true });
    });
    hostFile(vol, 'f', 0, 0);
    hostFile(sub, 'g', 0, 0);
    const r = runContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        mountPoint(bundle, 'top');
        mountPoint(bundle, 'all');
        s.mounts!.push(
          { destination: '/top', type: 'bind', source: vol, options: ['rbind', 'idmap'] },
          { destination: '/all', type: 'bind', source: vol, options: ['rbind', 'ridmap'] },
        );
        s.process!.args = [
          'sh',
          '-c',
          'stat -c "%n %u:%g" /top/f /top/sub/g /all/f /all/sub/g && touch /all/made /all/sub/made && (touch /top/sub/denied 2>/dev/null && echo wrote || echo refused)',
        ];
      },
      { copyRootfs: true },
    );
    t.equal(r.status, 0, r.stderr);
    t.equal(
      r.stdout,
      ['/top/f 0:0', `/top/sub/g ${OVERFLOW}:${OVERFLOW}`, '/all/f 0:0', '/all/sub/g 0:0', 'refused', ''].join('\n'),
      'idmap: the top mount only (the submount is not mapped: overflow ids, not writable); ridmap: every mount',
    );
    t.equal(
      owner(path.join(vol, 'made')),
      '0:0',
      "through the container's own mapping its root writes as host 0 (the disk's 0)",
    );
    t.equal(owner(path.join(sub, 'made')), '0:0', 'in the submount too');
    t.notOk(fs.existsSync(path.join(sub, 'denied')), 'nothing was made through the unmapped submount');
  },
);

t.test(
  'a destination that is a symlink of the image to /etc: the idmapped mount stays inside the rootfs',
  { skip },
  async (t) => {
    const vol = volume(t, 1000, 2000);
    hostFile(vol, 'marker', 1000, 2000);
    const probe = `tsrunc-idmap-probe-${process.pid}`;
    t.teardown(() => fs.rmSync(path.join('/etc', probe), { force: true }));
    let rootfs = '';
    const hostEtcBefore = fs.readdirSync('/etc').sort();
    const r = runContainer(
      t,
      (s, bundle) => {
        rootfs = path.join(bundle, 'rootfs');
        userNamespace(s, { bundle });
        fs.symlinkSync('/etc', path.join(rootfs, 'mnt', 'evil'));
        fs.symlinkSync('../../../../../../../../etc', path.join(rootfs, 'mnt', 'evil2'));
        s.mounts!.push(
          idmapped(vol, '/mnt/evil', map(1000, 100000, 65536), map(2000, 100000, 65536)),
          idmapped(vol, '/mnt/evil2', map(1000, 100000, 65536), map(2000, 100000, 65536)),
        );
        s.process!.args = ['sh', '-c', `cat /etc/marker && touch /mnt/evil/${probe} && stat -c "%u:%g" /etc/${probe}`];
      },
      { copyRootfs: true },
    );
    t.equal(r.status, 0, r.stderr);
    t.equal(
      r.stdout,
      'marker\n0:0\n',
      "the volume covers the container's own /etc, where the links lead inside the rootfs",
    );
    t.equal(owner(path.join(vol, probe)), '1000:2000', 'the file went into the volume, as the mapped ids');
    t.notOk(fs.existsSync(path.join('/etc', probe)), "nothing was written to the host's /etc");
    t.same(fs.readdirSync('/etc').sort(), hostEtcBefore, "the host's /etc is as it was");
    t.same(hostMountsMentioning(' /etc '), [], "nothing is mounted on the host's /etc");
    t.ok(fs.lstatSync(path.join(rootfs, 'mnt', 'evil')).isSymbolicLink(), 'the link itself is untouched');
  },
);

t.test(
  'a source inside the rootfs that is a symlink of the image to /etc is resolved inside the rootfs',
  { skip },
  async (t) => {
    // Idmapped with the container's own mapping, the host's /etc (root's files) would be the
    // container root's to write: the source must be the rootfs's /etc, never the host's.
    const probe = `tsrunc-idmap-probe-${process.pid}`;
    t.teardown(() => fs.rmSync(path.join('/etc', probe), { force: true }));
    let rootfs = '';
    const r = runContainer(
      t,
      (s, bundle) => {
        rootfs = path.join(bundle, 'rootfs');
        userNamespace(s, { bundle });
        fs.symlinkSync('/etc', path.join(rootfs, 'data'));
        fs.writeFileSync(path.join(rootfs, 'etc', 'which-etc'), 'the rootfs /etc\n');
        mountPoint(bundle, 'srv/data');
        s.mounts!.push({ destination: '/srv/data', type: 'bind', source: 'rootfs/data', options: ['rbind', 'idmap'] });
        s.process!.args = [
          'sh',
          '-c',
          `cat /srv/data/which-etc && touch /srv/data/${probe} && stat -c "%u:%g" /srv/data/${probe}`,
        ];
      },
      { copyRootfs: true },
    );
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, 'the rootfs /etc\n0:0\n', "the container sees the rootfs's /etc at /srv/data");
    t.ok(fs.existsSync(path.join(rootfs, 'etc', probe)), "what it wrote is in the rootfs's /etc");
    t.notOk(fs.existsSync(path.join('/etc', probe)), "nothing was written to the host's /etc");
  },
);

t.test(
  'refused with the pointer, nothing left: mappings on a tmpfs, bad mapping values, idmap without a user namespace',
  { skip },
  async (t) => {
    const vol = volume(t, 0, 0);
    const cases: { name: string; edit: (s: Spec, bundle: string) => void; expect: RegExp[] }[] = [
      {
        name: 'mappings on a mount that is not a bind mount',
        edit: (s) =>
          s.mounts!.push({
            destination: '/mnt',
            type: 'tmpfs',
            source: 'tmpfs',
            uidMappings: map(0, 1000, 1),
            gidMappings: map(0, 1000, 1),
          }),
        expect: [/\/mounts\/7\/uidMappings: id-mapped mounts are only supported for bind-mounts/],
      },
      {
        name: 'a size of 0, overlapping host ranges, a range past 4294967294',
        edit: (s) =>
          s.mounts!.push(
            idmapped(
              vol,
              '/mnt',
              [
                { containerID: 0, hostID: 1000, size: 0 },
                { containerID: 10, hostID: 5000, size: 10 },
                { containerID: 30, hostID: 5005, size: 10 },
              ],
              map(4294967290, 0, 10),
            ),
          ),
        expect: [
          /\/mounts\/7\/uidMappings\/0\/size: must be at least 1/,
          /\/mounts\/7\/uidMappings\/2\/hostID: range overlaps \/mounts\/7\/uidMappings\/1/,
          /\/mounts\/7\/gidMappings\/0\/containerID: containerID \+ size must be at most 4294967295/,
        ],
      },
      {
        name: 'empty mappings',
        edit: (s) => s.mounts!.push(idmapped(vol, '/mnt', [], map(0, 0, 1))),
        expect: [/\/mounts\/7\/uidMappings: id-mapped mounts must have both uid and gid mappings specified/],
      },
      {
        name: 'idmap without mappings and without a user namespace',
        edit: (s) => s.mounts!.push({ destination: '/mnt', type: 'bind', source: vol, options: ['bind', 'idmap'] }),
        expect: [/\/mounts\/7\/options\/1: id-mapped mounts must have both uid and gid mappings specified/],
      },
      {
        name: "crun's idmap=uids=... syntax",
        edit: (s) =>
          s.mounts!.push({ destination: '/mnt', type: 'bind', source: vol, options: ['bind', 'idmap=uids=0-1-10'] }),
        expect: [/\/mounts\/7\/options\/1: \W*idmap=uids=0-1-10\W*: mappings inside the option are crun's syntax/],
      },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const tc = testContainer(t, c.edit);
        for (const cmd of ['validate', 'create']) {
          const r = tc.tsrunc(cmd === 'validate' ? ['validate', '--bundle', tc.bundle] : ['create', tc.id]);
          t.equal(r.status, 1, `${cmd} exits 1`);
          for (const e of c.expect) t.match(r.stderr, e, `${cmd}: ${e.source}`);
        }
        assertNothingLeft(t, tc);
      });
    }
  },
);

t.test(
  'a filesystem that cannot be idmapped (sysfs): a clear error naming the mount, nothing left',
  { skip },
  async (t) => {
    const c = testContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        mountPoint(bundle, 'mnt/kernel');
        s.mounts!.push(
          idmapped('/sys/kernel', '/mnt/kernel', map(0, 100000, 65536), map(0, 100000, 65536), ['bind', 'ro']),
        );
      },
      { copyRootfs: true },
    );
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1, 'create fails');
    t.match(r.stderr, /\/sys\/kernel of \/mounts\/7 idmapped/, 'the error names the source and its mount');
    t.match(r.stderr, /MOUNT_ATTR_IDMAP on \/sys\/kernel \(its filesystem cannot be idmapped/, 'and why');
    t.match(r.stderr, /invalid argument/i, 'with the errno');
    assertNothingLeft(t, c);
  },
);

t.test(
  'runc beside tsrunc on the same idmapped config',
  { skip: skip || (RUNC === undefined ? 'runc is not installed' : false) },
  async (t) => {
    const features = JSON.parse(execFileSync(RUNC as string, ['features'], { encoding: 'utf8' })) as {
      linux?: { mountExtensions?: { idmap?: { enabled?: boolean } } };
    };
    const runcIdmaps = features.linux?.mountExtensions?.idmap?.enabled === true;
    const vol = volume(t, 1000, 2000, 0o777);
    const c = testContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        mountPoint(bundle, 'vol');
        s.mounts!.push(idmapped(vol, '/vol', map(1000, 100000, 65536), map(2000, 100000, 65536)));
        s.process!.args = ['sh', '-c', 'touch /vol/"$0"', 'made'];
      },
      { copyRootfs: true },
    );
    const ours = c.tsrunc(['run', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    t.equal(owner(path.join(vol, 'made')), '1000:2000', 'tsrunc: the mapped ids');
    const spec = JSON.parse(fs.readFileSync(path.join(c.bundle, 'config.json'), 'utf8')) as Spec;
    spec.process!.args = ['sh', '-c', 'touch /vol/"$0"', 'made-by-runc'];
    fs.writeFileSync(path.join(c.bundle, 'config.json'), JSON.stringify(spec));
    const twin = runcTwin(t, c);
    const theirs = twin.run(['run', 'ID']);
    t.equal(theirs.status, 0, theirs.stderr);
    if (runcIdmaps) t.equal(owner(path.join(vol, 'made-by-runc')), '1000:2000', 'runc: the same ids');
    else
      t.equal(
        owner(path.join(vol, 'made-by-runc')),
        '100000:100000',
        `${execFileSync(RUNC as string, ['--version'], { encoding: 'utf8' }).split('\n')[0]} predates idmapped mounts: it ignores the mappings and binds plainly (its root's own host ids)`,
      );
  },
);
