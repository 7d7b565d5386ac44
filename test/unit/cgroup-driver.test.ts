// The cgroup driver factory: cgroupfs by default; --systemd-cgroup reads cgroupsPath as runc's
// systemd driver does (so a malformed one is named first), and where systemd is not the host's
// init (this machine) refuses every new container, in runc's words and exit status. The
// driver itself is tested in test/unit/systemd-driver.test.ts and under a real systemd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CGROUP_FEATURES, selectCgroupDriver } from '../../src/cgroups';
import { defaultSpec } from '../../src/spec/default-spec';
import { privateRoot, rootEntries, runTsrunc, tempDir, writeBundle } from '../helpers/tsrunc';

const REFUSED =
  /--systemd-cgroup: systemd is not running on this host \(no \/run\/systemd\/system\), cannot use the systemd cgroup manager; use the cgroupfs driver \(omit --systemd-cgroup\)/;
const SYSTEMD_HOST = fs.existsSync('/run/systemd/system');

t.test('the factory: cgroupfs unless --systemd-cgroup', async (t) => {
  t.equal(selectCgroupDriver().name, 'cgroupfs');
  t.equal(
    selectCgroupDriver({ systemd: false, rootless: 'true' }).name,
    'cgroupfs',
    '--rootless: still the cgroupfs driver (its rootless form)',
  );
  t.equal(selectCgroupDriver({ systemd: true }).name, 'systemd');
  t.equal(selectCgroupDriver().cgroupsPathProblem('/default/web'), undefined, 'cgroupfs takes any cgroupsPath');
  const systemd = selectCgroupDriver({ systemd: true });
  t.equal(systemd.cgroupsPathProblem('system.slice:tsrunc:web'), undefined);
  t.equal(
    systemd.cgroupsPathProblem('/default/web'),
    'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/default/web" instead',
  );
  t.equal(
    systemd.cgroupsPathProblem('system.slice:tsrunc:a/b'),
    'the unit name "tsrunc-a/b.scope" has characters systemd does not accept in one',
  );
  t.equal(systemd.cgroupsPathProblem('system:tsrunc:web'), 'invalid slice name: system');
  t.equal(systemd.cgroupsPathProblem('a--b.slice:tsrunc:web'), 'invalid slice name: a--b.slice');
  t.equal(systemd.cgroupsPathProblem(':tsrunc:web'), undefined, 'an empty slice is system.slice');
  if (!SYSTEMD_HOST)
    t.throws(() => systemd.forContainer('web', 'system.slice:tsrunc:web'), {
      name: 'TsruncError',
      kind: 'system',
      message: REFUSED,
    });
});

t.test(
  'through the CLI: a malformed systemd cgroupsPath is a config problem, a well-formed one is refused at create without systemd',
  { skip: SYSTEMD_HOST ? "systemd is this host's init (the guest runs the driver for real)" : false },
  async (t) => {
    const dir = tempDir(t, 'tsrunc-systemd');
    const spec = defaultSpec();
    spec.linux = { ...spec.linux, cgroupsPath: '/default/web' };
    const bad = writeBundle(path.join(dir, 'bad'), spec);
    spec.linux.cgroupsPath = 'system.slice:tsrunc:web';
    const good = writeBundle(path.join(dir, 'good'), spec);
    const root = privateRoot(t);

    const v = runTsrunc(['--systemd-cgroup', 'validate', '--bundle', bad]);
    t.equal(v.status, 1);
    // (stderr carries it as a logfmt line: its quotes escaped)
    const problem =
      /config\.json: \/linux\/cgroupsPath: expected cgroupsPath to be of format \\?"slice:prefix:name\\?" for systemd cgroups, got \\?"\/default\/web\\?" instead/;
    t.match(v.stderr, problem);
    t.equal(
      runTsrunc(['--systemd-cgroup', 'validate', '--bundle', good]).status,
      0,
      'validate accepts a well-formed one (it checks the config, not the driver)',
    );
    t.equal(runTsrunc(['validate', '--bundle', bad]).status, 0, 'without --systemd-cgroup any cgroupsPath is fine');

    const badCreate = runTsrunc(['--root', root, '--systemd-cgroup', 'create', '--bundle', bad, 'web']);
    t.equal(badCreate.status, 1);
    t.match(badCreate.stderr, problem, 'create names the config problem first');
    t.notMatch(badCreate.stderr, REFUSED);
    const refused = runTsrunc(['--root', root, '--systemd-cgroup', 'create', '--bundle', good, 'web']);
    t.equal(refused.status, 1);
    t.match(refused.stderr, REFUSED);
    t.same(rootEntries(root), [], 'nothing under --root');
  },
);

t.test("features: the drivers' cgroup section (systemdUser: the user manager's scopes, rootless)", async (t) => {
  const r = runTsrunc(['features']);
  t.equal(r.status, 0);
  t.same((JSON.parse(r.stdout) as { linux: { cgroup: unknown } }).linux.cgroup, {
    v1: true,
    v2: true,
    systemd: true,
    systemdUser: true,
    rdma: false,
  });
  t.same(CGROUP_FEATURES, { v1: true, v2: true, systemd: true, systemdUser: true, rdma: false });
});
