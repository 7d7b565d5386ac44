// The container's process seen from inside a busybox container (and from the host): user,
// groups, umask, rlimits, capability sets, no_new_privs, oom_score_adj, cwd, env, and the
// fds it inherits (0-2 and --preserve-fds only).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { capabilityNumber } from '../../src/spec/linux-names';
import type { Spec } from '../../src/spec/types';
import { cgroupDirsOf, rootSkipReason, runContainer, testContainer } from '../helpers/container';
import { statusField } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { TSRUNC, rootEntries, tempDir } from '../helpers/tsrunc';

const skip = rootSkipReason();

/** /proc/self/status as the container's process sees it. */
function statusInside(
  t: Parameters<typeof runContainer>[0],
  edit: Parameters<typeof runContainer>[1],
): { status: number | null; text: string; stderr: string } {
  const r = runContainer(t, (s, bundle) => {
    edit(s, bundle);
    s.process!.args = ['cat', '/proc/self/status'];
  });
  return { status: r.status, text: r.stdout, stderr: r.stderr };
}

/** The kernel's hex form of a capability set, as /proc/PID/status prints it. */
function capHex(names: string[]): string {
  let mask = 0n;
  for (const n of names) mask |= 1n << BigInt(capabilityNumber(n) ?? -1);
  return mask.toString(16).padStart(16, '0');
}

t.test('uid, gid and additional gids', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.process!.user = { uid: 1000, gid: 1001, additionalGids: [10, 20, 30] };
    s.process!.args = ['sh', '-c', 'id -u; id -g; id -G; cat /proc/self/status'];
  });
  t.equal(r.status, 0, r.stderr);
  const [uid, gid, groups] = r.stdout.split('\n');
  t.equal(uid, '1000');
  t.equal(gid, '1001');
  t.same(groups?.split(' ').sort(), ['1001', '10', '20', '30'].sort(), 'id -G: the gid and the additional gids');
  t.equal(statusField(r.stdout, 'Uid'), '1000\t1000\t1000\t1000', 'real, effective, saved and fs uid');
  t.equal(statusField(r.stdout, 'Gid'), '1001\t1001\t1001\t1001');
  t.equal(statusField(r.stdout, 'Groups'), '10 20 30', 'exactly the additional gids');
});

t.test('root without additional gids has no supplementary groups', { skip }, async (t) => {
  const r = statusInside(t, (s) => (s.process!.user = { uid: 0, gid: 0 }));
  t.equal(r.status, 0, r.stderr);
  t.equal(statusField(r.text, 'Groups'), '', "the runtime's groups do not leak in");
});

t.test('umask', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.process!.user = { uid: 0, gid: 0, umask: 0o027 };
    s.process!.args = ['sh', '-c', 'umask; grep Umask /proc/self/status'];
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '0027\nUmask:\t0027\n');
  const dflt = runContainer(t, (s) => (s.process!.args = ['sh', '-c', 'umask']));
  t.equal(dflt.stdout, '0022\n', 'the default is 0022');
});

t.test('rlimits', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.process!.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 },
      { type: 'RLIMIT_NPROC', soft: 300, hard: 400 },
      { type: 'RLIMIT_MSGQUEUE', soft: 4096, hard: 8192 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
    ];
    s.process!.args = ['cat', '/proc/self/limits'];
  });
  t.equal(r.status, 0, r.stderr);
  const limit = (name: string): string[] => {
    const line = r.stdout.split('\n').find((l) => l.startsWith(name));
    return (line ?? '').slice(name.length).trim().split(/\s+/).slice(0, 2);
  };
  t.same(limit('Max open files'), ['512', '1000']);
  t.same(limit('Max processes'), ['300', '400']);
  t.same(limit('Max msgqueue size'), ['4096', '8192']);
  t.same(limit('Max core file size'), ['0', '0']);
});

t.test('capability sets of root match the config', { skip }, async (t) => {
  const bounding = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE'];
  const inheritable = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const r = statusInside(t, (s) => {
    s.process!.capabilities = {
      bounding,
      effective: bounding,
      permitted: bounding,
      inheritable,
      // CAP_SYS_ADMIN is neither permitted nor inheritable: the kernel refuses it as ambient.
      ambient: ['CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN'],
    };
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(statusField(r.text, 'CapBnd'), capHex(bounding), 'CapBnd');
  t.equal(statusField(r.text, 'CapPrm'), capHex(bounding), 'CapPrm');
  t.equal(statusField(r.text, 'CapEff'), capHex(bounding), 'CapEff');
  t.equal(statusField(r.text, 'CapInh'), capHex(inheritable), 'CapInh');
  t.equal(
    statusField(r.text, 'CapAmb'),
    capHex(['CAP_NET_BIND_SERVICE']),
    'CapAmb: only what is also permitted and inheritable',
  );
});

t.test('a non-root user keeps exactly its ambient capabilities across exec', { skip }, async (t) => {
  const bounding = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'];
  const permitted = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const inheritable = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const r = statusInside(t, (s) => {
    s.process!.user = { uid: 1000, gid: 1000 };
    s.process!.capabilities = {
      bounding,
      effective: permitted,
      permitted,
      inheritable,
      ambient: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN'],
    };
  });
  t.equal(r.status, 0, r.stderr);
  // Without file capabilities, a non-root exec keeps permitted = effective = ambient.
  const ambient = capHex(['CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  t.equal(statusField(r.text, 'CapAmb'), ambient, 'CapAmb');
  t.equal(statusField(r.text, 'CapPrm'), ambient, 'CapPrm');
  t.equal(statusField(r.text, 'CapEff'), ambient, 'CapEff');
  t.equal(statusField(r.text, 'CapInh'), capHex(inheritable), 'CapInh');
  t.equal(statusField(r.text, 'CapBnd'), capHex(bounding), 'CapBnd');
});

t.test('no capabilities in the config means none at all', { skip }, async (t) => {
  const r = statusInside(t, (s) => {
    s.process!.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
  });
  t.equal(r.status, 0, r.stderr);
  for (const set of ['CapBnd', 'CapPrm', 'CapEff', 'CapInh', 'CapAmb'])
    t.equal(statusField(r.text, set), '0000000000000000', set);
});

t.test('noNewPrivileges', { skip }, async (t) => {
  const on = statusInside(t, (s) => (s.process!.noNewPrivileges = true));
  t.equal(on.status, 0, on.stderr);
  t.equal(statusField(on.text, 'NoNewPrivs'), '1');
  const off = statusInside(t, (s) => (s.process!.noNewPrivileges = false));
  t.equal(statusField(off.text, 'NoNewPrivs'), '0');
});

t.test('oomScoreAdj', { skip }, async (t) => {
  // Raising is always allowed; lowering would need CAP_SYS_RESOURCE.
  const r = runContainer(t, (s) => {
    s.process!.oomScoreAdj = 500;
    s.process!.args = ['cat', '/proc/self/oom_score_adj'];
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '500\n');
});

t.test('cwd', { skip }, async (t) => {
  const r = runContainer(t, (s) => {
    s.process!.cwd = '/tmp';
    s.process!.args = ['pwd'];
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, '/tmp\n');
  // runc creates a missing cwd inside the rootfs (before the root becomes read-only).
  const missing = runContainer(
    t,
    (s) => {
      s.process!.cwd = '/work/here';
      s.process!.args = ['pwd'];
    },
    { copyRootfs: true },
  );
  t.equal(missing.status, 0, missing.stderr);
  t.equal(missing.stdout, '/work/here\n');
});

t.test("env is exactly the config's (with HOME added where it has none, as runc)", { skip }, async (t) => {
  const env = ['PATH=/bin:/usr/bin', 'FOO=bar baz', 'EMPTY=', 'MULTI=a=b=c', 'HOME=/h'];
  const r = runContainer(t, (s) => {
    s.process!.env = env;
    s.process!.args = ['cat', '/proc/self/environ'];
  });
  t.equal(r.status, 0, r.stderr);
  t.same(r.stdout.split('\0').filter(Boolean), env);
  const noHome = runContainer(t, (s) => {
    s.process!.env = env.slice(0, -1);
    s.process!.args = ['cat', '/proc/self/environ'];
  });
  t.same(noHome.stdout.split('\0').filter(Boolean), [...env.slice(0, -1), 'HOME=/root']);
});

function fdsOf(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/fd`).sort((a, b) => Number(a) - Number(b));
}

t.test('the init has only fds 0, 1 and 2', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['create', c.id]).status, 0);
  t.equal(c.tsrunc(['start', c.id]).status, 0);
  const pid = c.pid();
  t.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\0/);
  t.same(fdsOf(pid), ['0', '1', '2']);
});

t.test('--preserve-fds 1 passes fd 3 on, and nothing more', { skip }, async (t) => {
  const c = testContainer(t);
  const dir = tempDir(t, 'tsrunc-fds');
  const extraPath = path.join(dir, 'extra');
  const out = fs.openSync(path.join(dir, 'out'), 'w');
  const err = fs.openSync(path.join(dir, 'err'), 'w');
  const extra = fs.openSync(extraPath, 'w');
  const another = fs.openSync(path.join(dir, 'another'), 'w');
  try {
    // fd 3 is preserved; fd 4 (given to tsrunc too) must not reach the container.
    const r = spawnSync(TSRUNC, ['--root', c.root, 'create', '--preserve-fds', '1', c.id], {
      cwd: c.bundle,
      stdio: ['ignore', out, err, extra, another],
      timeout: 60_000,
    });
    t.equal(r.status, 0, fs.readFileSync(path.join(dir, 'err'), 'utf8'));
  } finally {
    for (const fd of [out, err, extra, another]) fs.closeSync(fd);
  }
  t.equal(c.tsrunc(['start', c.id]).status, 0);
  const pid = c.pid();
  t.same(fdsOf(pid), ['0', '1', '2', '3']);
  t.equal(fs.readlinkSync(`/proc/${pid}/fd/3`), extraPath, "fd 3 is the caller's");
});

const withRunc = skip || (RUNC === undefined ? 'runc is not installed' : false);

/** A rootfs with a user 1000 (home /home/u) and a /root only uid 1234 may enter (0700). */
function passwdRootfs(s: Spec, bundle: string): void {
  const rootfs = path.join(bundle, 'rootfs');
  fs.appendFileSync(path.join(rootfs, 'etc/passwd'), 'u:x:1000:1000::/home/u:/bin/sh\n');
  fs.mkdirSync(path.join(rootfs, 'home/u'), { recursive: true });
  fs.chownSync(path.join(rootfs, 'root'), 1234, 1234);
  fs.chmodSync(path.join(rootfs, 'root'), 0o700);
  s.process!.env = ['PATH=/bin'];
}

t.test(
  'HOME, when the env has none, comes from /etc/passwd for the user ("/" when unknown), for run and exec, as runc sets it',
  { skip: withRunc },
  async (t) => {
    for (const [uid, env, want] of [
      [0, [], '/root'],
      [1000, [], '/home/u'],
      [65534, [], '/'],
      [4242, [], '/'],
      [0, ['HOME=/mine'], '/mine'],
      [0, ['HOME='], '/root'],
    ] as const) {
      const c = testContainer(
        t,
        (s, bundle) => {
          passwdRootfs(s, bundle);
          s.process!.env!.push(...env);
          s.process!.user = { uid, gid: 0 };
          s.process!.args = ['sh', '-c', 'echo "HOME=$HOME"'];
        },
        { copyRootfs: true },
      );
      const ours = c.tsrunc(['run', c.id]);
      t.equal(ours.stdout, `HOME=${want}\n`, `uid ${uid}, env ${JSON.stringify(env)}: ${ours.stderr}`);
      t.equal(runcTwin(t, c).run(['run', 'ID']).stdout, ours.stdout, 'as with runc');
    }
    const c = testContainer(t, passwdRootfs, { copyRootfs: true });
    const twin = runcTwin(t, c);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    t.equal(twin.run(['run', '-d', 'ID']).status, 0);
    for (const args of [
      ['sh', '-c', 'echo $HOME'],
      ['-u', '1000', 'sh', '-c', 'echo $HOME'],
      ['-e', 'HOME=/x', 'sh', '-c', 'echo $HOME'],
    ]) {
      const ours = c.tsrunc(['exec', c.id, ...args]);
      t.equal(
        ours.stdout,
        twin.run(['exec', 'ID', ...args]).stdout,
        `exec ${args.join(' ')}: ${ours.stdout.trim()}, as with runc`,
      );
    }
    t.equal(c.tsrunc(['exec', '-u', '1000', c.id, 'sh', '-c', 'echo $HOME']).stdout, '/home/u\n');
  },
);

t.test(
  'the working directory is entered before the user and capabilities change, as runc does',
  { skip: withRunc },
  async (t) => {
    // /root is 0700 and another uid's: uid 0 without CAP_DAC_OVERRIDE (the default capabilities)
    // can enter it only while it still has every capability.
    const c = testContainer(
      t,
      (s, bundle) => {
        passwdRootfs(s, bundle);
        s.process!.cwd = '/root';
        s.process!.args = ['pwd'];
      },
      { copyRootfs: true },
    );
    const ours = c.tsrunc(['run', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    t.equal(ours.stdout, '/root\n');
    t.equal(runcTwin(t, c).run(['run', 'ID']).stdout, ours.stdout, 'run: as with runc');
    const d = testContainer(t, passwdRootfs, { copyRootfs: true });
    const twin = runcTwin(t, d);
    t.equal(d.tsrunc(['run', '-d', d.id]).status, 0);
    t.equal(twin.run(['run', '-d', 'ID']).status, 0);
    for (const user of ['0', '1000']) {
      const ours = d.tsrunc(['exec', '-u', user, '--cwd', '/root', d.id, 'pwd']);
      t.equal(ours.stdout, '/root\n', `exec -u ${user} --cwd /root: ${ours.stderr}`);
      t.equal(
        twin.run(['exec', '-u', user, '--cwd', '/root', 'ID', 'pwd']).stdout,
        ours.stdout,
        `exec -u ${user}: as with runc`,
      );
    }
    const missing = d.tsrunc(['exec', '--cwd', '/nonexistent', d.id, 'pwd']);
    t.equal(missing.status, 255, 'a missing directory still fails exec');
    t.match(missing.stderr, /changing directory to \/nonexistent .*no such file or directory/);
  },
);

t.test(
  'a program the kernel cannot run after start (its ELF interpreter missing): the container says so on its stderr and exits 1, start succeeds, as runc',
  { skip: withRunc },
  async (t) => {
    const c = testContainer(
      t,
      (s, bundle) => {
        // a dynamically linked program in a static busybox rootfs: no /lib64/ld-linux*
        fs.copyFileSync('/usr/bin/true', path.join(bundle, 'rootfs/dyn'));
        fs.chmodSync(path.join(bundle, 'rootfs/dyn'), 0o755);
        s.process!.args = ['/dyn'];
      },
      { copyRootfs: true },
    );
    const twin = runcTwin(t, c);
    const ours = c.tsrunc(['run', c.id]);
    const theirs = twin.run(['run', 'ID']);
    t.equal(ours.status, 1, 'run exits 1');
    t.equal(ours.status, theirs.status, 'as runc');
    t.match(
      ours.stderr,
      /^exec \/dyn: no such file or directory\n$/,
      "the container's stderr says why, in runc's words",
    );
    t.equal(ours.stderr, theirs.stderr.replace(/.*level=.*\n/g, ''), 'the same words as runc');
    t.equal(c.tsrunc(['create', c.id]).status, 0);
    const start = c.tsrunc(['start', c.id]);
    t.equal(start.status, 0, `start has done its part: ${start.stderr}`);
    t.equal(twin.run(['create', 'ID']).status, 0);
    t.equal(twin.run(['start', 'ID']).status, 0, 'as runc start');
  },
);

const numaSkip = fs.existsSync('/proc/self/numa_maps') ? false : 'the kernel has no NUMA support (CONFIG_NUMA)';
const onlineNodes = (): string => fs.readFileSync('/sys/devices/system/node/online', 'utf8').trim();

/** The policies /proc/PID/numa_maps shows for the mappings of a process (the task's policy where a mapping has none). */
function numaPolicies(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(' ')[1] ?? ''),
  );
}

t.test(
  "linux.memoryPolicy: the init's and an exec'd process's memory policy, as /proc/PID/numa_maps shows it",
  { skip: skip || numaSkip },
  async (t) => {
    const c = testContainer(t, (s) => {
      s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] };
    });
    const created = c.tsrunc(['run', '-d', c.id]);
    t.equal(created.status, 0, created.stderr);
    const init = fs.readFileSync(`/proc/${c.pid()}/numa_maps`, 'utf8');
    t.same([...numaPolicies(init)], ['bind=static:0'], "the init's mappings are all bound to node 0, static");
    const exec = c.tsrunc(['exec', c.id, 'cat', '/proc/self/numa_maps']);
    t.equal(exec.status, 0, exec.stderr);
    t.same([...numaPolicies(exec.stdout)], ['bind=static:0'], "an exec'd process has it too (as runc's setns init)");
    const host = fs.readFileSync('/proc/self/numa_maps', 'utf8');
    t.notOk(numaPolicies(host).has('bind=static:0'), 'not the runtime caller (this test process)');

    const d = runContainer(t, (s) => {
      s.linux!.memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0' };
      s.process!.args = ['cat', '/proc/self/numa_maps'];
    });
    t.equal(d.status, 0, d.stderr);
    t.same([...numaPolicies(d.stdout)], ['interleave:0'], 'MPOL_INTERLEAVE');

    const features = JSON.parse(c.tsrunc(['features']).stdout) as {
      linux: { memoryPolicy?: { modes: string[]; flags: string[] } };
    };
    t.same(
      features.linux.memoryPolicy,
      {
        modes: [
          'MPOL_BIND',
          'MPOL_DEFAULT',
          'MPOL_INTERLEAVE',
          'MPOL_LOCAL',
          'MPOL_PREFERRED',
          'MPOL_PREFERRED_MANY',
          'MPOL_WEIGHTED_INTERLEAVE',
        ],
        flags: ['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'],
      },
      'features lists the modes and flags (as runc 1.3)',
    );
  },
);

t.test(
  'a memory policy the kernel refuses (a node this host does not have) fails create with the step named, nothing left',
  { skip: skip || numaSkip || (onlineNodes() === '0' ? false : `needs a single-node host (nodes ${onlineNodes()})`) },
  async (t) => {
    const c = testContainer(t, (s) => (s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '5' }));
    const r = c.tsrunc(['create', c.id]);
    t.not(r.status, 0, 'create fails');
    t.match(r.stderr, /setting the memory policy MPOL_BIND on nodes 5.*set_mempolicy.*invalid argument/i);
    t.same(rootEntries(c.root), [], 'nothing left under --root');
    t.same(cgroupDirsOf(c.id), [], 'no cgroup left');

    const bad = testContainer(t, (s) => (s.linux!.memoryPolicy = { mode: 'MPOL_PREFERRED', nodes: '1-x' }));
    const refused = bad.tsrunc(['create', bad.id]);
    t.equal(refused.status, 1);
    t.match(refused.stderr, /\/linux\/memoryPolicy\/nodes: invalid memory policy nodes \\?"1-x\\?": invalid node list/);
    t.same(rootEntries(bad.root), [], 'nothing left under --root');
  },
);

t.test("stdio on the host's /dev/null is reopened on the container's own, as runc does", { skip }, async (t) => {
  // (runWithFiles gives stdin the caller's /dev/null: 'ignore'.) Where an fd's mount is not in
  // the container's mount table, CRIU cannot dump it ("Can't lookup mount=N for fd=0").
  const script =
    'id=$(sed -n "s/^mnt_id:[[:space:]]*//p" /proc/self/fdinfo/0); grep -q "^$id " /proc/self/mountinfo && echo container || echo host; readlink /proc/self/fd/0';
  const r = runContainer(t, (s) => {
    s.process!.args = ['sh', '-c', script];
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'container\n/dev/null\n', "fd 0 is the container's /dev/null");
  // (runc's foreground run gives the container pipes of its own, so no twin here: runc's
  // reOpenDevNull is compared through podman in test/e2e/checkpoint-clients.test.ts)
});
