// The addon's sd-bus functions (native/sdbus.cc) against a real systemd: a transient scope
// holding a process, its properties as systemd and the cgroup files show them, a property
// change, the errors systemd gives, the stop. Needs systemd as PID 1 and root: CI runs it in
// the guest of `scripts/v2-guest.sh --systemd` (cgroup v2 only).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { initPath, native, type SystemdProperty } from '../../src/native/addon';

const skip = !fs.existsSync('/run/systemd/system')
  ? 'needs systemd as PID 1 (no /run/systemd/system): run it under scripts/v2-guest.sh --systemd'
  : process.getuid?.() !== 0
    ? 'needs root (starts units in the system manager)'
    : false;
// TCG guests are slow; every job here finishes in well under a second on a host.
t.setTimeout(600_000);
const JOB_MS = 60_000;
const unit = `tsrunc-sdbus-test-${process.pid}.scope`;
const cgroupDir = path.join('/sys/fs/cgroup/system.slice', unit);

function sleeper(t: { teardown(fn: () => void): void }): ChildProcess {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  if (child.pid === undefined) throw new Error('sleep did not start');
  return child;
}

/** `systemctl show -p NAME --value UNIT`: how systemd reads back a property it was sent. */
function shown(unitName: string, property: string): string {
  return execFileSync('systemctl', ['show', '-p', property, '--value', unitName], { encoding: 'utf8' }).trim();
}

/** Socket fds of this process, by fd number. */
function socketFds(): Set<string> {
  const fds = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) fds.add(fd);
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return fds;
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

t.test('a transient scope through sd-bus: start, properties, errors, stop', { skip }, async (t) => {
  const n = native();
  const sleep = sleeper(t);
  const pid = sleep.pid as number;
  t.teardown(() => {
    try {
      n.systemdStopUnit('system', unit, JOB_MS);
      n.systemdResetFailedUnit('system', unit);
    } catch (err) {
      t.comment(`teardown: ${(err as Error).message}`);
    }
  });

  const before = socketFds();
  const version = n.systemdManagerProperty('system', 'Version');
  t.ok(Number.parseInt(version, 10) >= 200, `the manager's Version (${version}) begins with a number`);

  const properties: SystemdProperty[] = [
    { name: 'Description', value: { type: 's', value: `tsrunc sd-bus test ${process.pid}` } },
    { name: 'Slice', value: { type: 's', value: 'system.slice' } },
    { name: 'Delegate', value: { type: 'b', value: true } },
    { name: 'PIDs', value: { type: 'au', value: [pid] } },
    { name: 'MemoryMax', value: { type: 't', value: 64n << 20n } },
    { name: 'TasksMax', value: { type: 't', value: 2n ** 64n - 1n } },
    { name: 'AllowedCPUs', value: { type: 'ay', value: Buffer.from([0b1]) } },
    { name: 'DeviceAllow', value: { type: 'a(ss)', value: [['/dev/null', 'rw']] } },
    { name: 'IOReadBandwidthMax', value: { type: 'a(st)', value: [['/dev/null', 1048576n]] } },
    { name: 'Documentation', value: { type: 'as', value: ['man:tsrunc', 'https://example.org/tsrunc'] } },
    { name: 'KillSignal', value: { type: 'i', value: 9 } },
    { name: 'ManagedOOMMemoryPressureLimit', value: { type: 'u', value: 2 ** 31 } },
  ];
  n.systemdStartTransientUnit('system', unit, properties, JOB_MS);

  const opened = [...socketFds()].filter((fd) => !before.has(fd));
  t.equal(opened.length, 1, 'one connection was opened');
  for (const fd of opened) {
    const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    t.ok(flags !== undefined && (Number.parseInt(flags, 8) & 0o2000000) !== 0, `its fd ${fd} is close-on-exec`);
  }

  const cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  t.match(cgroup, new RegExp(`^0::/system\\.slice/${unit.replace(/\./g, '\\.')}$`, 'm'), 'the sleep is in the scope');
  t.equal(fs.readFileSync(path.join(cgroupDir, 'memory.max'), 'utf8').trim(), String(64 << 20), 'MemoryMax (t)');
  t.equal(fs.readFileSync(path.join(cgroupDir, 'pids.max'), 'utf8').trim(), 'max', 'TasksMax 2^64-1 is infinity');
  t.equal(shown(unit, 'TasksMax'), 'infinity', 'systemd reads TasksMax 2^64-1 as infinity');
  t.equal(fs.readFileSync(path.join(cgroupDir, 'cpuset.cpus'), 'utf8').trim(), '0', 'AllowedCPUs (ay)');
  t.equal(shown(unit, 'AllowedCPUs'), '0');
  t.equal(shown(unit, 'DeviceAllow'), '/dev/null rw', 'DeviceAllow (a(ss))');
  t.equal(shown(unit, 'IOReadBandwidthMax'), '/dev/null 1048576', 'IOReadBandwidthMax (a(st))');
  t.equal(shown(unit, 'Documentation'), 'man:tsrunc https://example.org/tsrunc', 'Documentation (as)');
  t.equal(shown(unit, 'KillSignal'), '9', 'KillSignal (i)');
  t.equal(shown(unit, 'Delegate'), 'yes', 'Delegate (b)');
  t.match(
    shown(unit, 'ManagedOOMMemoryPressureLimit'),
    /^(2147483648|50(\.0+)?%)$/,
    'ManagedOOMMemoryPressureLimit (u)',
  );
  t.equal(n.systemdUnitProperty('system', unit, 'Description'), `tsrunc sd-bus test ${process.pid}`, 'Description (s)');
  t.equal(n.systemdUnitProperty('system', unit, 'ActiveState'), 'active');
  t.equal(n.systemdUnitProperty('system', unit, 'SubState'), 'running');
  t.equal(n.systemdUnitProperty('system', unit, 'Id'), unit);

  n.systemdSetUnitProperties('system', unit, [{ name: 'MemoryMax', value: { type: 't', value: 128n << 20n } }]);
  t.equal(fs.readFileSync(path.join(cgroupDir, 'memory.max'), 'utf8').trim(), String(128 << 20), 'SetUnitProperties');
  n.systemdSetUnitProperties('system', unit, [{ name: 'MemoryMax', value: { type: 't', value: 2n ** 64n - 1n } }]);
  t.equal(fs.readFileSync(path.join(cgroupDir, 'memory.max'), 'utf8').trim(), 'max', 'and back to infinity');

  let again: (Error & { code?: string; errno?: number; dbusName?: string }) | undefined;
  try {
    n.systemdStartTransientUnit('system', unit, properties, JOB_MS);
  } catch (err) {
    again = err as typeof again;
  }
  t.ok(again instanceof Error, 'starting the same unit again fails');
  t.equal(again?.dbusName, 'org.freedesktop.systemd1.UnitExists');
  t.equal(again?.code, 'EEXIST');
  t.equal(again?.errno, -17);
  t.match(again?.message, new RegExp(`^systemd StartTransientUnit\\(${unit.replace(/\./g, '\\.')}\\): .+`));

  let bad: (Error & { dbusName?: string; code?: string }) | undefined;
  try {
    n.systemdSetUnitProperties('system', unit, [{ name: 'NoSuchProperty', value: { type: 's', value: 'x' } }]);
  } catch (err) {
    bad = err as typeof bad;
  }
  t.ok(bad instanceof Error, 'a property systemd cannot set is refused');
  t.match(bad?.dbusName, /^org\.freedesktop\.DBus\.Error\./, `with its D-Bus name (${bad?.dbusName})`);
  t.match(bad?.code, /^E[A-Z]+$/, `and an errno name (${bad?.code})`);
  t.match(bad?.message, /^systemd SetUnitProperties\([^)]+\): .*NoSuchProperty/, "and systemd's message");

  let wrongType: Error | undefined;
  try {
    n.systemdUnitProperty('system', unit, 'ActiveEnterTimestamp');
  } catch (err) {
    wrongType = err as Error;
  }
  t.match(wrongType?.message, /is of type 't', not a string/, 'a property that is not a string is refused');

  t.equal([...socketFds()].filter((fd) => !before.has(fd)).length, 1, 'every call went through the one connection');

  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    sleep.once('exit', (_code, signal) => resolve(signal)),
  );
  t.equal(n.systemdStopUnit('system', unit, JOB_MS), true, 'StopUnit: true');
  t.equal(await exited, 'SIGKILL', 'the scope was stopped with its KillSignal');
  const state = n.systemdUnitProperty('system', unit, 'ActiveState');
  t.ok(state === undefined || state === 'inactive', `after the stop: ${state}`);
  n.systemdResetFailedUnit('system', unit);
  t.ok(
    await until(() => n.systemdUnitProperty('system', unit, 'ActiveState') === undefined, 30_000),
    'the unit is unloaded',
  );
  t.equal(n.systemdStopUnit('system', unit, JOB_MS), false, 'StopUnit of an unloaded unit: false');
  t.doesNotThrow(() => n.systemdResetFailedUnit('system', unit), 'ResetFailedUnit of an unloaded unit is no error');
});

t.test('signals arriving while a call waits (EINTR) do not fail it', { skip }, async (t) => {
  // Node's own handlers (SIGCHLD for a child that exits, say) interrupt a thread's poll; sd-bus
  // returned -EINTR from the call, which cannot be sent again. A storm of SIGUSR2, which has a
  // handler here, through calls that wait for a reply and for a job.
  const n = native();
  let received = 0;
  const onSignal = (): void => void received++;
  process.on('SIGUSR2', onSignal);
  const storm = spawn('sh', ['-c', `while kill -USR2 ${process.pid}; do :; done`], { stdio: 'ignore' });
  const stormOver = new Promise((resolve) => storm.once('exit', resolve));
  // The handler stays until the storm is over: a SIGUSR2 without one would kill this process.
  t.teardown(async () => {
    storm.kill('SIGKILL');
    await stormOver;
    await new Promise((r) => setTimeout(r, 100));
    process.off('SIGUSR2', onSignal);
  });
  const stormUnit = `tsrunc-sdbus-test-${process.pid}-storm.scope`;
  t.teardown(() => {
    try {
      n.systemdStopUnit('system', stormUnit, JOB_MS);
    } catch (err) {
      t.comment(`teardown: ${(err as Error).message}`);
    }
  });
  // The storm has begun once a signal has been handled.
  t.ok(await until(() => received > 0, 10_000), 'the signals arrive');
  let calls = 0;
  for (let round = 0; round < 5; round++) {
    // A call interrupted throws (EINTR), failing the test.
    for (let i = 0; i < 20; i++) if (/^\d+/.test(n.systemdManagerProperty('system', 'Version'))) calls++;
    const sleep = sleeper(t);
    n.systemdStartTransientUnit(
      'system',
      stormUnit,
      [{ name: 'PIDs', value: { type: 'au', value: [sleep.pid as number] } }],
      JOB_MS,
    );
    t.equal(n.systemdUnitProperty('system', stormUnit, 'ActiveState'), 'active', `round ${round}: started`);
    t.equal(n.systemdStopUnit('system', stormUnit, JOB_MS), true, `round ${round}: stopped`);
    // Let the event loop run the handlers (and reap the sleeper).
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(calls, 100, 'every Version call answered');
  t.ok(received > 5, `the storm went on throughout (${received} signals handled)`);
});

t.test("a job that does not end in 'done': its result in the error", { skip }, async (t) => {
  const n = native();
  const sleep = sleeper(t);
  // The scope requires a service that fails: the scope's start job ends in "dependency". The
  // service is a unit file in /run/systemd/system, which systemd finds when first asked for a
  // unit it does not know (no daemon-reload).
  const failingService = `tsrunc-sdbus-test-${process.pid}-fails.service`;
  const serviceFile = path.join('/run/systemd/system', failingService);
  const scope = `tsrunc-sdbus-test-${process.pid}-dependent.scope`;
  fs.writeFileSync(
    serviceFile,
    '[Unit]\nDescription=tsrunc sd-bus test: fails\n[Service]\nType=oneshot\nExecStart=/bin/false\n',
  );
  t.teardown(() => {
    fs.rmSync(serviceFile, { force: true });
    try {
      n.systemdStopUnit('system', scope, JOB_MS);
      n.systemdResetFailedUnit('system', scope);
      n.systemdResetFailedUnit('system', failingService);
    } catch (err) {
      t.comment(`teardown: ${(err as Error).message}`);
    }
  });
  let err: (Error & { code?: string; errno?: number; jobResult?: string; dbusName?: string }) | undefined;
  try {
    n.systemdStartTransientUnit(
      'system',
      scope,
      [
        { name: 'PIDs', value: { type: 'au', value: [sleep.pid as number] } },
        { name: 'Requires', value: { type: 'as', value: [failingService] } },
        { name: 'After', value: { type: 'as', value: [failingService] } },
      ],
      JOB_MS,
    );
  } catch (e) {
    err = e as typeof err;
  }
  t.ok(err instanceof Error, 'the start fails');
  t.equal(err?.message, `${scope}: job dependency`);
  t.equal(err?.code, 'EIO');
  t.equal(err?.errno, -5);
  t.equal(err?.jobResult, 'dependency');
  t.notOk(err?.dbusName, 'not a D-Bus error: the call succeeded, its job did not');
  t.equal(n.systemdUnitProperty('system', failingService, 'ActiveState'), 'failed', 'the service failed');
  n.systemdResetFailedUnit('system', failingService);
  const after = n.systemdUnitProperty('system', failingService, 'ActiveState');
  t.ok(after === undefined || after === 'inactive', `ResetFailedUnit: the service is no longer failed (${after})`);
});

t.test('a job that does not end within timeoutMs: ETIMEDOUT, and the connection still serves', { skip }, async (t) => {
  const n = native();
  const sleep = sleeper(t);
  // The scope waits for a service that takes ten minutes to start.
  const slowService = `tsrunc-sdbus-test-${process.pid}-slow.service`;
  const serviceFile = path.join('/run/systemd/system', slowService);
  const scope = `tsrunc-sdbus-test-${process.pid}-waiting.scope`;
  fs.writeFileSync(
    serviceFile,
    '[Unit]\nDescription=tsrunc sd-bus test: slow\n[Service]\nType=oneshot\nExecStart=/bin/sleep 600\n',
  );
  t.teardown(() => {
    fs.rmSync(serviceFile, { force: true });
    for (const u of [scope, slowService]) {
      try {
        n.systemdStopUnit('system', u, JOB_MS);
        n.systemdResetFailedUnit('system', u);
      } catch (err) {
        t.comment(`teardown: ${(err as Error).message}`);
      }
    }
  });
  const started = Date.now();
  let err: (Error & { code?: string; errno?: number }) | undefined;
  try {
    n.systemdStartTransientUnit(
      'system',
      scope,
      [
        { name: 'PIDs', value: { type: 'au', value: [sleep.pid as number] } },
        { name: 'Requires', value: { type: 'as', value: [slowService] } },
        { name: 'After', value: { type: 'as', value: [slowService] } },
      ],
      3000,
    );
  } catch (e) {
    err = e as typeof err;
  }
  const took = Date.now() - started;
  t.ok(err instanceof Error, 'the start does not finish');
  t.equal(err?.code, 'ETIMEDOUT');
  t.equal(err?.errno, -110);
  t.match(
    err?.message,
    /^systemd StartTransientUnit\([^)]+\): job \/org\/freedesktop\/systemd1\/job\/\d+ did not finish within 3000 ms$/,
  );
  t.ok(took >= 2900 && took < 30_000, `after about timeoutMs (${took} ms)`);
  t.equal(n.systemdUnitProperty('system', scope, 'ActiveState'), 'inactive', 'the scope is still waiting');
  t.equal(n.systemdUnitProperty('system', slowService, 'ActiveState'), 'activating', 'for the service');
  // The stop replaces the start job (whose JobRemoved, "canceled", is not the stop's).
  t.equal(n.systemdStopUnit('system', scope, JOB_MS), true, 'the scope stops');
  t.equal(n.systemdStopUnit('system', slowService, JOB_MS), true, 'the service stops');
  const state = n.systemdUnitProperty('system', slowService, 'ActiveState');
  t.ok(state === undefined || state === 'inactive' || state === 'failed', `the service is down (${state})`);
});

t.test("over systemd's private socket (no bus): the same calls, jobs included", { skip }, async (t) => {
  // A fresh process whose system bus address leads nowhere: root falls back to
  // /run/systemd/private, where messages have no sender and JobRemoved comes unsubscribed.
  const sleep = sleeper(t);
  const privateUnit = `tsrunc-sdbus-test-${process.pid}-private.scope`;
  const addon = path.join(path.dirname(initPath()), 'tsrunc.node');
  const script = `
    const n = require(${JSON.stringify(addon)});
    const out = { version: n.systemdManagerProperty('system', 'Version') };
    n.systemdStartTransientUnit('system', ${JSON.stringify(privateUnit)},
      [{ name: 'PIDs', value: { type: 'au', value: [${sleep.pid}] } }], ${JOB_MS});
    out.active = n.systemdUnitProperty('system', ${JSON.stringify(privateUnit)}, 'ActiveState');
    out.cgroup = require('fs').readFileSync('/proc/${sleep.pid}/cgroup', 'utf8').trim();
    out.stopped = n.systemdStopUnit('system', ${JSON.stringify(privateUnit)}, ${JOB_MS});
    console.log(JSON.stringify(out));`;
  t.teardown(() => {
    try {
      native().systemdStopUnit('system', privateUnit, JOB_MS);
    } catch {
      // stopped by the child
    }
  });
  const out = JSON.parse(
    execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/tsrunc-sdbus-test/bus' },
      encoding: 'utf8',
    }),
  ) as { version: string; active: string; cgroup: string; stopped: boolean };
  t.ok(Number.parseInt(out.version, 10) >= 200, 'Version');
  t.equal(out.active, 'active', 'the scope started (its JobRemoved was seen)');
  t.equal(out.cgroup, `0::/system.slice/${privateUnit}`, 'the process is in it');
  t.equal(out.stopped, true, 'and stopped');
});
