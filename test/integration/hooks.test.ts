// Hooks through a container's life: all six kinds in order, each with the state on stdin, in
// the namespaces the runtime-spec names, with their args and env; create-time failures and
// timeouts that undo the container; poststart/poststop failures that are only logged.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { OCI_VERSION } from '../../src/spec/oci-version';
import type { Hook, HookName, Spec } from '../../src/spec/types';
import { rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { leftovers, processesMentioning, sharedDir, waitForStatus } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { tempDir, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason();

const HOOK_ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOOK_VAR=from-config'];

/**
 * A hook script that appends one line to `log`: NAME|mount namespace|args|$HOOK_VAR|state.
 * `extra` runs after that (say, `exit 3`).
 */
function hookScript(dir: string, name: string, log: string, extra = ''): string {
  const file = path.join(dir, `${name}.sh`);
  fs.writeFileSync(
    file,
    `#!/bin/sh\nstate=$(cat)\nprintf '%s|%s|%s|%s|%s\\n' ${name} "$(readlink /proc/self/ns/mnt)" "$*" "$HOOK_VAR" "$state" >> ${log}\n${extra}\n`,
    { mode: 0o755 },
  );
  return file;
}

interface LogLine {
  name: string;
  mntns: string;
  args: string;
  env: string;
  state: { ociVersion: string; id: string; status: string; pid?: number; bundle: string };
}

function readLog(file: string): LogLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name = '', mntns = '', args = '', env = '', ...state] = l.split('|');
      return { name, mntns, args, env, state: JSON.parse(state.join('|')) as LogLine['state'] };
    });
}

function hook(p: string, extra: Partial<Hook> = {}): Hook {
  return { path: p, args: [p, 'one', 'two'], env: HOOK_ENV, ...extra };
}

t.test('all six hooks run in order with the state on stdin', { skip }, async (t) => {
  const hostDir = sharedDir(t, 'tsrunc-hooks');
  const log = path.join(hostDir, 'log');
  const c = testContainer(
    t,
    (s, bundle) => {
      const h = (name: HookName): Hook => hook(hookScript(hostDir, name, log));
      // startContainer runs in the container after pivot_root: its path is the container's.
      fs.mkdirSync(path.join(bundle, 'rootfs', 'hooks'));
      hookScript(path.join(bundle, 'rootfs', 'hooks'), 'startContainer', '/hooklog/log');
      s.mounts!.push({ destination: '/hooklog', type: 'bind', source: hostDir, options: ['bind'] });
      s.hooks = {
        prestart: [h('prestart')],
        createRuntime: [h('createRuntime')],
        createContainer: [h('createContainer')],
        startContainer: [hook('/hooks/startContainer.sh')],
        poststart: [h('poststart')],
        poststop: [h('poststop')],
      };
    },
    { copyRootfs: true },
  );
  const created = c.tsrunc(['create', c.id]);
  t.equal(created.status, 0, created.stderr);
  const pid = c.pid();
  const hostMnt = fs.readlinkSync('/proc/self/ns/mnt');
  const containerMnt = fs.readlinkSync(`/proc/${pid}/ns/mnt`);
  t.same(
    readLog(log).map((l) => l.name),
    ['prestart', 'createRuntime', 'createContainer'],
    'create runs the create-time hooks, in order',
  );
  t.equal(c.tsrunc(['start', c.id]).status, 0);
  t.same(
    readLog(log).map((l) => l.name),
    ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart'],
    'start adds startContainer, then poststart',
  );
  t.equal(c.tsrunc(['kill', c.id, 'KILL']).status, 0);
  t.ok(await waitForStatus(c, 'stopped'));
  t.equal(c.tsrunc(['delete', c.id]).status, 0);
  const lines = readLog(log);
  t.same(
    lines.map((l) => l.name),
    ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    'delete runs poststop last',
  );

  const expected: Record<string, { status: string; mnt: string }> = {
    prestart: { status: 'creating', mnt: hostMnt },
    createRuntime: { status: 'creating', mnt: hostMnt },
    createContainer: { status: 'creating', mnt: containerMnt },
    startContainer: { status: 'created', mnt: containerMnt },
    poststart: { status: 'running', mnt: hostMnt },
    poststop: { status: 'stopped', mnt: hostMnt },
  };
  for (const l of lines) {
    const want = expected[l.name]!;
    t.equal(l.state.status, want.status, `${l.name}: status`);
    t.equal(l.state.id, c.id, `${l.name}: id`);
    t.equal(l.state.bundle, c.bundle, `${l.name}: bundle`);
    t.equal(l.state.ociVersion, OCI_VERSION, `${l.name}: ociVersion`);
    t.equal(
      l.state.pid,
      l.name === 'poststop' ? 0 : pid,
      `${l.name}: ${l.name === 'poststop' ? 'no pid (stopped)' : "the init's host pid"}`,
    );
    t.equal(
      l.mntns,
      want.mnt,
      `${l.name}: runs in the ${want.mnt === hostMnt ? "runtime's" : "container's"} mount namespace`,
    );
    t.equal(l.args, 'one two', `${l.name}: args`);
    t.equal(l.env, 'from-config', `${l.name}: env`);
  }
});

/** A container whose `kind` hook runs `extra` (after logging), with leftovers checked at the end. */
function containerWithHook(
  t: Teardownable,
  kind: HookName,
  extra: string,
  hookOpts: Partial<Hook> = {},
): { c: TestContainer; log: string; script: string } {
  const dir = tempDir(t, 'tsrunc-hooks');
  const log = path.join(dir, 'log');
  const script = hookScript(dir, kind, log, extra);
  const c = testContainer(t, (s: Spec) => {
    s.hooks = { [kind]: [hook(script, hookOpts)] };
  });
  return { c, log, script };
}

for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) {
  t.test(`a failing ${kind} hook fails create and leaves nothing`, { skip }, async (t) => {
    const { c, log, script } = containerWithHook(t, kind, 'echo "hook says no" >&2; exit 3');
    const logFile = path.join(c.bundle, 'log.json');
    const r = c.tsrunc(['--log', logFile, '--log-format', 'json', 'create', c.id]);
    t.equal(r.status, 1);
    // One message for every kind, whoever runs the hook (the runtime or the init).
    t.ok(
      r.stderr.includes(`${kind} hook #0 (${script}) failed: exit status 3: hook says no`),
      `the hook, its status and its stderr: ${r.stderr}`,
    );
    t.same(
      readLog(log).map((l) => l.name),
      [kind],
      'the hook ran once',
    );
    t.same(leftovers(c), [], 'no state, cgroup, process or mount left');
    const entry = fs
      .readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .pop();
    t.equal(entry?.level, 'error');
    t.match(entry?.msg, kind, 'the --log entry names the hook');
  });
}

for (const kind of ['prestart', 'createContainer'] as const) {
  t.test(`a ${kind} hook that outlives its timeout is killed and fails create`, { skip }, async (t) => {
    // The hook becomes a sleep far longer than the test, named after its own directory: create
    // returns only if the runtime kills it (else runWithFileStdio's bound ends it, status null).
    const { c, script } = containerWithHook(t, kind, 'exec "$(dirname "$0")/hook-sleep" 1000', { timeout: 1 });
    const sleeper = path.join(path.dirname(script), 'hook-sleep');
    fs.symlinkSync(fs.realpathSync('/bin/sleep'), sleeper);
    t.teardown(() => {
      for (const pid of processesMentioning([sleeper])) process.kill(pid, 'SIGKILL');
    });
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 1);
    t.ok(
      r.stderr.includes(`${kind} hook #0 (${script}) failed: timed out after 1s`),
      `the same words for both kinds: ${r.stderr}`,
    );
    t.same(processesMentioning([sleeper]), [], 'the hook was killed');
    t.same(leftovers(c), [], 'nothing left');
  });
}

t.test('a failing poststart hook is logged as a warning; the container runs on', { skip }, async (t) => {
  const { c, log } = containerWithHook(t, 'poststart', 'exit 5');
  const logFile = path.join(c.bundle, 'log.json');
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  const r = c.tsrunc(['--log', logFile, '--log-format', 'json', 'start', c.id]);
  t.equal(r.status, 0, r.stderr);
  t.equal(c.status(), 'running');
  t.same(
    readLog(log).map((l) => l.name),
    ['poststart'],
  );
  const entries = fs
    .readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: string; msg: string });
  t.ok(
    entries.some((e) => e.level === 'warning' && /poststart/.test(e.msg) && /exit status 5/.test(e.msg)),
    JSON.stringify(entries),
  );
});

t.test('a failing poststop hook is logged as a warning; delete still cleans up', { skip }, async (t) => {
  const { c, log } = containerWithHook(t, 'poststop', 'exit 6');
  const logFile = path.join(c.bundle, 'log.json');
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const r = c.tsrunc(['--log', logFile, '--log-format', 'json', 'delete', '--force', c.id]);
  t.equal(r.status, 0, r.stderr);
  t.same(
    readLog(log).map((l) => l.name),
    ['poststop'],
  );
  const entries = fs
    .readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: string; msg: string });
  t.ok(
    entries.some((e) => e.level === 'warning' && /poststop/.test(e.msg)),
    JSON.stringify(entries),
  );
  t.same(leftovers(c), [], 'nothing left');
});

t.test('hooks of run: the whole sequence in the foreground', { skip }, async (t) => {
  const dir = tempDir(t, 'tsrunc-hooks');
  const log = path.join(dir, 'log');
  const c = testContainer(t, (s) => {
    s.process!.args = ['true'];
    s.hooks = {};
    for (const kind of ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'] as const)
      s.hooks[kind] = [hook(hookScript(dir, kind, log))];
  });
  const r = c.tsrunc(['run', c.id]);
  t.equal(r.status, 0, r.stderr);
  t.same(
    readLog(log).map((l) => l.name),
    ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'],
  );
  t.same(leftovers(c), []);
});

t.test(
  'a state larger than a pipe buffer: hooks that read it get it whole, hooks that do not are fine',
  { skip },
  async (t) => {
    const hostDir = sharedDir(t, 'tsrunc-hooks');
    const big = 'x'.repeat(70_000); // more than a pipe holds: a hook that does not read makes the writer see EPIPE
    const c = testContainer(
      t,
      (s, bundle) => {
        s.annotations = { big };
        const saver = path.join(hostDir, 'save.sh');
        fs.writeFileSync(saver, `#!/bin/sh\ncat > ${hostDir}/$1.json\n`, { mode: 0o755 });
        fs.mkdirSync(path.join(bundle, 'rootfs', 'hooks'));
        fs.writeFileSync(path.join(bundle, 'rootfs', 'hooks', 'save.sh'), '#!/bin/sh\ncat > /hooklog/$1.json\n', {
          mode: 0o755,
        });
        s.mounts!.push({ destination: '/hooklog', type: 'bind', source: hostDir, options: ['bind'] });
        const ignoring = { path: '/bin/true', args: ['true'] };
        s.hooks = {
          prestart: [ignoring, { path: saver, args: ['save', 'prestart'] }],
          createRuntime: [ignoring],
          createContainer: [ignoring, { path: saver, args: ['save', 'createContainer'] }],
          startContainer: [
            { path: '/bin/true', args: ['true'] },
            { path: '/hooks/save.sh', args: ['save', 'startContainer'] },
          ],
        };
      },
      { copyRootfs: true },
    );
    const created = c.tsrunc(['create', c.id]);
    t.equal(created.status, 0, created.stderr);
    const started = c.tsrunc(['start', c.id]);
    t.equal(started.status, 0, started.stderr);
    t.equal(c.status(), 'running', 'the init survived hooks that did not read their stdin');
    for (const [kind, status] of [
      ['prestart', 'creating'],
      ['createContainer', 'creating'],
      ['startContainer', 'created'],
    ] as const) {
      const text = fs.readFileSync(path.join(hostDir, `${kind}.json`), 'utf8');
      let state: { status?: string; annotations?: Record<string, string> } = {};
      try {
        state = JSON.parse(text) as typeof state;
      } catch {
        t.fail(`${kind}: the state is not whole JSON (${text.length} bytes)`);
      }
      t.equal(state.status, status, `${kind}: status`);
      t.equal(state.annotations?.['big']?.length, big.length, `${kind}: the annotations arrived whole`);
    }
  },
);

const withRunc = skip || (RUNC === undefined ? 'runc is not installed' : false);

t.test(
  'createContainer hooks run with the rootfs as their working directory, as runc runs them',
  { skip: withRunc },
  async (t) => {
    const log = sharedDir(t, 'tsrunc-hookcwd');
    const hookFile = path.join(log, 'cwd.sh');
    fs.writeFileSync(hookFile, `#!/bin/sh\npwd >> ${log}/cwd\n`, { mode: 0o755 });
    const c = testContainer(t, (s) => {
      s.hooks = { createContainer: [{ path: hookFile, env: HOOK_ENV }] };
      s.process!.args = ['true'];
    });
    t.equal(c.tsrunc(['run', c.id]).status, 0);
    t.equal(runcTwin(t, c).run(['run', 'ID']).status, 0);
    const lines = fs.readFileSync(path.join(log, 'cwd'), 'utf8').split('\n').filter(Boolean);
    t.same(lines, [c.spec.root!.path, c.spec.root!.path], "tsrunc's hook and runc's ran in the rootfs");
  },
);

t.test(
  "startContainer hooks run under the container's seccomp filter, as runc runs them",
  { skip: withRunc },
  async (t) => {
    const log = sharedDir(t, 'tsrunc-hookseccomp');
    const c = testContainer(
      t,
      (s, bundle) => {
        fs.mkdirSync(path.join(bundle, 'rootfs/hooks'));
        fs.writeFileSync(
          path.join(bundle, 'rootfs/hooks/start.sh'),
          '#!/bin/sh\nmkdir /log/dir-$$ 2>/dev/null && echo mkdir-ran >> /log/out || echo mkdir-refused >> /log/out\n',
          { mode: 0o755 },
        );
        s.mounts!.push({ destination: '/log', type: 'bind', source: log, options: ['bind', 'rw'] });
        s.process!.noNewPrivileges = true;
        s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
        };
        s.hooks = { startContainer: [{ path: '/hooks/start.sh', env: HOOK_ENV }] };
        s.process!.args = ['true'];
      },
      { copyRootfs: true },
    );
    const ours = c.tsrunc(['run', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    const theirs = runcTwin(t, c).run(['run', 'ID']);
    t.equal(theirs.status, 0, theirs.stderr);
    t.equal(
      fs.readFileSync(path.join(log, 'out'), 'utf8'),
      'mkdir-refused\nmkdir-refused\n',
      'both hooks met the filter',
    );
  },
);

t.test('a failing startContainer hook fails start with the same words as every other hook', { skip }, async (t) => {
  const c = testContainer(
    t,
    (s, bundle) => {
      fs.mkdirSync(path.join(bundle, 'rootfs/hooks'));
      fs.writeFileSync(path.join(bundle, 'rootfs/hooks/no.sh'), '#!/bin/sh\necho "start says no" >&2\nexit 4\n', {
        mode: 0o755,
      });
      s.hooks = { startContainer: [{ path: '/hooks/no.sh', env: HOOK_ENV }] };
    },
    { copyRootfs: true },
  );
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  const r = c.tsrunc(['start', c.id]);
  t.equal(r.status, 1);
  t.ok(r.stderr.includes('startContainer hook #0 (/hooks/no.sh) failed: exit status 4: start says no'), r.stderr);
});
