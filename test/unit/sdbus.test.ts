// The addon's sd-bus functions (native/sdbus.cc) where no systemd answers: libsystemd is loaded
// on first use only; without a bus every function fails with an Error that has an errno name
// and names the call; property input is checked (a TypeError naming the property) before any
// connection is tried. What systemd does with the calls is tested in a guest where systemd is
// PID 1: test/integration/systemd-bus.test.ts.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { initPath, native, type SystemdProperty } from '../../src/native/addon';

// No bus at these addresses, here or on any host: sd_bus_open_system/_user read them when they
// connect. (For root, 'system' then also tries systemd's private socket: see noSystemBus.)
const nowhere = 'unix:path=/nonexistent/tsrunc-sdbus-test/bus';
process.env.DBUS_SYSTEM_BUS_ADDRESS = nowhere;
process.env.DBUS_SESSION_BUS_ADDRESS = nowhere;
const noSystemBus = process.getuid?.() !== 0 || !fs.existsSync('/run/systemd/private');

const unit = 'tsrunc-sdbus-unit-test.scope';

/** What `fn` threw (failing the test when it returned). */
function thrown(t: Test, fn: () => unknown, what: string): Error & { code?: unknown; errno?: unknown } {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof Error, `${what}: throws an Error`);
    return err as Error;
  }
  t.fail(`${what}: did not throw`);
  return new Error('did not throw');
}

t.test('the six functions exist', async (t) => {
  const n = native();
  for (const name of [
    'systemdStartTransientUnit',
    'systemdStopUnit',
    'systemdSetUnitProperties',
    'systemdResetFailedUnit',
    'systemdManagerProperty',
    'systemdUnitProperty',
  ] as const)
    t.type(n[name], 'function', name);
});

t.test('libsystemd is loaded by the first systemd call, not with the addon', async (t) => {
  // A fresh process: this one may have called sd-bus already.
  const addon = path.join(path.dirname(initPath()), 'tsrunc.node');
  const script = `
    const fs = require('fs');
    const mapped = () => /\\/libsystemd\\.so\\.0/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
    const n = require(${JSON.stringify(addon)});
    const before = mapped();
    let code;
    try { n.systemdManagerProperty('user', 'Version'); } catch (e) { code = e.code; }
    console.log(JSON.stringify({ before, after: mapped(), code }));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: nowhere },
      encoding: 'utf8',
    }),
  ) as { before: boolean; after: boolean; code: string };
  t.equal(out.before, false, 'loading the addon does not map libsystemd.so.0');
  t.equal(out.after, true, 'a systemd call maps it');
  t.equal(out.code, 'ENOENT', 'and fails for want of a bus');
});

/** Where the dynamic loader finds libsystemd.so.0 here (ldconfig's cache), if anywhere. */
function libsystemdPath(): string | undefined {
  try {
    return /libsystemd\.so\.0 \([^)]*\) => (\S+)/.exec(execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}
const lib = libsystemdPath();

t.test(
  'without libsystemd.so.0: ENOENT, "libsystemd.so.0 is not available"',
  {
    skip:
      process.getuid?.() !== 0
        ? 'needs root (hides the library in a mount namespace)'
        : lib === undefined
          ? 'ldconfig -p names no libsystemd.so.0'
          : false,
  },
  async (t) => {
    // A private mount namespace where the library's file is /dev/null: dlopen fails there.
    const addon = path.join(path.dirname(initPath()), 'tsrunc.node');
    const script = `
    const n = require(${JSON.stringify(addon)});
    try { n.systemdStopUnit('system', 'x.scope', 1000); } catch (e) {
      console.log(JSON.stringify({ message: e.message, code: e.code, errno: e.errno }));
    }`;
    const out = JSON.parse(
      execFileSync(
        'unshare',
        [
          '--mount',
          'sh',
          '-c',
          'mount --bind /dev/null "$1" && exec "$2" -e "$3"',
          'sh',
          lib as string,
          process.execPath,
          script,
        ],
        { encoding: 'utf8' },
      ),
    ) as { message: string; code: string; errno: number };
    t.match(out.message, /^systemd StopUnit\(x\.scope\): libsystemd\.so\.0 is not available: .+/);
    t.equal(out.code, 'ENOENT');
    t.equal(out.errno, -2);
  },
);

t.test('without a bus, every function throws an Error with code and errno naming the call', async (t) => {
  const n = native();
  const scopes = noSystemBus ? (['user', 'system'] as const) : (['user'] as const);
  if (!noSystemBus) t.comment("root with systemd's private socket here: only the 'user' scope is tried");
  for (const scope of scopes) {
    const calls: [string, RegExp, () => unknown][] = [
      [
        'StartTransientUnit',
        /^systemd StartTransientUnit\(tsrunc-sdbus-unit-test\.scope\): connecting to the (user|system) bus: /,
        () => n.systemdStartTransientUnit(scope, unit, [{ name: 'Delegate', value: { type: 'b', value: true } }], 1000),
      ],
      [
        'StopUnit',
        /^systemd StopUnit\(tsrunc-sdbus-unit-test\.scope\): connecting/,
        () => n.systemdStopUnit(scope, unit, 1000),
      ],
      [
        'SetUnitProperties',
        /^systemd SetUnitProperties\(tsrunc-sdbus-unit-test\.scope\): connecting/,
        () => n.systemdSetUnitProperties(scope, unit, [{ name: 'MemoryMax', value: { type: 't', value: 1n << 30n } }]),
      ],
      [
        'ResetFailedUnit',
        /^systemd ResetFailedUnit\(tsrunc-sdbus-unit-test\.scope\): connecting/,
        () => n.systemdResetFailedUnit(scope, unit),
      ],
      [
        'ManagerProperty',
        /^systemd Get\(org\.freedesktop\.systemd1\.Manager\.Version\): connecting/,
        () => n.systemdManagerProperty(scope, 'Version'),
      ],
      [
        'UnitProperty',
        /^systemd GetUnit\(tsrunc-sdbus-unit-test\.scope\): connecting/,
        () => n.systemdUnitProperty(scope, unit, 'ActiveState'),
      ],
    ];
    for (const [what, message, fn] of calls) {
      const e = thrown(t, fn, `${scope} ${what}`);
      t.notOk(e instanceof TypeError, `${scope} ${what}: not a TypeError`);
      t.match(e.message, message, `${scope} ${what}: the message names the call`);
      t.equal(e.code, 'ENOENT', `${scope} ${what}: code`);
      t.equal(e.errno, -2, `${scope} ${what}: errno`);
      t.notOk('dbusName' in e, `${scope} ${what}: no dbusName (no D-Bus error)`);
    }
  }
  if (scopes.length === 2) {
    const e = thrown(t, () => n.systemdManagerProperty('system', 'Version'), 'system');
    t.match(
      e.message,
      process.getuid?.() === 0
        ? /; to systemd's private socket \(unix:path=\/run\/systemd\/private\): /
        : /bus: [^;]*$/,
      "root falls back to systemd's private socket, and says so; others do not",
    );
  }
});

t.test('every property type is accepted as the contract types it', async (t) => {
  const n = native();
  const all: SystemdProperty[] = [
    { name: 'S', value: { type: 's', value: 'text' } },
    { name: 'B', value: { type: 'b', value: false } },
    { name: 'T', value: { type: 't', value: 2n ** 64n - 1n } },
    { name: 'T0', value: { type: 't', value: 0n } },
    { name: 'U', value: { type: 'u', value: 2 ** 32 - 1 } },
    { name: 'I', value: { type: 'i', value: -(2 ** 31) } },
    { name: 'X', value: { type: 'x', value: -(2n ** 63n) } },
    { name: 'D', value: { type: 'd', value: 0.5 } },
    { name: 'AS', value: { type: 'as', value: ['a', ''] } },
    { name: 'AU', value: { type: 'au', value: [0, 1, 2 ** 32 - 1] } },
    { name: 'AY', value: { type: 'ay', value: Buffer.from([1, 2, 255]) } },
    { name: 'AY0', value: { type: 'ay', value: Buffer.alloc(0) } },
    { name: 'ASS', value: { type: 'a(ss)', value: [['/dev/null', 'rw']] } },
    { name: 'AST', value: { type: 'a(st)', value: [['/dev/sda', 2n ** 64n - 1n]] } },
    { name: 'EMPTY', value: { type: 'a(st)', value: [] } },
  ];
  // Past validation, the call fails only for want of a bus.
  const e = thrown(t, () => n.systemdStartTransientUnit('user', unit, all, 1000), 'all types');
  t.notOk(e instanceof TypeError, 'not a TypeError');
  t.equal(e.code, 'ENOENT');
  const set = thrown(t, () => n.systemdSetUnitProperties('user', unit, all), 'all types, SetUnitProperties');
  t.equal(set.code, 'ENOENT');
});

t.test('bad property input is a TypeError naming the property, before any connection', async (t) => {
  const n = native();
  // Raw values: what a caller outside the types could pass.
  const bad: [string, unknown][] = [
    ['t as a number', { type: 't', value: 5 }],
    ['t negative', { type: 't', value: -1n }],
    ['t past 2^64-1', { type: 't', value: 2n ** 64n }],
    ['x past 2^63-1', { type: 'x', value: 2n ** 63n }],
    ['x as a number', { type: 'x', value: 1 }],
    ['u negative', { type: 'u', value: -1 }],
    ['u past 2^32-1', { type: 'u', value: 2 ** 32 }],
    ['u fractional', { type: 'u', value: 1.5 }],
    ['u as a BigInt', { type: 'u', value: 1n }],
    ['i past 2^31-1', { type: 'i', value: 2 ** 31 }],
    ['d as a string', { type: 'd', value: '1' }],
    ['s with a NUL', { type: 's', value: 'a\0b' }],
    ['s as a number', { type: 's', value: 1 }],
    ['b as a string', { type: 'b', value: 'yes' }],
    ['as with a number', { type: 'as', value: ['a', 1] }],
    ['as not an array', { type: 'as', value: 'a' }],
    ['au with -1', { type: 'au', value: [1, -1] }],
    ['ay as a string', { type: 'ay', value: 'abc' }],
    ['ay as a number array', { type: 'ay', value: [1, 2] }],
    ['ay as an Int8Array', { type: 'ay', value: new Int8Array(2) }],
    ['a(ss) with a single', { type: 'a(ss)', value: [['/dev/null']] }],
    ['a(ss) with a triple', { type: 'a(ss)', value: [['/dev/null', 'r', 'w']] }],
    ['a(ss) with a number', { type: 'a(ss)', value: [['/dev/null', 1]] }],
    ['a(st) with a number', { type: 'a(st)', value: [['/dev/sda', 1]] }],
    ['a(st) negative', { type: 'a(st)', value: [['/dev/sda', -1n]] }],
    ['an unknown type', { type: 'q', value: 1 }],
    ['a type not a string', { type: 1, value: 1 }],
    ['no value object', 'infinity'],
  ];
  for (const [what, value] of bad) {
    for (const scope of ['system', 'user'] as const) {
      const props = [
        { name: 'Delegate', value: { type: 'b', value: true } },
        { name: 'TheProperty', value },
      ] as unknown as SystemdProperty[];
      for (const [call, fn] of [
        ['StartTransientUnit', () => n.systemdStartTransientUnit(scope, unit, props, 1000)],
        ['SetUnitProperties', () => n.systemdSetUnitProperties(scope, unit, props)],
      ] as const) {
        const e = thrown(t, fn, `${what} (${scope} ${call})`);
        t.ok(e instanceof TypeError, `${what} (${scope} ${call}): a TypeError, not ${e.message}`);
        t.match(e.message, /^systemd property TheProperty: /, `${what}: names the property`);
      }
    }
  }
  const unnamed = thrown(
    t,
    () =>
      n.systemdSetUnitProperties('user', unit, [{ value: { type: 'b', value: true } }] as unknown as SystemdProperty[]),
    'no name',
  );
  t.ok(unnamed instanceof TypeError);
  t.match(unnamed.message, /^systemd property #0: /, 'a property without a name is named by its index');
  const notArray = thrown(
    t,
    () => n.systemdSetUnitProperties('user', unit, {} as unknown as SystemdProperty[]),
    'not an array',
  );
  t.ok(notArray instanceof TypeError);
  const getter = thrown(
    t,
    () =>
      n.systemdSetUnitProperties('user', unit, [
        {
          name: 'G',
          get value(): never {
            throw new RangeError('from the getter');
          },
        },
      ]),
    'a throwing getter',
  );
  t.ok(getter instanceof RangeError, "a getter's own exception goes through unchanged");
});

t.test('bad arguments besides the properties are TypeErrors too', async (t) => {
  const n = native();
  const cases: [string, () => unknown, RegExp][] = [
    ['scope', () => n.systemdManagerProperty('session' as 'user', 'Version'), /scope/],
    ['unit name empty', () => n.systemdStopUnit('user', '', 1000), /unit name/],
    ['unit name with a NUL', () => n.systemdResetFailedUnit('user', 'a\0.scope'), /unit name/],
    ['property name', () => n.systemdUnitProperty('user', unit, 5 as unknown as string), /property name/],
    ['timeout 0', () => n.systemdStopUnit('user', unit, 0), /timeoutMs/],
    ['timeout NaN', () => n.systemdStartTransientUnit('user', unit, [], NaN), /timeoutMs/],
  ];
  for (const [what, fn, message] of cases) {
    const e = thrown(t, fn, what);
    t.ok(e instanceof TypeError, `${what}: a TypeError`);
    t.match(e.message, message, `${what}: says which argument`);
  }
});
