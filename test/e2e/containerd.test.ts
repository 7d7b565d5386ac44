// containerd on tsrunc: a private containerd (its own config, root, state and socket) whose
// containerd-shim-runc-v2 runs bin/tsrunc, driven with ctr as a user would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { busyboxRootfs, rootSkipReason } from '../helpers/container';
import { buildOciArchive } from '../helpers/oci-image';
import { TSRUNC, tempDir, type Teardownable } from '../helpers/tsrunc';

const haveContainerd = spawnSync('containerd', ['--version']).status === 0;
const skip = rootSkipReason() || (haveContainerd ? false : 'containerd is not installed (scripts/setup.sh installs it)');
const NS = `tsrunc-e2e-${process.pid}`;
const IMAGE = `docker.io/library/tsrunc-busybox:${process.pid}`;

interface Ctr {
  (args: string[], opts?: { input?: string; timeoutMs?: number }): { status: number | null; stdout: string; stderr: string };
}

async function startContainerd(t: Teardownable): Promise<{ ctr: Ctr; runcRoot: string; daemon: ChildProcess }> {
  const dir = tempDir(t, 'tsrunc-containerd');
  const sock = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
  const daemon = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log] });
  const runcRoot = path.join(dir, 'runc-root');
  const ctr: Ctr = (args, opts = {}) => {
    const r = spawnSync('ctr', ['--address', sock, '--namespace', NS, ...args], { input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  t.teardown(async () => {
    // Everything this test made in its namespace, then the daemon.
    for (const id of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'kill', '-s', 'KILL', id]), ctr(['task', 'rm', '-f', id]);
    for (const id of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['container', 'rm', id]);
    ctr(['image', 'rm', IMAGE]);
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    fs.closeSync(log);
    spawnSync('umount', ['-R', path.join(dir, 'root')]);
    for (const base of fs.readdirSync('/sys/fs/cgroup')) {
      const cg = path.join('/sys/fs/cgroup', base, NS);
      if (fs.existsSync(cg)) for (const child of fs.readdirSync(cg, { withFileTypes: true })) if (child.isDirectory()) fs.rmdirSync(path.join(cg, child.name));
      if (fs.existsSync(cg)) fs.rmdirSync(cg);
    }
  });
  for (let i = 0; i < 200 && ctr(['version']).status !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  const archive = buildOciArchive(busyboxRootfs(t), dir, IMAGE);
  const imported = ctr(['image', 'import', archive]);
  if (imported.status !== 0) throw new Error(`ctr image import: ${imported.stderr}`);
  return { ctr, runcRoot, daemon };
}

t.test('ctr run --runc-binary tsrunc: run, run -d, exec, ps, pause/resume, kill, rm', { skip }, async (t) => {
  const { ctr, runcRoot } = await startContainerd(t);
  const rt = ['--runc-binary', TSRUNC, '--runc-root', runcRoot];
  const hello = ctr(['run', '--rm', ...rt, IMAGE, 'hello1', 'sh', '-c', 'echo hello from $(hostname); exit 0']);
  t.equal(hello.status, 0, hello.stderr);
  t.match(hello.stdout, /^hello from /, 'the output reaches ctr');
  const exit3 = ctr(['run', '--rm', ...rt, IMAGE, 'exit3', 'sh', '-c', 'exit 3']);
  t.equal(exit3.status, 3, 'the exit status reaches ctr');

  t.equal(ctr(['run', '-d', ...rt, IMAGE, 'web', 'sleep', '1000']).status, 0);
  const ls = ctr(['task', 'ls']);
  t.match(ls.stdout, /web\s+\d+\s+RUNNING/);
  const ex = ctr(['task', 'exec', '--exec-id', 'e1', 'web', 'sh', '-c', 'echo exec-ok; cat /proc/1/cmdline']);
  t.equal(ex.status, 0, ex.stderr);
  t.match(ex.stdout, /exec-ok\nsleep\u00001000/);
  const ps = ctr(['task', 'ps', 'web']);
  t.match(ps.stdout, /PID/);
  t.equal(ctr(['task', 'pause', 'web']).status, 0);
  t.match(ctr(['task', 'ls']).stdout, /web\s+\d+\s+PAUSED/);
  t.equal(ctr(['task', 'resume', 'web']).status, 0);
  t.equal(ctr(['task', 'kill', '-s', 'KILL', 'web']).status, 0);
  for (let i = 0; i < 100 && !/STOPPED/.test(ctr(['task', 'ls']).stdout); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(ctr(['task', 'ls']).stdout, /web\s+\d+\s+STOPPED/);
  t.equal(ctr(['task', 'rm', 'web']).status, 0);
  t.equal(ctr(['container', 'rm', 'web']).status, 0);
  t.same(fs.existsSync(runcRoot) ? fs.readdirSync(runcRoot).flatMap((ns) => fs.readdirSync(path.join(runcRoot, ns))) : [], [], "no container left in tsrunc's root");
});

t.test('a failing start shows tsrunc\'s error message through containerd', { skip }, async (t) => {
  const { ctr, runcRoot } = await startContainerd(t);
  const r = ctr(['run', '--rm', '--runc-binary', TSRUNC, '--runc-root', runcRoot, IMAGE, 'bad1', 'no-such-program']);
  t.not(r.status, 0);
  t.match(r.stderr, /executable file not found in \$PATH/, 'the message from tsrunc --log reaches the user');
});
