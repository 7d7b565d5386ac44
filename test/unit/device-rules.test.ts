// Device cgroup rules as runc 1.1 reads and applies them: access strings ("rwa", "rrw"), the
// state a rule list leaves a cgroup in, the minimal transition from what devices.list shows,
// the rules a container gets (linux.devices are created, not allowed), and the v2 filter
// compiled from the same reduced rules.
import t from 'tap';
import { deviceFilterProgram } from '../../src/cgroups/device-filter';
import { DeviceEmulator, accessBits, accessString, cgroupRuleString } from '../../src/cgroups/device-rules';
import { containerDeviceRules, containerDeviceState } from '../../src/cgroups/resources';
import { defaultSpec } from '../../src/spec/default-spec';
import type { DeviceCgroupRule } from '../../src/spec/types';
import { ConfigError } from '../../src/errors';
import { runDeviceFilter } from '../helpers/device-filter-vm';

const strings = (rules: DeviceCgroupRule[]): string[] =>
  rules.map((r) => `${r.allow ? 'allow' : 'deny'} ${cgroupRuleString(r)}`);

t.test('access strings: r, w and m in any order and repeated; other letters ignored (runc)', async (t) => {
  t.equal(accessString(accessBits('rwa')), 'rw');
  t.equal(accessString(accessBits('rrw')), 'rw');
  t.equal(accessString(accessBits('mwr')), 'rwm');
  t.equal(accessString(accessBits('a')), '');
  t.equal(
    cgroupRuleString({ allow: false, type: 'c', major: 1, minor: 11, access: 'rwa' }),
    'c 1:11 rw',
    'only the normalised form is written (the kernel refuses "rwa")',
  );
  t.equal(cgroupRuleString({ allow: true, type: 'b', major: -1, minor: 3, access: 'mm' }), 'b *:3 m');
  t.equal(cgroupRuleString({ allow: false, access: 'r' }), 'a *:* rwm', 'type a is every device and every access');
});

t.test('devices.list is read back into a state', async (t) => {
  t.ok(DeviceEmulator.fromList('a *:* rwm\n').isBlacklist(), 'a new v1 cgroup allows everything');
  const white = DeviceEmulator.fromList('c 1:3 rwm\nc 136:* rwm\nb *:* m\n');
  t.notOk(white.isBlacklist());
  t.ok(
    white.equals(
      DeviceEmulator.fromRules([
        { allow: false },
        { allow: true, type: 'b', access: 'm' },
        { allow: true, type: 'c', major: 136, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      ]),
    ),
  );
  t.throws(() => DeviceEmulator.fromList('c 1:3 rwx\n'), /malformed devices.list line/);
});

t.test('the minimal transition: nothing for the same rules, only the difference otherwise', async (t) => {
  const target = DeviceEmulator.fromRules([
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 42, minor: -1, access: 'wm' },
  ]);
  t.same(
    strings(DeviceEmulator.fromList('c 1:3 rwm\nc 42:* wm\n').transition(target)),
    [],
    'the same allow list: no write at all',
  );
  t.same(
    strings(DeviceEmulator.fromList('c 1:3 r\nc 42:* wm\nb 8:0 rw\n').transition(target)),
    ['deny b 8:0 rw', 'allow c 1:3 wm'],
    'what is dropped is denied, what is gained allowed; what stays is not touched',
  );
  t.same(
    strings(DeviceEmulator.fromList('a *:* rwm\n').transition(target)),
    ['deny a *:* rwm', 'allow c 1:3 rwm', 'allow c 42:* wm'],
    'from allow-all (whose denies the list does not show): deny all first',
  );
  const allowAll = DeviceEmulator.fromRules([
    { allow: true, access: 'rwm' },
    { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
  ]);
  t.same(
    strings(DeviceEmulator.fromList('c 1:3 rwm\n').transition(allowAll)),
    ['allow a *:* rwm', 'deny b 8:0 w'],
    'to allow-all: allow all, then the denies',
  );
});

t.test(
  'a rule cgroup v1 would silently ignore is refused, naming it (runc: cannot punch a hole in a wildcard rule)',
  async (t) => {
    const rules: DeviceCgroupRule[] = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: -1, access: 'r' },
      { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
    ];
    const err = t.throws(() => DeviceEmulator.fromRules(rules)) as unknown as ConfigError;
    t.type(err, ConfigError);
    t.equal(err.problems[0]?.pointer, '/linux/resources/devices/2');
    t.match(err.problems[0]?.message, /would punch a hole in the wildcard rule c 10:\* r/);
    t.doesNotThrow(
      () =>
        DeviceEmulator.fromRules([
          ...rules.slice(0, 2),
          { allow: false, type: 'c', major: 10, minor: 229, access: 'w' },
        ]),
      'a deny of access the wildcard does not give is fine',
    );
  },
);

t.test(
  'the rules a container gets: the config, then the defaults; linux.devices are not allowed by themselves',
  async (t) => {
    const spec = defaultSpec();
    spec.linux!.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }];
    spec.linux!.resources = {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: false, type: 'c', major: 1, minor: 11, access: 'rwa' },
      ],
    };
    const rules = containerDeviceRules(spec);
    t.notOk(
      rules.some((r) => r.allow && r.major === 1 && r.minor === 11),
      'no allow rule for /dev/kmsg',
    );
    const prog = deviceFilterProgram(containerDeviceState(spec).cleanRules());
    t.equal(runDeviceFilter(prog, 'c', 1, 11, 'r'), 0, 'v2: /dev/kmsg is denied');
    t.equal(runDeviceFilter(prog, 'c', 1, 3, 'rw'), 1, 'v2: /dev/null is allowed');
    t.equal(runDeviceFilter(prog, 'c', 1, 11, 'm'), 1, 'v2: mknod of anything, as runc');

    // A default whose node the config lists itself is dropped, as runc does (its node replaces the default's).
    spec.linux!.devices = [{ path: '/dev/null', type: 'c', major: 1, minor: 3 }];
    t.notOk(
      containerDeviceRules(spec).some((r) => r.allow && r.major === 1 && r.minor === 3),
      'no default allow rule for /dev/null when the config lists /dev/null',
    );
    t.ok(
      containerDeviceRules(defaultSpec()).some((r) => r.allow && r.major === 1 && r.minor === 3 && r.access === 'rwm'),
      'the default one otherwise',
    );
  },
);

t.test('the v2 filter from the reduced rules means what the v1 list means', async (t) => {
  // allow rw, then deny w: v1 leaves c 1:3 r, and a rw open is refused; the raw rules, last
  // first, would have let the rw open through the allow rule.
  const state = DeviceEmulator.fromRules([
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
    { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
  ]);
  t.same(strings(state.cleanRules()), ['allow c 1:3 r']);
  const prog = deviceFilterProgram(state.cleanRules());
  t.equal(runDeviceFilter(prog, 'c', 1, 3, 'r'), 1);
  t.equal(runDeviceFilter(prog, 'c', 1, 3, 'rw'), 0);
  t.equal(runDeviceFilter(prog, 'c', 1, 3, 'w'), 0);
});
