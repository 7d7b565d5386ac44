// Namespaces seen from inside a busybox container: uts (hostname, domainname), pid, network,
// joining another container's namespaces by path, a user namespace with id mappings, and a
// time namespace with offsets.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, runContainer, testContainer, userNamespace } from '../helpers/container';
import { sharedDir, statusField, waitForFile } from '../helpers/host';

const skip = rootSkipReason();

t.test('hostname and domainname are set in a new uts namespace', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.hostname = 'box-one';
    s.domainname = 'example.test';
    s.process!.args = ['sh', '-c', 'hostname; cat /proc/sys/kernel/domainname'];
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'box-one\nexample.test\n');
  t.not(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'box-one', 'the host keeps its name');
});

t.test('the process is pid 1 of a new pid namespace', { skip }, async (t) => {
  const r = runContainer(t, (s) => (s.process!.args = ['sh', '-c', 'echo $$; ls /proc; :']));
  t.equal(r.status, 0, r.stderr);
  const [pid, ...entries] = r.stdout.trim().split(/\s+/);
  t.equal(pid, '1', 'sh is pid 1');
  t.same(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(Number)
      .sort((a, b) => a - b),
    [1, 2],
    'only sh and ls are visible',
  );
});

t.test('a new network namespace has only lo', { skip }, async (t) => {
  const r = runContainer(t, (s) => (s.process!.args = ['ls', '/sys/class/net']));
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), 'lo');
});

// runc's specconv gives a new network namespace its "loopback" network: lo is up, so a program
// of a container without other networking (docker --network none, ctr run) can use 127.0.0.1.
for (const userns of [false, true])
  t.test(
    `lo of a new network namespace is up with 127.0.0.1, as runc${userns ? ' (in a user namespace)' : ''}`,
    { skip },
    async (t) => {
      const r = runContainer(
        t,
        (s, bundle) => {
          if (userns) userNamespace(s, { bundle });
          s.process!.args = ['sh', '-c', 'cat /sys/class/net/lo/flags; ip -4 addr show lo'];
        },
        { copyRootfs: userns },
      );
      t.equal(r.status, 0, r.stderr);
      const [flags] = r.stdout.split('\n');
      t.equal(Number(flags) & 1, 1, `IFF_UP in lo's flags (${flags})`);
      t.match(r.stdout, /inet 127\.0\.0\.1\/8/, 'the loopback address comes with it');
    },
  );

t.test("a second container joins the first one's uts and net namespaces by path", { skip }, async (t) => {
  const first = testContainer(t, (s) => {
    s.hostname = 'shared-host';
  });
  t.equal(first.tsrunc(['run', '-d', first.id]).status, 0);
  const pid = first.pid();
  const second = testContainer(t, (s) => {
    delete s.hostname; // setting a name in a joined uts namespace would rename the first
    s.linux!.namespaces = [
      { type: 'pid' },
      { type: 'ipc' },
      { type: 'mount' },
      { type: 'uts', path: `/proc/${pid}/ns/uts` },
      { type: 'network', path: `/proc/${pid}/ns/net` },
    ];
    s.process!.args = [
      'sh',
      '-c',
      'hostname; ls /sys/class/net; readlink /proc/self/ns/uts; readlink /proc/self/ns/net',
    ];
  });
  const r = second.tsrunc(['run', second.id]);
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], 'shared-host', "the joined uts namespace has the first container's hostname");
  t.equal(lines[1], 'lo');
  t.equal(lines[2], fs.readlinkSync(`/proc/${pid}/ns/uts`), 'same uts namespace');
  t.equal(lines[3], fs.readlinkSync(`/proc/${pid}/ns/net`), 'same net namespace');
  t.not(lines[3], fs.readlinkSync('/proc/self/ns/net'), "not the host's");
});

t.test(
  "exec into a container that joined a network namespace and made its own user namespace (the joined one is the host's)",
  { skip },
  async (t) => {
    const first = testContainer(t);
    t.equal(first.tsrunc(['run', '-d', first.id]).status, 0);
    const net = fs.readlinkSync(`/proc/${first.pid()}/ns/net`);
    const second = testContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
          n.type === 'network' ? { type: 'network', path: `/proc/${first.pid()}/ns/net` } : n,
        );
      },
      { copyRootfs: true },
    );
    const r = second.tsrunc(['run', '-d', second.id]);
    t.equal(r.status, 0, r.stderr);
    const e = second.tsrunc(['exec', second.id, 'sh', '-c', 'readlink /proc/self/ns/net; cat /proc/self/uid_map']);
    t.equal(e.status, 0, e.stderr);
    const [seen, map] = e.stdout.split('\n');
    t.equal(seen, net, "the exec'd process is in the joined network namespace");
    t.match(map, /^\s*0\s+100000\s+65536/, "and in the container's user namespace");
  },
);

t.test('a user namespace maps container root to a host uid', { skip }, async (t) => {
  const out = sharedDir(t);
  const c = testContainer(
    t,
    (s, bundle) => {
      userNamespace(s, { bundle, gidHost: 200000 });
      // /mnt exists: the mapped root may not create directories in a rootfs the host's root owns.
      s.mounts!.push({ destination: '/mnt', type: 'bind', source: out, options: ['rbind', 'rw'] });
      s.process!.args = [
        'sh',
        '-c',
        '(id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map) > /mnt/ids.tmp && mv /mnt/ids.tmp /mnt/ids; exec sleep 1000',
      ];
    },
    { copyRootfs: true },
  );
  const r = c.tsrunc(['run', '-d', c.id]);
  t.equal(r.status, 0, r.stderr);
  const ids = (await waitForFile(path.join(out, 'ids'))).split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  t.equal(ids[0], '0', 'id -u is 0 inside');
  t.equal(ids[1], '0', 'id -g is 0 inside');
  t.equal(ids[2], '0 100000 65536', 'uid_map');
  t.equal(ids[3], '0 200000 65536', 'gid_map');
  const status = fs.readFileSync(`/proc/${c.pid()}/status`, 'utf8');
  t.equal(statusField(status, 'Uid'), '100000\t100000\t100000\t100000', 'the host sees the mapped uid');
  t.equal(statusField(status, 'Gid'), '200000\t200000\t200000\t200000', 'the host sees the mapped gid');
  t.not(
    fs.readlinkSync(`/proc/${c.pid()}/ns/user`),
    fs.readlinkSync('/proc/self/ns/user'),
    'a user namespace of its own',
  );
  t.equal(fs.statSync(path.join(out, 'ids')).uid, 100000, 'files it makes belong to the mapped uid');
});

t.test(
  'a time namespace applies timeOffsets',
  { skip: skip || (fs.existsSync('/proc/self/ns/time') ? false : 'the kernel has no time namespaces') },
  async (t) => {
    const offset = 10 * 86400;
    const hostBefore = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const r = runContainer(t, (s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: offset }, boottime: { secs: offset, nanosecs: 0 } };
      s.process!.args = ['cat', '/proc/uptime'];
    });
    const hostAfter = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    t.equal(r.status, 0, r.stderr);
    const inside = Number(r.stdout.split(' ')[0]);
    t.ok(
      inside >= hostBefore + offset && inside <= hostAfter + offset,
      `uptime ${inside} is the host's (${hostBefore}..${hostAfter}) + ${offset}`,
    );
  },
);
