// Rootless decisions without root: runc's default root and rootless cgroup rules
// (src/util/rootless.ts), which cgroups an ordinary user can make (cgroupUnusable, on a made-up
// tree), limits refused where the container has no cgroup, and the default cgroup of a pure v2 host.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { CgroupfsManager, cgroupUnusable, resolveCgroupPaths } from '../../src/cgroups/cgroupfs';
import type { CgroupHierarchy } from '../../src/cgroups/hierarchy';
import type { ConfigError } from '../../src/errors';
import { defaultSpec, rootlessSpec } from '../../src/spec/default-spec';
import type { Spec } from '../../src/spec/types';
import { validateConfig } from '../../src/spec/validate';
import { defaultRoot, inUserNamespace, useRootlessCgroups, type RootlessFacts } from '../../src/util/rootless';

const facts = (f: Partial<RootlessFacts>): RootlessFacts => ({
  euid: 0,
  egid: 0,
  inUserNamespace: false,
  env: {},
  ...f,
});

t.test(
  'the default --root: /run/tsrunc, or $XDG_RUNTIME_DIR/tsrunc where runc uses $XDG_RUNTIME_DIR/runc',
  async (t) => {
    t.equal(defaultRoot(facts({})), '/run/tsrunc');
    t.equal(defaultRoot(facts({ env: { XDG_RUNTIME_DIR: '/run/user/0' } })), '/run/tsrunc', 'root: /run/tsrunc');
    t.equal(defaultRoot(facts({ euid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000/' } })), '/run/user/1000/tsrunc');
    t.equal(
      defaultRoot(facts({ euid: 1000 })),
      '/run/tsrunc',
      'no XDG_RUNTIME_DIR: /run/tsrunc (which then fails, as runc)',
    );
    t.equal(
      defaultRoot(facts({ inUserNamespace: true, env: { XDG_RUNTIME_DIR: '/run/user/1000', USER: 'alice' } })),
      '/run/user/1000/tsrunc',
      "root in a user namespace, as someone else's: the user's runtime dir",
    );
    t.equal(
      defaultRoot(facts({ inUserNamespace: true, env: { XDG_RUNTIME_DIR: '/run/user/0', USER: 'root' } })),
      '/run/tsrunc',
    );
    t.equal(
      defaultRoot(facts({ inUserNamespace: true, env: { XDG_RUNTIME_DIR: '/run/user/1000' } })),
      '/run/user/1000/tsrunc',
      "root of rootless podman's user namespace (conmon sets XDG_RUNTIME_DIR, no USER): the user's runtime dir, as runc",
    );
  },
);

t.test("--rootless: runc's shouldUseRootlessCgroupManager", async (t) => {
  t.equal(useRootlessCgroups('true', facts({}), false), true);
  t.equal(useRootlessCgroups('false', facts({ euid: 1000 }), false), false);
  t.equal(useRootlessCgroups('auto', facts({ euid: 1000 }), false), true, 'auto: an ordinary user is rootless');
  t.equal(useRootlessCgroups('auto', facts({}), false), false, 'auto: the real root is not');
  t.equal(useRootlessCgroups('auto', facts({ inUserNamespace: true }), false), true, 'root in a user namespace is');
  t.equal(
    useRootlessCgroups('auto', facts({ inUserNamespace: true }), true),
    false,
    "with the systemd driver it keeps the system's (runc's answer when it cannot tell the bus's owner)",
  );
  t.equal(useRootlessCgroups('auto', facts({ euid: 1000 }), true), true, 'an ordinary user with systemd: rootless');
  t.equal(inUserNamespace('         0          0 4294967295\n'), false);
  t.equal(inUserNamespace('         0       1000          1\n'), true);
});

t.test(
  "on a pure cgroup v2 host a relative cgroupsPath is below the parent of the runtime's cgroup, as runc's fs2",
  async (t) => {
    const v2: CgroupHierarchy[] = [
      { key: '', mountpoint: '/sys/fs/cgroup', version: 2, controllers: ['memory'], root: '/' },
    ];
    const own = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope\n';
    t.same(resolveCgroupPaths(undefined, 'web', v2, own), {
      '': '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/web',
    });
    t.same(resolveCgroupPaths('/abs/web', 'web', v2, own), { '': '/sys/fs/cgroup/abs/web' }, 'absolute: from the root');
    const hybrid: CgroupHierarchy[] = [
      { key: 'memory', mountpoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'], root: '/' },
      { key: 'unified', mountpoint: '/sys/fs/cgroup/unified', version: 2, controllers: [], root: '/' },
    ];
    t.same(
      resolveCgroupPaths(undefined, 'web', hybrid, '5:memory:/sess\n0::/sess\n'),
      { memory: '/sys/fs/cgroup/memory/sess/web', unified: '/sys/fs/cgroup/unified/sess/web' },
      "a v1 or hybrid host: below the runtime's own cgroup (runc's fs)",
    );
  },
);

t.test('cgroupUnusable: what an ordinary user cannot make or join is named, with the reason', async (t) => {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-cg-'));
  t.teardown(() => fs.rmSync(tree, { recursive: true, force: true }));
  fs.mkdirSync(path.join(tree, 'deleg', 'shell'), { recursive: true });
  for (const d of [tree, path.join(tree, 'deleg'), path.join(tree, 'deleg', 'shell')])
    fs.writeFileSync(path.join(d, 'cgroup.procs'), '');
  // access(2) says yes to root for anything: the user's answers are made up here (what the
  // kernel answers an ordinary user is exercised by test/integration/rootless.test.ts).
  const deny =
    (...files: string[]) =>
    (file: string): string | undefined =>
      files.includes(file) ? `${file}: EACCES` : undefined;
  const deleg = path.join(tree, 'deleg');
  const shell = path.join(deleg, 'shell');
  t.equal(cgroupUnusable(path.join(deleg, 'c1'), tree, shell, deny()), undefined, 'a writable parent: usable');
  t.equal(cgroupUnusable(shell, tree, undefined, deny()), undefined, 'an existing cgroup with a writable cgroup.procs');
  t.match(
    cgroupUnusable(path.join(deleg, 'c1'), tree, undefined, deny(deleg)) ?? '',
    /creating cgroup .*deleg\/c1: .*deleg is not writable \(EACCES\)/,
    'the nearest existing ancestor must be writable',
  );
  t.match(
    cgroupUnusable(path.join(deleg, 'c1', 'sub'), tree, undefined, deny(deleg)) ?? '',
    /creating cgroup .*deleg\/c1\/sub: .*deleg is not writable/,
    'missing parents are looked through',
  );
  t.match(
    cgroupUnusable(shell, tree, undefined, deny(path.join(shell, 'cgroup.procs'))) ?? '',
    /joining cgroup .*shell: .*cgroup.procs: EACCES/,
    "an existing cgroup's cgroup.procs must be writable",
  );
  t.match(
    cgroupUnusable(path.join(tree, 'c2'), tree, shell, deny(path.join(tree, 'cgroup.procs'))) ?? '',
    /moving a process from .*deleg\/shell to .*c2: .*cgroup.procs: EACCES/,
    "cgroup v2: the common ancestor's cgroup.procs must be writable too",
  );
  t.equal(
    cgroupUnusable(path.join(deleg, 'c3'), tree, shell, deny(path.join(tree, 'cgroup.procs'))),
    undefined,
    'an ancestor above the common one does not matter',
  );
  if (process.getuid?.() !== 0) {
    // (as an ordinary user the real access(2) answers too)
    fs.chmodSync(deleg, 0o555);
    t.match(cgroupUnusable(path.join(deleg, 'c1'), tree) ?? '', /deleg is not writable \(EACCES\)/);
    fs.chmodSync(deleg, 0o755);
  }
});

t.test(
  'rootless: a limit in a hierarchy the container has no cgroup in is refused before anything exists',
  async (t) => {
    const hs: CgroupHierarchy[] = [
      { key: 'memory', mountpoint: '/nonexistent/memory', version: 1, controllers: ['memory'], root: '/' },
      { key: 'pids', mountpoint: '/nonexistent/pids', version: 1, controllers: ['pids'], root: '/' },
    ];
    // (nothing under /nonexistent: no ancestor is writable, for any user but root)
    const m = new CgroupfsManager(
      'c1',
      hs,
      { pids: '/nonexistent/pids/c1' },
      {
        without: new Map([
          ['memory', 'creating cgroup /nonexistent/memory/c1: /nonexistent/memory is not writable (EACCES)'],
        ]),
      },
    );
    const spec = defaultSpec();
    spec.linux!.resources = { memory: { limit: 1 << 26 } };
    t.throws(() => m.prepare(spec), {
      message:
        /^\/linux\/resources\/memory\/limit: cannot set memory limit: container could not join or create cgroup: creating cgroup \/nonexistent\/memory\/c1: .*rootless/,
    });
    spec.linux!.resources = { pids: { limit: 10 }, devices: [{ allow: false, access: 'rwm' }] };
    t.doesNotThrow(
      () => m.prepare(spec),
      'a limit where it has a cgroup, and device rules (left where they cannot be set): fine',
    );
    t.same(m.recorded().cgroups, { pids: '/c1' }, 'the record names only the cgroups it has');
  },
);

t.test(
  "rootless validation (runc's rootlessEUIDCheck): a user namespace, and uid=/gid= options the container maps",
  async (t) => {
    const problems = (spec: Spec): string[] => {
      try {
        validateConfig(JSON.parse(JSON.stringify(spec)) as unknown, { bundle: '/b', rootlessEuid: true });
        return [];
      } catch (err) {
        return (err as ConfigError).problems.map((p) => `${p.pointer}: ${p.message}`);
      }
    };
    t.same(problems(rootlessSpec(1000, 1000)), [], "`spec --rootless`'s config is fine");
    t.match(problems(defaultSpec()), [/^\/linux\/namespaces: rootless container requires user namespaces/]);
    const gid5 = rootlessSpec(1000, 1000);
    gid5.mounts!.find((m) => m.destination === '/dev/pts')!.options!.push('gid=5');
    t.match(problems(gid5), [/^\/mounts\/2\/options\/\d+: cannot specify gid=5 mount option for rootless container/]);
    gid5.linux!.gidMappings!.push({ containerID: 1, hostID: 100000, size: 65536 });
    t.same(problems(gid5), [], 'a gid the container maps is fine');
    const odd = rootlessSpec(1000, 1000);
    odd.mounts!.find((m) => m.destination === '/dev/shm')!.options!.push('uid=0x10', 'gid=+5');
    t.match(
      problems(odd),
      [/uid= must be a decimal id for a rootless container, got "uid=0x10"/, /gid= must be a decimal id .*"gid=\+5"/],
      'an id in another form is refused rather than passed to the kernel unchecked',
    );
    let asRoot: unknown;
    try {
      validateConfig(JSON.parse(JSON.stringify(defaultSpec())) as unknown, { bundle: '/b' });
    } catch (err) {
      asRoot = err;
    }
    t.equal(asRoot, undefined, 'as root, no user namespace is needed');
  },
);
