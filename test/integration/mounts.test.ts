// The container's filesystem seen from inside a busybox container: bind and rbind mounts
// with their flags and recursive forms, propagation, tmpfs, proc, sysfs, devpts, mqueue,
// cgroup (namespaced or not), the read-only root, masked and read-only paths, devices, and
// a mount destination that is a symlink pointing out of the rootfs.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { CGROUP_PARENT, rootSkipReason, runContainer, testContainer, userNamespace } from '../helpers/container';
import { hostMountsMentioning, mountinfoLine, parseMountinfoLine } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { tempDir, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason();

/** A tmpfs mounted on the host at a new temp dir (optionally shared), unmounted at teardown. */
function hostTmpfs(t: Teardownable, opts: { shared?: boolean } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-hostmnt-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tsrunc-test', dir]);
  if (opts.shared) execFileSync('mount', ['--make-shared', dir]);
  t.teardown(() => {
    execFileSync('umount', ['-R', '-l', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Runs `script` in a container and returns its stdout and the mountinfo it saw (after `---`). */
function mountinfoAfter(
  t: Teardownable,
  edit: Parameters<typeof runContainer>[1],
  script = ':',
  opts: { copyRootfs?: boolean } = {},
): { status: number | null; out: string; mountinfo: string; stderr: string } {
  const r = runContainer(
    t,
    (s, bundle) => {
      edit(s, bundle);
      s.process!.args = ['sh', '-c', `${script}; echo ---; cat /proc/self/mountinfo`];
    },
    opts,
  );
  const at = r.stdout.lastIndexOf('---\n');
  return {
    status: r.status,
    out: at < 0 ? r.stdout : r.stdout.slice(0, at),
    mountinfo: at < 0 ? '' : r.stdout.slice(at + 4),
    stderr: r.stderr,
  };
}

function mountAt(
  t: Teardownable & { fail(msg: string): void },
  mountinfo: string,
  mountPoint: string,
): ReturnType<typeof parseMountinfoLine> {
  const line = mountinfoLine(mountinfo, mountPoint);
  if (line === undefined) {
    t.fail(`no mount at ${mountPoint}`);
    return parseMountinfoLine('');
  }
  return parseMountinfoLine(line);
}

t.test('bind mounts with ro, nosuid, nodev, noexec and atime options', { skip }, async (t) => {
  const src = tempDir(t, 'tsrunc-bindsrc');
  fs.writeFileSync(path.join(src, 'file'), 'from the host\n');
  fs.writeFileSync(path.join(src, 'x.sh'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
  const r = mountinfoAfter(
    t,
    (s) => {
      s.mounts!.push(
        { destination: '/mnt/ro', type: 'bind', source: src, options: ['bind', 'ro'] },
        {
          destination: '/mnt/flags',
          type: 'bind',
          source: src,
          options: ['bind', 'nosuid', 'nodev', 'noexec', 'noatime'],
        },
        { destination: '/mnt/plain', type: 'bind', source: src, options: ['bind'] },
        { destination: '/mnt/file', type: 'bind', source: path.join(src, 'file'), options: ['bind', 'ro'] },
      );
    },
    'cat /mnt/file; touch /mnt/ro/new 2>/dev/null && echo wrote-ro; /mnt/flags/x.sh 2>/dev/null || echo noexec-refused; /mnt/plain/x.sh',
  );
  t.equal(r.status, 0, r.stderr);
  t.equal(
    r.out,
    'from the host\nnoexec-refused\nran\n',
    'a file bind, a read-only bind refusing writes, noexec refusing exec',
  );
  const ro = mountAt(t, r.mountinfo, '/mnt/ro');
  t.ok(ro.options.includes('ro'), `/mnt/ro is ro: ${ro.options}`);
  const flags = mountAt(t, r.mountinfo, '/mnt/flags');
  for (const f of ['rw', 'nosuid', 'nodev', 'noexec', 'noatime'])
    t.ok(flags.options.includes(f), `/mnt/flags has ${f}: ${flags.options}`);
  const plain = mountAt(t, r.mountinfo, '/mnt/plain');
  for (const f of ['ro', 'nosuid', 'nodev', 'noexec']) t.notOk(plain.options.includes(f), `/mnt/plain has no ${f}`);
  t.ok(mountAt(t, r.mountinfo, '/mnt/file').options.includes('ro'), 'the file bind is ro');
  t.notOk(fs.existsSync(path.join(src, 'new')), 'nothing was written through the ro bind');
});

t.test('bind takes the top mount only; rbind takes submounts; ro is top-only, rro recursive', { skip }, async (t) => {
  const src = tempDir(t, 'tsrunc-rbindsrc');
  fs.mkdirSync(path.join(src, 'sub'));
  const sub = hostTmpfs(t);
  // The submount: a bind of the host tmpfs inside the source tree.
  execFileSync('mount', ['--bind', sub, path.join(src, 'sub')]);
  t.teardown(() => execFileSync('umount', ['-l', path.join(src, 'sub')]));
  const r = mountinfoAfter(t, (s) => {
    s.mounts!.push(
      { destination: '/mnt/bind', type: 'bind', source: src, options: ['bind'] },
      { destination: '/mnt/rbind', type: 'bind', source: src, options: ['rbind', 'ro'] },
      { destination: '/mnt/rro', type: 'bind', source: src, options: ['rbind', 'rro'] },
      { destination: '/mnt/rflags', type: 'bind', source: src, options: ['rbind', 'rnosuid', 'rnodev', 'rnoexec'] },
    );
  });
  t.equal(r.status, 0, r.stderr);
  t.ok(mountinfoLine(r.mountinfo, '/mnt/bind'), '/mnt/bind is mounted');
  t.notOk(mountinfoLine(r.mountinfo, '/mnt/bind/sub'), 'a plain bind does not take the submount');
  t.ok(mountAt(t, r.mountinfo, '/mnt/rbind').options.includes('ro'), 'rbind,ro: the top is ro');
  t.ok(
    mountAt(t, r.mountinfo, '/mnt/rbind/sub').options.includes('rw'),
    'rbind,ro: the submount stays rw (ro is not recursive)',
  );
  t.ok(mountAt(t, r.mountinfo, '/mnt/rro').options.includes('ro'), 'rro: the top is ro');
  t.ok(mountAt(t, r.mountinfo, '/mnt/rro/sub').options.includes('ro'), 'rro: the submount is ro too');
  for (const mp of ['/mnt/rflags', '/mnt/rflags/sub']) {
    const m = mountAt(t, r.mountinfo, mp);
    for (const f of ['nosuid', 'nodev', 'noexec']) t.ok(m.options.includes(f), `${mp} has ${f}`);
  }
});

t.test("propagation options show in mountinfo's optional fields", { skip }, async (t) => {
  const shared = hostTmpfs(t, { shared: true });
  const r = mountinfoAfter(
    t,
    (s) => {
      s.mounts!.push(
        { destination: '/mnt/slave', type: 'bind', source: shared, options: ['rbind', 'rslave'] },
        { destination: '/mnt/private', type: 'bind', source: shared, options: ['rbind', 'rprivate'] },
        { destination: '/mnt/shared', type: 'bind', source: shared, options: ['rbind', 'rshared'] },
        { destination: '/mnt/unbindable', type: 'bind', source: shared, options: ['bind', 'unbindable'] },
        { destination: '/mnt/tmp', type: 'tmpfs', source: 'tmpfs', options: ['private'] },
      );
    },
    ':',
  );
  t.equal(r.status, 0, r.stderr);
  const slave = mountAt(t, r.mountinfo, '/mnt/slave').optional;
  t.ok(
    slave.some((f) => f.startsWith('master:')) && !slave.some((f) => f.startsWith('shared:')),
    `rslave: ${slave.join(' ')}`,
  );
  t.same(mountAt(t, r.mountinfo, '/mnt/private').optional, [], 'rprivate: no optional fields');
  const sh = mountAt(t, r.mountinfo, '/mnt/shared').optional;
  t.ok(
    sh.some((f) => f.startsWith('shared:')),
    `rshared: ${sh.join(' ')}`,
  );
  t.same(mountAt(t, r.mountinfo, '/mnt/unbindable').optional, ['unbindable'], 'unbindable');
  t.same(mountAt(t, r.mountinfo, '/mnt/tmp').optional, [], 'a private tmpfs');
});

t.test("rootfsPropagation applies to the container's root", { skip }, async (t) => {
  for (const [prop, expect] of [
    ['rprivate', (o: string[]) => o.length === 0],
    ['rshared', (o: string[]) => o.some((f) => f.startsWith('shared:'))],
  ] as const) {
    const r = mountinfoAfter(t, (s) => (s.linux!.rootfsPropagation = prop));
    t.equal(r.status, 0, `${prop}: ${r.stderr}`);
    const root = mountAt(t, r.mountinfo, '/');
    t.ok(expect(root.optional), `${prop}: / has ${JSON.stringify(root.optional)}`);
  }
});

t.test('tmpfs size and mode', { skip }, async (t) => {
  const r = mountinfoAfter(
    t,
    (s) =>
      s.mounts!.push({
        destination: '/mnt/t',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'size=1m', 'mode=1770'],
      }),
    'stat -c %a /mnt/t; df -k /mnt/t | tail -1',
  );
  t.equal(r.status, 0, r.stderr);
  const [mode, df] = r.out.trim().split('\n');
  t.equal(mode, '1770');
  t.equal(df?.trim().split(/\s+/)[1], '1024', 'size 1m');
  const m = mountAt(t, r.mountinfo, '/mnt/t');
  t.equal(m.fstype, 'tmpfs');
  t.ok(m.superOptions.includes('size=1024k') && m.superOptions.includes('mode=1770'), m.superOptions.join(','));
  t.ok(m.options.includes('nosuid'));
});

t.test('proc, sysfs, devpts, mqueue and the default /dev', { skip }, async (t) => {
  const r = mountinfoAfter(t, () => {}, 'stat -c %a /dev/pts/ptmx; readlink /dev/ptmx');
  t.equal(r.status, 0, r.stderr);
  const [ptmxMode, ptmxLink] = r.out.trim().split('\n');
  t.equal(ptmxMode, '666', 'ptmxmode=0666');
  t.equal(ptmxLink, 'pts/ptmx', "/dev/ptmx points at the container's devpts");
  t.equal(mountAt(t, r.mountinfo, '/proc').fstype, 'proc');
  const sys = mountAt(t, r.mountinfo, '/sys');
  t.equal(sys.fstype, 'sysfs');
  t.ok(sys.options.includes('ro'), 'sysfs ro');
  const pts = mountAt(t, r.mountinfo, '/dev/pts');
  t.equal(pts.fstype, 'devpts');
  for (const o of ['gid=5', 'mode=620', 'ptmxmode=666'])
    t.ok(pts.superOptions.includes(o), `devpts has ${o}: ${pts.superOptions}`);
  t.ok(pts.options.includes('nosuid') && pts.options.includes('noexec'));
  const mq = mountAt(t, r.mountinfo, '/dev/mqueue');
  t.equal(mq.fstype, 'mqueue');
  for (const o of ['nosuid', 'nodev', 'noexec']) t.ok(mq.options.includes(o), `mqueue has ${o}`);
  t.equal(mountAt(t, r.mountinfo, '/dev').fstype, 'tmpfs');
  t.equal(mountAt(t, r.mountinfo, '/dev/shm').fstype, 'tmpfs');
});

t.test('devpts takes its ptmxmode and mode options', { skip }, async (t) => {
  const r = mountinfoAfter(
    t,
    (s) => {
      s.mounts = s.mounts!.map((m) =>
        m.destination === '/dev/pts' ? { ...m, options: ['newinstance', 'ptmxmode=0600', 'mode=0600'] } : m,
      );
    },
    'stat -c %a /dev/pts/ptmx',
  );
  t.equal(r.status, 0, r.stderr);
  t.equal(r.out.trim(), '600');
  const pts = mountAt(t, r.mountinfo, '/dev/pts');
  t.ok(pts.superOptions.includes('mode=600') && pts.superOptions.includes('ptmxmode=600'), pts.superOptions.join(','));
});

/** Hierarchies mounted on the host, as /sys/fs/cgroup/KEY (v1 and hybrid) or /sys/fs/cgroup (v2). */
function hostCgroupMounts(): { mountPoint: string; fstype: string }[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(parseMountinfoLine)
    .filter((m) => (m.fstype === 'cgroup' || m.fstype === 'cgroup2') && m.mountPoint.startsWith('/sys/fs/cgroup'))
    .map((m) => ({ mountPoint: m.mountPoint, fstype: m.fstype }));
}

t.test(
  "cgroup mounts: namespaced with a cgroup namespace, the container's own cgroup otherwise",
  { skip },
  async (t) => {
    const host = hostCgroupMounts();
    t.ok(host.length > 0, 'the host has cgroups mounted');
    // A hybrid host's container sees its v1 controllers only, as runc shows them.
    const hybrid = host.some((h) => h.fstype === 'cgroup');
    const hierarchies = hybrid ? host.filter((h) => h.fstype === 'cgroup') : host;
    for (const namespaced of [true, false]) {
      let id = '';
      const r = mountinfoAfter(
        t,
        (s) => {
          id = path.basename(s.linux!.cgroupsPath!);
          if (!namespaced) s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
        },
        'cat /proc/self/cgroup; touch /sys/fs/cgroup/x 2>/dev/null && echo wrote',
      );
      t.equal(r.status, 0, r.stderr);
      const what = namespaced ? 'namespaced' : 'not namespaced';
      t.notMatch(r.out, /wrote/, `${what}: /sys/fs/cgroup is read-only`);
      for (const h of hierarchies) {
        const m = mountAt(t, r.mountinfo, h.mountPoint);
        t.equal(m.fstype, h.fstype, `${what}: ${h.mountPoint} is ${h.fstype}`);
        t.ok(m.options.includes('ro'), `${what}: ${h.mountPoint} is ro`);
        // The mount's root: the cgroup namespace's root, or the container's cgroup from the host's.
        t.equal(
          m.root,
          namespaced ? '/' : `${CGROUP_PARENT}/${id}`,
          `${what}: ${h.mountPoint} shows the container's cgroup`,
        );
      }
      if (hybrid)
        t.notOk(
          r.mountinfo.split('\n').some((l) => l.includes(' /sys/fs/cgroup/unified ')),
          `${what}: no unified hierarchy on a hybrid host`,
        );
      const memory = r.out.split('\n').find((l) => /^\d+:memory:/.test(l) || /^0::/.test(l));
      t.equal(memory?.split(':')[2], namespaced ? '/' : `${CGROUP_PARENT}/${id}`, `${what}: /proc/self/cgroup`);
    }
  },
);

t.test('a read-only root refuses writes; a writable one takes them', { skip }, async (t) => {
  const ro = mountinfoAfter(t, () => {}, 'touch /newfile 2>&1; true');
  t.equal(ro.status, 0, ro.stderr);
  t.match(ro.out, /Read-only file system/);
  t.ok(mountAt(t, ro.mountinfo, '/').options.includes('ro'));
  const rw = mountinfoAfter(t, (s) => (s.root!.readonly = false), 'touch /newfile && echo ok', { copyRootfs: true });
  t.equal(rw.status, 0, rw.stderr);
  t.equal(rw.out, 'ok\n');
});

t.test('maskedPaths read empty; readonlyPaths refuse writes', { skip }, async (t) => {
  let rootfs = '';
  const r = mountinfoAfter(
    t,
    (s, bundle) => {
      rootfs = path.join(bundle, 'rootfs');
      fs.writeFileSync(path.join(rootfs, 'secret'), 'host secret\n');
      fs.mkdirSync(path.join(rootfs, 'secretdir'));
      fs.writeFileSync(path.join(rootfs, 'secretdir', 'inside'), 'x');
      fs.mkdirSync(path.join(rootfs, 'data'));
      s.mounts!.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] });
      s.linux!.maskedPaths = ['/secret', '/secretdir', '/proc/timer_list', '/does/not/exist'];
      s.linux!.readonlyPaths = ['/data', '/proc/sys', '/also/missing', '/bin'];
    },
    [
      '/bin/true && echo ran-from-read-only-bin',
      'echo "secret=[$(cat /secret)]"',
      'echo "secretdir=[$(ls -A /secretdir)]"',
      'echo "timer_list=[$(cat /proc/timer_list)]"',
      'touch /secretdir/x 2>/dev/null && echo wrote-masked-dir',
      'touch /data/x 2>/dev/null && echo wrote-data',
      'echo changed > /proc/sys/kernel/hostname 2>/dev/null && echo wrote-proc-sys',
      'cat /proc/sys/kernel/hostname',
    ].join('; '),
    { copyRootfs: true },
  );
  t.equal(r.status, 0, r.stderr);
  t.equal(
    r.out,
    'ran-from-read-only-bin\nsecret=[]\nsecretdir=[]\ntimer_list=[]\ntsrunc\n',
    'masked paths empty, read-only paths not written, and not noexec (as runc)',
  );
  t.equal(fs.readFileSync(path.join(rootfs, 'secret'), 'utf8'), 'host secret\n', 'the masked file itself is untouched');
  t.ok(mountAt(t, r.mountinfo, '/data').options.includes('ro'), '/data is ro');
  t.ok(mountAt(t, r.mountinfo, '/proc/sys').options.includes('ro'), '/proc/sys is ro');
});

t.test('default devices and linux.devices with type, numbers, mode and owner', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.linux!.devices = [
      { path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o640, uid: 1234, gid: 5678 },
      { path: '/dev/myloop', type: 'b', major: 7, minor: 200, fileMode: 0o600, uid: 0, gid: 6 },
      { path: '/dev/sub/dir/fifo', type: 'p', fileMode: 0o644 },
    ];
    s.process!.args = [
      'sh',
      '-c',
      "stat -c '%n|%F|%t|%T|%a|%u|%g' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/mynull /dev/myloop /dev/sub/dir/fifo; for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done",
    ];
  });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const hex = (n: number): string => n.toString(16);
  const expected = [
    ['/dev/null', 'character special file', 1, 3, '666', '0', '0'],
    ['/dev/zero', 'character special file', 1, 5, '666', '0', '0'],
    ['/dev/full', 'character special file', 1, 7, '666', '0', '0'],
    ['/dev/random', 'character special file', 1, 8, '666', '0', '0'],
    ['/dev/urandom', 'character special file', 1, 9, '666', '0', '0'],
    ['/dev/tty', 'character special file', 5, 0, '666', '0', '0'],
    ['/dev/mynull', 'character special file', 1, 3, '640', '1234', '5678'],
    ['/dev/myloop', 'block special file', 7, 200, '600', '0', '6'],
    ['/dev/sub/dir/fifo', 'fifo', 0, 0, '644', '0', '0'],
  ] as const;
  expected.forEach(([name, type, major, minor, mode, uid, gid], i) => {
    t.equal(lines[i], [name, type, hex(major), hex(minor), mode, uid, gid].join('|'), name);
  });
  t.same(lines.slice(expected.length), [
    'fd=/proc/self/fd',
    'stdin=/proc/self/fd/0',
    'stdout=/proc/self/fd/1',
    'stderr=/proc/self/fd/2',
    'ptmx=pts/ptmx',
  ]);
});

t.test('a mount destination that is a symlink out of the rootfs stays inside it', { skip }, async (t) => {
  const hostDir = tempDir(t, 'tsrunc-evil');
  const hostDir2 = tempDir(t, 'tsrunc-evil');
  const src = tempDir(t, 'tsrunc-evilsrc');
  fs.writeFileSync(path.join(src, 'marker'), 'bound\n');
  let rootfs = '';
  const c = runContainer(
    t,
    (s, bundle) => {
      rootfs = path.join(bundle, 'rootfs');
      // Absolute and relative escapes: both must resolve as if the rootfs were /.
      fs.symlinkSync(hostDir, path.join(rootfs, 'mnt', 'evil'));
      fs.symlinkSync(`../../../../../../../..${hostDir2}`, path.join(rootfs, 'mnt', 'evil2'));
      s.mounts!.push(
        { destination: '/mnt/evil', type: 'bind', source: src, options: ['bind'] },
        { destination: '/mnt/evil2/sub', type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] },
      );
      s.process!.args = [
        'sh',
        '-c',
        `cat /mnt/evil/marker; grep -c " ${hostDir} " /proc/self/mountinfo; grep -c " ${hostDir2}/sub " /proc/self/mountinfo`,
      ];
    },
    { copyRootfs: true },
  );
  t.equal(c.status, 0, c.stderr);
  t.equal(c.stdout, 'bound\n1\n1\n', 'the mounts landed at the link targets inside the container');
  for (const dir of [hostDir, hostDir2]) {
    t.same(fs.readdirSync(dir), [], `the host directory ${dir} is empty`);
    t.same(hostMountsMentioning(dir), [], `nothing is mounted on ${dir}`);
    t.ok(fs.statSync(path.join(rootfs, dir)).isDirectory(), `${dir} was created inside the rootfs`);
  }
  t.ok(
    fs.statSync(path.join(rootfs, hostDir2, 'sub')).isDirectory(),
    'the relative escape ended inside the rootfs too',
  );
  const findmnt = execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' });
  t.notOk(
    findmnt.split('\n').some((l) => l.startsWith(hostDir) || l.startsWith(hostDir2)),
    'findmnt on the host agrees',
  );
});

t.test("without a mount namespace: chroot, and nothing that would touch the host's mounts", { skip }, async (t) => {
  const noMountNs = (s: Parameters<Parameters<typeof runContainer>[1]>[0]): void => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
    s.mounts = [];
    delete s.linux!.maskedPaths;
    delete s.linux!.readonlyPaths;
    s.root!.readonly = false;
  };
  // Without /proc the init cannot wait for start (runc: "error closing exec fds: open
  // /proc/self/fd: no such file or directory"): refused at create, and nothing is left.
  const bare = runContainer(t, noMountNs);
  t.equal(bare.status, 1);
  t.match(bare.stderr, /opening the container's \/proc: no procfs at \/proc/);
  t.equal(bare.container.status(), 'missing', 'no state');
  // With a procfs the caller mounted in the rootfs, the container runs chrooted into it.
  const c = testContainer(
    t,
    (s) => {
      noMountNs(s);
      s.process!.args = ['sh', '-c', 'ls /bin/busybox; test -r /proc/self/stat && echo proc'];
    },
    { copyRootfs: true },
  );
  const proc = path.join(c.bundle, 'rootfs', 'proc');
  execFileSync('mount', ['-t', 'proc', 'proc', proc]);
  t.teardown(() => void spawnSync('umount', ['-l', proc]));
  const r = c.tsrunc(['run', c.id]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '/bin/busybox\nproc\n', "inside the rootfs, with the caller's /proc");
  for (const [what, edit, pointer] of [
    ['a read-only root', (s: Parameters<typeof noMountNs>[0]) => (s.root!.readonly = true), /\/root\/readonly/],
    [
      'maskedPaths',
      (s: Parameters<typeof noMountNs>[0]) => (s.linux!.maskedPaths = ['/etc/passwd']),
      /\/linux\/maskedPaths: unable to restrict sys entries without a private MNT namespace/,
    ],
    [
      'readonlyPaths',
      (s: Parameters<typeof noMountNs>[0]) => (s.linux!.readonlyPaths = ['/etc']),
      /\/linux\/readonlyPaths/,
    ],
    [
      'mounts',
      (s: Parameters<typeof noMountNs>[0]) => (s.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }]),
      /needs a mount namespace/,
    ],
  ] as const) {
    const refused = runContainer(t, (s) => {
      noMountNs(s);
      edit(s);
    });
    t.equal(refused.status, 1, `${what} is refused`);
    t.match(refused.stderr, pointer, what);
    t.equal(refused.container.status(), 'missing', `${what}: no state`);
  }
  t.same(hostMountsMentioning(bare.container.spec.root!.path), [], 'nothing was mounted on the host under the rootfs');
  t.same(
    hostMountsMentioning(c.bundle).filter((l) => !l.includes(' proc ')),
    [],
    "nothing but the test's own /proc under the copied rootfs",
  );
});

t.test('proc and sysfs go only onto real directories: a /proc symlink is refused', { skip }, async (t) => {
  const hostDir = tempDir(t, 'tsrunc-evilproc');
  const r = runContainer(
    t,
    (_s, bundle) => {
      const rootfs = path.join(bundle, 'rootfs');
      fs.rmdirSync(path.join(rootfs, 'proc'));
      fs.symlinkSync(hostDir, path.join(rootfs, 'proc'));
    },
    { copyRootfs: true },
  );
  t.equal(r.status, 1);
  t.match(r.stderr, /mounting proc on \/proc/, 'the error names the mount');
  t.same(fs.readdirSync(hostDir), [], 'nothing appeared in the link target');
  t.same(hostMountsMentioning(hostDir), []);
  t.equal(r.container.status(), 'missing');
});

t.test(
  '/sys/fs/cgroup holds what runc puts there (on a hybrid host: the v1 controllers, no unified)',
  { skip: skip || (RUNC === undefined ? 'runc is not installed' : false) },
  async (t) => {
    const c = testContainer(t, (s) => (s.process!.args = ['ls', '/sys/fs/cgroup']));
    const ours = c.tsrunc(['run', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    t.equal(ours.stdout, runcTwin(t, c).run(['run', 'ID']).stdout, 'the same entries as with runc');
  },
);

const withRunc = skip || (RUNC === undefined ? 'runc is not installed' : false);

t.test(
  "tmpcopyup (podman adds it to every tmpfs it makes): the directory's content, modes and owners are copied into the tmpfs, as runc",
  { skip: withRunc },
  async (t) => {
    const c = testContainer(
      t,
      (s, bundle) => {
        const data = path.join(bundle, 'rootfs/data');
        fs.mkdirSync(path.join(data, 'd'), { recursive: true });
        fs.writeFileSync(path.join(data, 'a'), 'content of a\n', { mode: 0o604 });
        fs.chownSync(path.join(data, 'a'), 1000, 1000);
        fs.writeFileSync(path.join(data, 'd/b'), 'b\n');
        fs.chmodSync(path.join(data, 'd'), 0o700);
        fs.symlinkSync('a', path.join(data, 'l'));
        fs.chmodSync(data, 0o711);
        s.mounts!.push({
          destination: '/data',
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['tmpcopyup', 'nosuid', 'nodev', 'size=1m'],
        });
        s.process!.args = [
          'sh',
          '-c',
          'stat -c "%n %a %u %g %F" /data /data/a /data/d /data/d/b /data/l; cat /data/l; grep " /data " /proc/self/mountinfo | sed "s/.* - //" | cut -d" " -f1; touch /data/new && echo writable',
        ];
      },
      { copyRootfs: true },
    );
    const ours = c.tsrunc(['run', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    t.equal(
      ours.stdout,
      '/data 711 0 0 directory\n/data/a 604 1000 1000 regular file\n/data/d 700 0 0 directory\n/data/d/b 644 0 0 regular file\n/data/l 777 0 0 symbolic link\ncontent of a\ntmpfs\nwritable\n',
    );
    t.equal(runcTwin(t, c).run(['run', 'ID']).stdout, ours.stdout, 'as with runc');
    t.notOk(fs.existsSync(path.join(c.bundle, 'rootfs/data/new')), 'the rootfs itself is untouched');
  },
);

t.test(
  'a read-only /dev tmpfs: devices, devpts and the rest are set up, then /dev turns read-only, as runc',
  { skip: withRunc },
  async (t) => {
    const c = testContainer(t, (s) => {
      const dev = s.mounts!.find((m) => m.destination === '/dev');
      dev!.options = [...(dev!.options ?? []), 'ro'];
      s.process!.args = [
        'sh',
        '-c',
        'echo x > /dev/null && echo null-ok; touch /dev/new 2>/dev/null || echo dev-ro; grep -c " /dev/pts " /proc/self/mountinfo',
      ];
    });
    const ours = c.tsrunc(['run', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    t.equal(ours.stdout, 'null-ok\ndev-ro\n1\n');
    t.equal(runcTwin(t, c).run(['run', 'ID']).stdout, ours.stdout, 'as with runc');
  },
);

t.test(
  "bind sources the container's user namespace cannot reach (inside 0700 host directories) are opened before it, as runc; exec works too",
  { skip: withRunc },
  async (t) => {
    // Each source is readable, but inside a 0700 directory of the host's root: the container's
    // root (host uid 100000) could not walk to it.
    const hidden = [tempDir(t, 'tsrunc-hidden-a'), tempDir(t, 'tsrunc-hidden-b')].map((parent, i) => {
      fs.chmodSync(parent, 0o700);
      const vol = path.join(parent, 'vol');
      fs.mkdirSync(vol, { mode: 0o755 });
      fs.writeFileSync(path.join(vol, 'f'), `hidden ${i}\n`, { mode: 0o644 });
      return vol;
    });
    const c = testContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        hidden.forEach((dir, i) => {
          fs.mkdirSync(path.join(bundle, `rootfs/h${i}`));
          s.mounts!.push({ destination: `/h${i}`, type: 'bind', source: dir, options: ['rbind', 'ro'] });
        });
        s.process!.args = ['sh', '-c', 'cat /h0/f /h1/f; sleep 1000'];
      },
      { copyRootfs: true },
    );
    const ours = c.tsrunc(['run', '-d', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    const e = c.tsrunc(['exec', c.id, 'cat', '/h1/f']);
    t.equal(e.status, 0, e.stderr);
    t.equal(e.stdout, 'hidden 1\n', 'exec reads the second source');
    const twin = runcTwin(t, c);
    const theirs = twin.run(['run', '-d', 'ID']);
    t.equal(theirs.status, 0, `runc runs it too: ${theirs.stderr}`);
    const theirExec = twin.run(['exec', 'ID', 'cat', '/h1/f']);
    t.equal(theirExec.stdout, e.stdout, `as with runc: ${theirExec.stderr}`);
  },
);
