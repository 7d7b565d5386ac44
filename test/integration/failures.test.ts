// A create that fails at any step leaves nothing behind: no state under --root, no cgroup
// directory, no process, no mount on the host; its error names the step and the cause, on
// stderr and as JSON in --log.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { Spec } from '../../src/spec/types';
import { rootSkipReason, testContainer, userNamespace, type TestContainer } from '../helpers/container';
import { hostMountsMentioning, leftovers, processesMentioning } from '../helpers/host';
import { lastLogEntry, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason();

/** Creates a container from `edit` with extra create flags; the result and the container. */
function failingCreate(
  t: Teardownable,
  edit: (s: Spec, bundle: string) => void,
  flags: string[] = [],
  opts: { copyRootfs?: boolean } = {},
): { status: number | null; stderr: string; c: TestContainer; log: Record<string, unknown> | undefined } {
  const c = testContainer(t, edit, opts);
  const logFile = path.join(c.bundle, 'log.json');
  const r = c.tsrunc(['--log', logFile, '--log-format', 'json', 'create', ...flags, c.id]);
  return { status: r.status, stderr: r.stderr, c, log: lastLogEntry(logFile) };
}

function assertNothingLeft(t: Test, c: TestContainer): void {
  t.same(leftovers(c), [], 'no state, cgroup, process or host mount of the bundle');
  const rootfs = c.spec.root!.path;
  t.same(processesMentioning([rootfs]), [], 'no process rooted in the rootfs');
  t.same(hostMountsMentioning(rootfs), [], 'no host mount of the rootfs');
  t.equal(c.status(), 'missing', 'state says the container does not exist');
}

t.test('a bind mount source that does not exist', { skip }, async (t) => {
  const missing = '/nonexistent/tsrunc-source';
  const r = failingCreate(t, (s) =>
    s.mounts!.push({ destination: '/mnt/x', type: 'bind', source: missing, options: ['bind'] }),
  );
  t.equal(r.status, 1);
  t.match(r.stderr, `/mounts/${r.c.spec.mounts!.length - 1}/source`, 'the error points at the mount');
  t.match(r.stderr, `bind mount source ${missing} does not exist`);
  t.equal(r.log?.['level'], 'error');
  t.match(r.log?.['msg'], missing);
  assertNothingLeft(t, r.c);
});

t.test('a mount that fails inside the new container', { skip }, async (t) => {
  const r = failingCreate(t, (s) => s.mounts!.push({ destination: '/mnt/x', type: 'nosuchfs', source: 'none' }));
  t.equal(r.status, 1);
  t.match(
    r.stderr,
    /mounting none on \/mnt\/x \(nosuchfs\): mount: no such device/,
    'the error names the step and the cause',
  );
  t.match(r.log?.['msg'], /mounting none on \/mnt\/x/);
  assertNothingLeft(t, r.c);
});

t.test('a missing executable', { skip }, async (t) => {
  const r = failingCreate(t, (s) => (s.process!.args = ['no-such-program', 'arg']));
  t.equal(r.status, 1);
  // runc's words (Go's exec.LookPath), which the docker CLI matches to exit 127
  t.match(r.stderr, /exec: \\?"no-such-program\\?": executable file not found in \$PATH/);
  assertNothingLeft(t, r.c);
  const abs = failingCreate(t, (s) => (s.process!.args = ['/bin/no-such-program']));
  t.equal(abs.status, 1);
  t.match(abs.stderr, /exec: \\?"\/bin\/no-such-program\\?": stat \/bin\/no-such-program: no such file or directory/);
  assertNothingLeft(t, abs.c);
});

t.test('a cwd that is not a directory', { skip }, async (t) => {
  const r = failingCreate(t, (s) => (s.process!.cwd = '/bin/busybox'));
  t.equal(r.status, 1);
  t.match(r.stderr, /\/bin\/busybox/);
  t.match(r.stderr, /not a directory/, "errno's text in Go's lower case, as runc's callers read it");
  assertNothingLeft(t, r.c);
});

t.test('a failing hook', { skip }, async (t) => {
  const r = failingCreate(t, (s) => (s.hooks = { createRuntime: [{ path: '/bin/false', args: ['false'] }] }));
  t.equal(r.status, 1);
  t.match(r.stderr, /createRuntime hook #0 \(\/bin\/false\) failed: exit status 1/);
  assertNothingLeft(t, r.c);
  const missing = failingCreate(t, (s) => (s.hooks = { createContainer: [{ path: '/nonexistent/hook' }] }));
  t.equal(missing.status, 1);
  t.match(
    missing.stderr,
    /createContainer hook #0 \(\/nonexistent\/hook\) failed: exit status 127: exec \/nonexistent\/hook: no such file or directory/,
  );
  assertNothingLeft(t, missing.c);
});

t.test('--pid-file in a directory that does not exist', { skip }, async (t) => {
  const r = failingCreate(t, () => {}, ['--pid-file', '/nonexistent/dir/pid']);
  t.equal(r.status, 1);
  t.match(r.stderr, /pid file \/nonexistent\/dir\/pid/);
  assertNothingLeft(t, r.c);
  t.notOk(fs.existsSync('/nonexistent'), 'nothing was created for it');
});

t.test('a failure after the user namespace is set up', { skip }, async (t) => {
  // The first step after the maps: the mapped root cannot reach the shared rootfs (0700).
  const early = failingCreate(t, (s) => userNamespace(s));
  t.equal(early.status, 1);
  t.match(early.stderr, `binding the rootfs ${early.c.spec.root!.path} onto itself: mount: permission denied`);
  assertNothingLeft(t, early.c);
  // The last step: the program is looked up inside a rootfs the mapped root can reach.
  const late = failingCreate(
    t,
    (s, bundle) => {
      userNamespace(s, { bundle });
      s.process!.args = ['no-such-program'];
    },
    [],
    { copyRootfs: true },
  );
  t.equal(late.status, 1);
  t.match(late.stderr, /exec: \\?"no-such-program\\?": executable file not found in \$PATH/);
  assertNothingLeft(t, late.c);
});
