// linux.netDevices (runtime-spec 1.3, runc 1.4): host interfaces moved into the container's
// network namespace, renamed when asked, with their permanent global addresses, and up. After
// that they are the namespace's: delete does not move them out (the spec forbids it, runc does
// not); when the namespace goes the kernel destroys a virtual interface (what these tests can
// make: dummy, else ifb) and returns a physical one to the initial namespace under its name
// inside. A create that fails moves them back itself, as they were. Each test makes its host
// interfaces and removes them at teardown whatever happens.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import t, { type Test } from 'tap';
import { rootSkipReason, testContainer, userNamespace, type TestContainer } from '../helpers/container';
import { leftovers } from '../helpers/host';
import { RUNC, runc } from '../helpers/runc';
import type { Teardownable } from '../helpers/tsrunc';

function ip(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A kind of virtual interface this kernel can make (dummy is not built into every kernel). */
function linkKind(): string | undefined {
  for (const kind of ['dummy', 'ifb']) {
    const probe = `tsrprobe${process.pid % 100000}`;
    if (ip(['link', 'add', probe, 'type', kind]).status === 0) {
      ip(['link', 'del', probe]);
      return kind;
    }
  }
  return undefined;
}

const KIND = rootSkipReason() === false ? linkKind() : undefined;
const skip = rootSkipReason() || (KIND === undefined ? 'the kernel makes neither dummy nor ifb interfaces' : false);

let counter = 0;
/** A host interface with `addresses`, up; deleted at teardown wherever it is left on the host. */
function hostLink(t: Teardownable, addresses: string[] = []): { name: string; mac: string } {
  const name = `tsrd${process.pid % 100000}${String.fromCharCode(97 + (counter++ % 26))}`;
  const made = ip(['link', 'add', name, 'type', KIND as string]);
  if (made.status !== 0) throw new Error(`ip link add ${name}: ${made.stderr}`);
  t.teardown(() => void ip(['link', 'del', name]));
  for (const a of addresses) {
    const r = ip(['addr', 'add', ...a.split(' '), 'dev', name]);
    if (r.status !== 0) throw new Error(`ip addr add ${a} dev ${name}: ${r.stderr}`);
  }
  ip(['link', 'set', name, 'up']);
  return { name, mac: fs.readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim() };
}

/** A network namespace of `ip netns` (a precreated one, as an orchestrator's), deleted at teardown. */
function namedNetns(t: Teardownable): { name: string; path: string } {
  const name = `tsrns${process.pid}-${counter++}`;
  const r = ip(['netns', 'add', name]);
  if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
  t.teardown(() => void ip(['netns', 'del', name]));
  return { name, path: `/run/netns/${name}` };
}

/** The global addresses `ip` shows of `dev` ("10.213.1.2/24", ...; the kernel makes link-local ones of its own). */
function addressesOf(dev: string, netns?: string): string[] {
  const r = ip([...(netns === undefined ? [] : ['-n', netns]), '-o', 'addr', 'show', 'dev', dev, 'scope', 'global']);
  return [...r.stdout.matchAll(/ inet6? (\S+) /g)].map((m) => m[1] as string).sort();
}

function hostHas(dev: string): boolean {
  return ip(['link', 'show', 'dev', dev]).status === 0;
}

/** Every host interface with this MAC address (the same device under any name). */
function hostLinksWithMac(mac: string): string[] {
  return fs.readdirSync('/sys/class/net').filter((d) => {
    try {
      return fs.readFileSync(`/sys/class/net/${d}/address`, 'utf8').trim() === mac;
    } catch {
      return false;
    }
  });
}

function inside(c: TestContainer, args: string[]): string {
  const r = c.tsrunc(['exec', c.id, ...args]);
  if (r.status !== 0) throw new Error(`exec ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function assertNothingLeft(t: Test, c: TestContainer): void {
  t.same(leftovers(c), [], 'no state, cgroup, process or mount of the container left');
  t.equal(c.status(), 'missing', 'state says the container does not exist');
}

t.test(
  'moved in under its new name with its permanent global addresses, up; gone from the host while the container lives; destroyed with the namespace at delete',
  { skip },
  async (t) => {
    const dev = hostLink(t, ['10.213.1.2/24', 'fd00:213:1::2/64 nodad', '10.213.9.9/24 scope link']);
    fs.writeFileSync(`/sys/class/net/${dev.name}/mtu`, '1400');
    const c = testContainer(t, (s) => {
      s.linux!.netDevices = { [dev.name]: { name: 'ctr0' } };
      s.process!.args = ['sleep', '1000'];
    });
    const created = c.tsrunc(['create', c.id]);
    t.equal(created.status, 0, 'create', { stderr: created.stderr });
    t.notOk(hostHas(dev.name), 'the host no longer has the interface');
    t.same(hostLinksWithMac(dev.mac), [], 'nor under another name');
    t.equal(c.tsrunc(['start', c.id]).status, 0, 'start');

    const addr = inside(c, ['ip', 'addr', 'show', 'dev', 'ctr0']);
    t.match(addr, /^\d+: ctr0[:@]/m, 'the container has it as ctr0');
    t.match(addr, /<[^>]*\bUP\b[^>]*>/, 'up');
    t.match(addr, 'inet 10.213.1.2/24 ', 'its IPv4 address');
    t.match(addr, 'inet6 fd00:213:1::2/64 ', 'its IPv6 address');
    t.notMatch(addr, '10.213.9.9', 'not its address of link scope (runc carries permanent global ones only)');
    t.match(addr, `link/ether ${dev.mac}`, 'the same device (its MAC address)');
    t.match(addr, 'mtu 1400', 'its MTU kept');
    t.equal(inside(c, ['cat', '/sys/class/net/ctr0/address']).trim(), dev.mac, '/sys/class/net/ctr0 inside');
    t.match(inside(c, ['cat', '/proc/net/dev']), /^\s*ctr0:/m, '/proc/net/dev inside');
    t.notOk(hostHas(dev.name), 'still not on the host while the container runs');

    const deleted = c.tsrunc(['delete', '--force', c.id]);
    t.equal(deleted.status, 0, 'delete --force', { stderr: deleted.stderr });
    // runtime-spec 1.3: "The runtime MUST NOT attempt to move the interface out of the namespace
    // before deletion"; the kernel then destroys a virtual interface (runc's behaviour).
    t.notOk(hostHas(dev.name), 'delete does not move it back (the spec forbids it)');
    t.same(hostLinksWithMac(dev.mac), [], 'the kernel destroyed it with the namespace (virtual: not returned)');
    assertNothingLeft(t, c);
  },
);

t.test(
  'a precreated (joined) network namespace keeps the interface after delete; its owner moves it back',
  { skip },
  async (t) => {
    const ns = namedNetns(t);
    const dev = hostLink(t, ['10.213.2.2/24']);
    const c = testContainer(t, (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { ...n, path: ns.path } : n));
      s.linux!.netDevices = { [dev.name]: {} };
    });
    const run = c.tsrunc(['run', '--detach', c.id]);
    t.equal(run.status, 0, 'run --detach', { stderr: run.stderr });
    t.same(addressesOf(dev.name, ns.name), ['10.213.2.2/24'], 'in the namespace under its name, with its address');
    t.match(inside(c, ['ip', 'link', 'show', dev.name]), /<[^>]*\bUP\b/, 'up, as the container sees it');
    t.equal(c.tsrunc(['delete', '--force', c.id]).status, 0, 'delete --force');
    t.ok(ip(['-n', ns.name, 'link', 'show', dev.name]).status === 0, 'still in the namespace after delete');
    const back = ip(['-n', ns.name, 'link', 'set', dev.name, 'netns', String(process.pid)]);
    t.equal(back.status, 0, "the namespace's owner moves it back", { stderr: back.stderr });
    t.ok(hostHas(dev.name), 'on the host again');
    assertNothingLeft(t, c);
  },
);

t.test(
  'with a user namespace of its own: a new network namespace set up by the container root, the name a template',
  { skip },
  async (t) => {
    const dev = hostLink(t, ['10.213.3.2/24']);
    const c = testContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        s.linux!.netDevices = { [dev.name]: { name: 'net%d' } };
      },
      { copyRootfs: true },
    );
    fs.chmodSync(c.bundle, 0o755);
    execOk(t, c.tsrunc(['run', '--detach', c.id]), 'run --detach');
    const addr = inside(c, ['ip', 'addr', 'show', 'dev', 'net0']);
    t.match(addr, 'inet 10.213.3.2/24 ', 'net0 (the kernel completed the template) with its address');
    t.match(addr, /<[^>]*\bUP\b/, 'up');
  },
);

t.test(
  'a joined network namespace and a new user namespace: moved and set up while the init still has the runtime’s capabilities over it',
  { skip },
  async (t) => {
    const ns = namedNetns(t);
    const dev = hostLink(t, ['10.213.4.2/24']);
    const c = testContainer(
      t,
      (s, bundle) => {
        userNamespace(s, { bundle });
        s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { ...n, path: ns.path } : n));
        s.linux!.netDevices = { [dev.name]: { name: 'eth0' } };
      },
      { copyRootfs: true },
    );
    execOk(t, c.tsrunc(['create', c.id]), 'create');
    t.same(addressesOf('eth0', ns.name), ['10.213.4.2/24'], 'eth0 in the joined namespace, with its address');
    t.match(ip(['-n', ns.name, 'link', 'show', 'eth0']).stdout, /<[^>]*\bUP\b/, 'up');
  },
);

function execOk(t: Test, r: { status: number | null; stderr: string }, what: string): void {
  t.equal(r.status, 0, what, { stderr: r.stderr });
}

t.test(
  'a create that fails after the move (a createRuntime hook) moves the interfaces back: their names, addresses and state, and leaves nothing else',
  { skip },
  async (t) => {
    const a = hostLink(t, ['10.213.5.2/24', 'fd00:213:5::2/64 nodad']);
    const b = hostLink(t);
    ip(['link', 'set', b.name, 'down']);
    const before = addressesOf(a.name);
    t.same(before, ['10.213.5.2/24', 'fd00:213:5::2/64'], `${a.name} has its addresses`);
    const c = testContainer(t, (s) => {
      s.linux!.netDevices = { [a.name]: { name: 'eth0' }, [b.name]: {} };
      s.hooks = { createRuntime: [{ path: '/bin/false' }] };
    });
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1, 'create fails');
    t.match(r.stderr, 'createRuntime hook #0 (/bin/false) failed');
    t.notMatch(r.stderr, 'moving', 'and every interface went back (no warning)');
    t.ok(hostHas(a.name) && hostHas(b.name), 'both on the host again, under their own names');
    t.same(addressesOf(a.name), before, `${a.name}'s addresses again`);
    t.match(ip(['link', 'show', a.name]).stdout, /<[^>]*\bUP\b/, `${a.name} up, as it was`);
    t.notMatch(ip(['link', 'show', b.name]).stdout, /<[^>]*\bUP\b/, `${b.name} down, as it was`);
    t.same(hostLinksWithMac(a.mac), [a.name], `${a.name}: the same device`);
    assertNothingLeft(t, c);
  },
);

t.test(
  'a name the container namespace already has (a joined one): the kernel refuses the rename, and the interface comes back',
  { skip },
  async (t) => {
    const ns = namedNetns(t);
    t.equal(ip(['-n', ns.name, 'link', 'add', 'eth0', 'type', KIND as string]).status, 0, 'the namespace has an eth0');
    const dev = hostLink(t, ['10.213.6.2/24']);
    const c = testContainer(t, (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { ...n, path: ns.path } : n));
      s.linux!.netDevices = { [dev.name]: { name: 'eth0' } };
    });
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1, 'create fails');
    t.match(
      r.stderr,
      `/linux/netDevices/${dev.name}: moving ${dev.name} into the container's network namespace as eth0`,
    );
    t.match(r.stderr, 'file exists');
    t.ok(hostHas(dev.name), 'on the host again');
    t.same(addressesOf(dev.name), ['10.213.6.2/24'], 'with its address');
    assertNothingLeft(t, c);
  },
);

t.test(
  'refused before anything exists: an interface the host does not have, no network namespace, bad names',
  { skip },
  async (t) => {
    const dev = hostLink(t, ['10.213.7.2/24']);
    const cases: {
      what: string;
      devices: Record<string, { name?: string }>;
      netns?: false;
      pointer: string;
      text: string;
      more?: string;
    }[] = [
      {
        what: 'an interface the host does not have (beside one it has)',
        devices: { [dev.name]: { name: 'eth0' }, tsrnosuch0: { name: 'eth1' } },
        pointer: '/linux/netDevices/tsrnosuch0',
        text: 'the host has no network interface',
      },
      {
        what: 'no network namespace',
        devices: { [dev.name]: {} },
        netns: false,
        pointer: '/linux/netDevices',
        text: 'unable to move network devices without a NET namespace',
      },
      {
        what: 'a name inside with ":"',
        devices: { [dev.name]: { name: 'eth0:1' } },
        pointer: `/linux/netDevices/${dev.name}/name`,
        text: 'invalid network device name',
      },
      {
        what: 'a name inside of 16 bytes',
        devices: { [dev.name]: { name: 'a-very-long-name' } },
        pointer: `/linux/netDevices/${dev.name}/name`,
        text: 'invalid network device name',
        more: 'it is 16 bytes long, and an interface name has at most 15 (IFNAMSIZ)',
      },
    ];
    for (const k of cases) {
      const c = testContainer(t, (s) => {
        s.linux!.netDevices = k.devices;
        if (k.netns === false) s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
      });
      const r = c.tsrunc(['create', c.id]);
      t.equal(r.status, 1, `${k.what}: create fails`);
      t.match(r.stderr, `${k.pointer}: ${k.text}`, `${k.what}: the error names ${k.pointer}`);
      if (k.more !== undefined) t.match(r.stderr, k.more, `${k.what}: and says why`);
      t.same(addressesOf(dev.name), ['10.213.7.2/24'], `${k.what}: ${dev.name} untouched on the host`);
      assertNothingLeft(t, c);
    }
  },
);

t.test('runc beside it', { skip: skip || runcSkip() }, async (t) => {
  // (only with a runc that has netDevices: 1.4 and later)
  const dev = hostLink(t, ['10.213.8.2/24']);
  const c = testContainer(t, (s) => {
    s.linux!.netDevices = { [dev.name]: { name: 'ctr0' } };
    s.process!.args = ['ip', 'addr', 'show', 'dev', 'ctr0'];
  });
  const root = `${c.bundle}/runc-root`;
  const r = runc(root, ['run', `${c.id}-runc`], c.bundle);
  t.equal(r.status, 0, 'runc run', { stderr: r.stderr });
  t.match(r.stdout, 'inet 10.213.8.2/24 ', 'runc moves it in with its address too');
});

function runcSkip(): string | false {
  if (RUNC === undefined) return 'runc is not installed';
  const features = spawnSync(RUNC, ['features'], { encoding: 'utf8' });
  const doc = JSON.parse(features.stdout || '{}') as { linux?: { netDevices?: { enabled?: boolean } } };
  return doc.linux?.netDevices?.enabled === true
    ? false
    : `runc here (${RUNC}) has no linux.netDevices (it came in runc 1.4)`;
}
