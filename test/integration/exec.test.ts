// exec into a running container: it sees the container's hostname, pids, mounts, user and
// cgroup; runc's flags and the --process JSON the shims write; exit codes; refusals.
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { rootSkipReason, testContainer } from '../helpers/container';
import { waitForStatus } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { TSRUNC, pollUntil } from '../helpers/tsrunc';

const skip = rootSkipReason();

t.test('exec sees the container: hostname, pid namespace, mounts, cgroup', { skip }, async (t) => {
  const c = testContainer(t, (s) => (s.hostname = 'exec-host'));
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const r = c.tsrunc([
    'exec',
    c.id,
    'sh',
    '-c',
    'hostname; echo $$; ps -o pid,args | grep -c "[s]leep 1000"; grep -c " /proc proc" /proc/self/mounts; cat /proc/1/cmdline | tr "\\0" " "; echo; id -u',
  ]);
  t.equal(r.status, 0, r.stderr);
  const [host, pid, sleepers, procMounts, initCmd, uid] = r.stdout.trim().split('\n');
  t.equal(host, 'exec-host');
  t.ok(Number(pid) < 100, `a pid of the container's namespace (${pid})`);
  t.equal(sleepers, '1', "the container's init is visible");
  t.equal(procMounts, '1', "the container's /proc");
  t.equal(initCmd?.trim(), 'sleep 1000');
  t.equal(uid, '0');
  const procs = JSON.parse(c.tsrunc(['ps', '--format', 'json', c.id]).stdout) as number[];
  t.equal(procs.length, 1, 'the exec process has gone from the cgroup once finished');
});

t.test('exit codes, -u, -e, --cwd, flags after the command', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  t.equal(c.tsrunc(['exec', c.id, 'sh', '-c', 'exit 7']).status, 7);
  const u = c.tsrunc(['exec', '-u', '1000:2000', '-g', '3000', c.id, 'id']);
  t.match(u.stdout, /uid=1000 gid=2000 groups=3000/);
  const e = c.tsrunc(['exec', '-e', 'GREETING=hi', '--cwd', '/tmp', c.id, 'sh', '-c', 'echo $GREETING $PWD']);
  t.equal(e.stdout, 'hi /tmp\n');
  const ls = c.tsrunc(['exec', c.id, 'ls', '-d', '/bin']);
  t.equal(ls.stdout, '/bin\n', "the command's own flags are not read as tsrunc's");
  const missing = c.tsrunc(['exec', c.id, 'no-such-program']);
  t.equal(missing.status, 255, 'a failed exec exits 255, as runc, not with a status its process could have');
  t.match(missing.stderr, /exec failed: .*executable file not found in \$PATH/);
});

t.test(
  'a program without execute permission fails exec and create with a message, not after start',
  { skip },
  async (t) => {
    const c = testContainer(
      t,
      (_s, bundle) => {
        fs.writeFileSync(path.join(bundle, 'rootfs/not-executable'), 'echo hi\n', { mode: 0o644 });
        fs.writeFileSync(path.join(bundle, 'rootfs/owner-only'), '#!/bin/sh\necho owner\n', { mode: 0o700 });
      },
      { copyRootfs: true },
    );
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    const r = c.tsrunc(['exec', c.id, '/not-executable']);
    t.equal(r.status, 255);
    t.match(
      r.stderr,
      /exec failed: checking the executable \/not-executable: exec: \\?"\/not-executable\\?": permission denied/,
    );
    const other = c.tsrunc(['exec', '-u', '1000', c.id, '/owner-only']);
    t.equal(other.status, 255, "checked as the process's own user");
    t.match(other.stderr, /permission denied/);
    const owner = c.tsrunc(['exec', c.id, '/owner-only']);
    t.equal(owner.status, 0, owner.stderr);
    t.equal(owner.stdout, 'owner\n');

    // Executable but not a format the kernel runs (no #!): execve itself fails. The channel to
    // tsrunc stays open until execve, so exec reports it as runc does, instead of the process
    // printing a protocol line and exiting 1.
    fs.writeFileSync(path.join(c.bundle, 'rootfs/no-format'), 'echo hi\n', { mode: 0o755 });
    const noFormat = c.tsrunc(['exec', c.id, '/no-format']);
    t.equal(noFormat.status, 255, 'a failed execve exits 255');
    t.equal(noFormat.stderr.trim().split('\n').length, 1, 'one line');
    t.match(noFormat.stderr, /exec failed: executing \[\\?"\/no-format\\?"\]: exec \/no-format: exec format error/);

    const d = testContainer(
      t,
      (s, bundle) => {
        fs.writeFileSync(path.join(bundle, 'rootfs/not-executable'), 'echo hi\n', { mode: 0o644 });
        s.process!.args = ['/not-executable'];
      },
      { copyRootfs: true },
    );
    const created = d.tsrunc(['create', d.id]);
    t.equal(created.status, 1);
    t.match(created.stderr, /checking the executable \/not-executable: .*permission denied/);
    t.equal(d.status(), 'missing', 'nothing is left of it');
  },
);

t.test('--process with the JSON a shim writes, --detach and --pid-file', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const procFile = path.join(c.bundle, 'process.json');
  const shimProcess = {
    user: { uid: 0, gid: 0 },
    args: ['sh', '-c', 'echo from-process $FOO; sleep 30'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'FOO=bar'],
    cwd: '/',
    capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
    noNewPrivileges: true,
    // (what docker and the CRI plugin send; written for the exec'd process before its fork)
    oomScoreAdj: 100,
  };
  fs.writeFileSync(procFile, JSON.stringify(shimProcess));
  const pidFile = path.join(c.bundle, 'exec.pid');
  const r = c.tsrunc(['exec', '--process', procFile, '--detach', '--pid-file', pidFile, c.id]);
  t.equal(r.status, 0, r.stderr);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(pid > 0);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  t.match(status, /NoNewPrivs:\s+1/);
  t.match(status, /CapEff:\s+0000000000000020/, 'only CAP_KILL');
  t.match(status, /CapInh:\s+0000000000000000/, 'exec never grants inheritable capabilities');
  t.equal(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'), '100\n', "the process document's oomScoreAdj");
  const procs = JSON.parse(c.tsrunc(['ps', '--format', 'json', c.id]).stdout) as number[];
  t.ok(procs.includes(pid), 'the exec process is in the container cgroup');
  // The shim's process documents are validated with pointers.
  fs.writeFileSync(procFile, JSON.stringify({ ...shimProcess, args: [] }));
  const bad = c.tsrunc(['exec', '--process', procFile, c.id]);
  t.equal(bad.status, 255);
  t.match(bad.stderr, /\/args: must have at least 1 item/);
});

t.test('exec --detach whose pid file cannot be written: the process is killed, as runc does', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const r = c.tsrunc(['exec', '--detach', '--pid-file', '/nonexistent/dir/exec.pid', c.id, 'sleep', '7777']);
  t.equal(r.status, 255, 'exit status as runc');
  t.match(r.stderr, /exec failed: writing pid file \/nonexistent\/dir\/exec.pid/);
  // (the killed process is reaped by whoever it was reparented to: wait for it to go)
  const sleeping = (): boolean =>
    (JSON.parse(c.tsrunc(['ps', '--format', 'json', c.id]).stdout) as number[]).some((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('7777');
      } catch {
        return false;
      }
    });
  for (let i = 0; i < 100 && sleeping(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.notOk(sleeping(), 'no `sleep 7777` is left in the container');
});

t.test("exec refuses stopped and paused containers with runc's texts", { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  t.equal(c.tsrunc(['pause', c.id]).status, 0);
  const paused = c.tsrunc(['exec', c.id, 'true']);
  t.equal(paused.status, 255);
  t.match(paused.stderr, /exec failed: cannot exec in a paused container/);
  t.equal(c.tsrunc(['resume', c.id]).status, 0);
  t.equal(c.tsrunc(['kill', c.id, 'KILL']).status, 0);
  t.ok(await waitForStatus(c, 'stopped'), 'stopped after KILL');
  const stopped = c.tsrunc(['exec', c.id, 'true']);
  t.equal(stopped.status, 255);
  t.match(stopped.stderr, /exec failed: cannot exec in a stopped container/);
  const missing = c.tsrunc(['exec', 'nosuch', 'true']);
  t.equal(missing.status, 255);
  t.match(missing.stderr, /exec failed: container does not exist/);
  const noCommand = c.tsrunc(['exec', c.id]);
  t.equal(noCommand.status, 255, 'as runc: a missing command fails the exec, not the parsing');
  const badFlag = c.tsrunc(['exec', '--no-such-flag', c.id, 'true']);
  t.equal(badFlag.status, 1, 'as runc: a flag that does not parse is a usage error (1)');
});

t.test('exec -t gets a pty in the container', { skip }, async (t) => {
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const r = c.tsrunc(['exec', '-t', c.id, 'sh', '-c', 'tty; exit 4']);
  t.equal(r.status, 4);
  t.match(r.stdout, /^\/dev\/pts\/\d+/);
});

t.test("exec joins the container's network namespace", { skip }, async (t) => {
  const c = testContainer(t, (s) => {
    s.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }];
  });
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  t.equal(c.tsrunc(['exec', c.id, 'ls', '/sys/class/net']).stdout, 'lo\n', "the container's network namespace");
});

t.test('exec --cgroup runs the process in an existing sub-cgroup', { skip }, async (t) => {
  const { detectHierarchies } = await import('../../src/cgroups/hierarchy');
  const { containerCgroups } = await import('../../src/cgroups/index');
  const path = await import('node:path');
  const c = testContainer(t);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  const record = JSON.parse(fs.readFileSync(path.join(c.root, c.id, 'state.json'), 'utf8')) as {
    cgroupDriver: string;
    cgroups: Record<string, string>;
  };
  const pidsKey = detectHierarchies().find((h) => h.controllers.includes('pids'))?.key as string;
  const sub = path.join(containerCgroups(record, c.id).paths[pidsKey] as string, 'sub');
  fs.mkdirSync(sub);
  t.teardown(() => {
    try {
      fs.rmdirSync(sub);
    } catch {
      // removed with the container
    }
  });
  const r = c.tsrunc(['exec', '--cgroup', 'pids:sub', c.id, 'cat', '/proc/self/cgroup']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /pids:\/sub$/m, 'in the sub-cgroup of the pids hierarchy (seen through the cgroup namespace)');
  const missing = c.tsrunc(['exec', '--cgroup', 'nosuch', c.id, 'true']);
  t.equal(missing.status, 255);
  t.match(missing.stderr, /exec --cgroup nosuch: .* does not exist/);
  const escape = c.tsrunc(['exec', '--cgroup', '../..', c.id, 'true']);
  t.match(escape.stderr, /must name a sub-cgroup/);
});

const withRunc = skip || (RUNC === undefined ? 'runc is not installed' : false);

t.test('exec --process without a user object runs as 0:0, as runc', { skip: withRunc }, async (t) => {
  const c = testContainer(t);
  const twin = runcTwin(t, c);
  t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
  t.equal(twin.run(['run', '-d', 'ID']).status, 0);
  const procFile = path.join(c.bundle, 'nouser.json');
  fs.writeFileSync(procFile, JSON.stringify({ args: ['id'], cwd: '/', env: ['PATH=/bin'] }));
  const ours = c.tsrunc(['exec', '--process', procFile, c.id]);
  t.equal(ours.status, 0, ours.stderr);
  t.match(ours.stdout, /^uid=0\(root\) gid=0\(root\)/);
  t.equal(twin.run(['exec', '--process', procFile, 'ID']).stdout, ours.stdout, 'as with runc');
});

t.test(
  'exec into a created container (its init waiting for start) works, as with runc',
  { skip: withRunc },
  async (t) => {
    const c = testContainer(t);
    const twin = runcTwin(t, c);
    t.equal(c.tsrunc(['create', c.id]).status, 0);
    t.equal(twin.run(['create', 'ID']).status, 0);
    const ours = c.tsrunc(['exec', c.id, 'sh', '-c', 'hostname; cat /proc/1/cmdline | tr "\\0" " "']);
    t.equal(ours.status, 0, ours.stderr);
    t.match(
      ours.stdout,
      /^tsrunc\ntsrunc-init \d+ \d+ $/,
      "the container's own namespaces; its init has not exec'd its program yet",
    );
    const theirs = twin.run(['exec', 'ID', 'sh', '-c', 'hostname']);
    t.equal(theirs.status, 0, `runc: ${theirs.stderr}`);
    t.equal(c.status(), 'created', 'still created');
    t.equal(c.tsrunc(['start', c.id]).status, 0, 'and it starts afterwards');
    t.equal(c.status(), 'running');
  },
);

t.test(
  'exec --ignore-paused into a paused container waits for resume, and resume is not kept waiting, as with runc',
  { skip: withRunc },
  async (t) => {
    const { spawn } = await import('node:child_process');
    const c = testContainer(t);
    const twin = runcTwin(t, c);
    const runtimes = {
      tsrunc: {
        run: (args: string[]) => c.tsrunc(args.map((a) => (a === 'ID' ? c.id : a))),
        spawn: (args: string[], fd: number) =>
          spawn(TSRUNC, ['--root', c.root, ...args.map((a) => (a === 'ID' ? c.id : a))], { stdio: ['ignore', fd, fd] }),
      },
      runc: twin,
    };
    for (const [who, rt] of Object.entries(runtimes)) {
      t.equal(rt.run(['run', '-d', 'ID']).status, 0, `${who}: run -d`);
      t.equal(rt.run(['pause', 'ID']).status, 0, `${who}: pause`);
      const out = path.join(c.bundle, `${who}.exec.out`);
      const fd = fs.openSync(out, 'w');
      const exec = rt.spawn(['exec', '--ignore-paused', 'ID', 'echo', 'after-resume'], fd);
      fs.closeSync(fd);
      t.teardown(() => void exec.kill('SIGKILL'));
      const exited = new Promise<number | null>((resolve) => exec.once('exit', (code) => resolve(code)));
      // Until the exec's process is in the (frozen) cgroup beside the init.
      const joined = await pollUntil(
        () => (JSON.parse(rt.run(['ps', '--format', 'json', 'ID']).stdout || '[]') as number[]).length >= 2,
        60_000,
        50,
      );
      t.ok(joined, `${who}: the exec's process joined the paused container`);
      t.equal(fs.readFileSync(out, 'utf8'), '', `${who}: nothing ran while paused`);
      const resumed = rt.run(['resume', 'ID']);
      t.equal(resumed.status, 0, `${who}: resume returns (not kept behind the exec): ${resumed.stderr}`);
      t.equal(await exited, 0, `${who}: the exec ends once resumed`);
      t.equal(fs.readFileSync(out, 'utf8'), 'after-resume\n', `${who}: and its program ran`);
    }
  },
);

t.test(
  "execCPUAffinity: an exec'd process's final CPUs (from --process, else the config's), the initial ones set before its cgroup join",
  { skip: skip || (os.cpus().length < 2 ? 'needs two CPUs' : false) },
  async (t) => {
    const c = testContainer(t, (s) => {
      s.process!.execCPUAffinity = { final: '1' };
    });
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    const allowed = (r: { stdout: string }): string | undefined => /Cpus_allowed_list:\s*(\S+)/.exec(r.stdout)?.[1];
    const init = fs.readFileSync(`/proc/${c.pid()}/status`, 'utf8');
    t.notMatch(init, /Cpus_allowed_list:\s*1\n/, 'not applied to the init');
    const fromConfig = c.tsrunc(['exec', c.id, 'cat', '/proc/self/status']);
    t.equal(fromConfig.status, 0, fromConfig.stderr);
    t.equal(allowed(fromConfig), '1', "the config's process.execCPUAffinity.final");
    const procFile = path.join(c.bundle, 'process.json');
    const doc = {
      user: { uid: 0, gid: 0 },
      args: ['cat', '/proc/self/status'],
      env: ['PATH=/usr/bin:/bin'],
      cwd: '/',
      execCPUAffinity: { initial: '1', final: '0' },
    };
    fs.writeFileSync(procFile, JSON.stringify(doc));
    const fromDoc = c.tsrunc(['exec', '--process', procFile, c.id]);
    t.equal(fromDoc.status, 0, fromDoc.stderr);
    t.equal(allowed(fromDoc), '0', "the process document's own");
    // The initial CPUs are set first: a CPU the host does not have fails the exec there.
    fs.writeFileSync(procFile, JSON.stringify({ ...doc, execCPUAffinity: { initial: '1000' } }));
    const bad = c.tsrunc(['exec', '--process', procFile, c.id]);
    t.equal(bad.status, 255);
    t.match(bad.stderr, /setting the initial CPU affinity 1000 \(execCPUAffinity\): sched_setaffinity/);
    fs.writeFileSync(procFile, JSON.stringify({ ...doc, execCPUAffinity: { final: '3-1' } }));
    const refused = c.tsrunc(['exec', '--process', procFile, c.id]);
    t.equal(refused.status, 255);
    t.match(
      refused.stderr,
      /execCPUAffinity\/final: invalid cpuset range \\?"3-1/,
      `a bad list names its field: ${refused.stderr}`,
    );
  },
);
