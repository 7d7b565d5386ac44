// Ordinary users for the rootless tests: made here, removed in teardown with everything they
// own (their processes, home, runtime directory, subordinate ids), and a copy of the built
// tsrunc they can run wherever this checkout lives (a fresh clone may sit under /root, 0700).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { rootlessSpec } from '../../src/spec/default-spec';
import type { Spec } from '../../src/spec/types';
import { patchFrontConfig } from '../../scripts/front-config.mjs';
import { runWithFiles } from './container';
import { FRONT_BUILT, installedConfig } from './front';
import { REPO_ROOT, type RunOptions, type RunResult, type Teardownable } from './tsrunc';

export interface OrdinaryUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** $XDG_RUNTIME_DIR: /run/user/UID, 0700, the user's. */
  runtimeDir: string;
  /** The first of the 65536 subordinate uids and gids the user has (when asked for). */
  subId?: number;
  /** The environment a login would give (HOME, USER, LOGNAME, PATH, XDG_RUNTIME_DIR), plus `extra`. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Runs `file args` as the user (its uid, gid and no supplementary groups). */
  run(file: string, args: string[], opts?: RunOptions): RunResult;
}

let made = 0;

/** A new user (useradd), removed in teardown with its processes, home and runtime directory. */
export function ordinaryUser(
  t: Teardownable,
  /** systemdUser: start the user's systemd manager (user@UID.service), which makes the runtime directory. */
  opts: { subIds?: boolean; systemdUser?: boolean } = {},
): OrdinaryUser {
  const name = `tsr${process.pid % 100000}u${made++}`;
  const add = spawnSync('useradd', ['--create-home', '--shell', '/bin/sh', '--user-group', name], {
    encoding: 'utf8',
  });
  if (add.status !== 0) throw new Error(`useradd ${name}: ${add.stderr}`);
  const ids = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gids = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  const uid = Number(ids.stdout.trim());
  const gid = Number(gids.stdout.trim());
  const home = path.join('/home', name);
  const runtimeDir = `/run/user/${uid}`;
  t.teardown(() => removeUser(name, uid, runtimeDir));
  if (opts.systemdUser === true) {
    // Lingering, so that logind does not stop the manager of a user without a session (it did,
    // in the middle of a test: "connecting to the user bus: Connection refused").
    spawnSync('loginctl', ['enable-linger', name]);
    const start = spawnSync('systemctl', ['start', `user@${uid}.service`], { encoding: 'utf8' });
    if (start.status !== 0) {
      const journal = spawnSync('journalctl', ['-b', '--no-pager', '-n', '40', '-u', `user@${uid}.service`], {
        encoding: 'utf8',
      });
      throw new Error(`systemctl start user@${uid}.service: ${start.stderr}\n${journal.stdout}`);
    }
  } else {
    fs.mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    fs.chownSync(runtimeDir, uid, gid);
    fs.chmodSync(runtimeDir, 0o700);
  }
  let subId: number | undefined;
  if (opts.subIds === true) {
    // (useradd may have given a range already; a fixed one per user keeps the maps predictable)
    subId = 300000 + (uid % 1000) * 65536;
    const r = spawnSync(
      'usermod',
      ['--add-subuids', `${subId}-${subId + 65535}`, '--add-subgids', `${subId}-${subId + 65535}`, name],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`usermod --add-subuids ${name}: ${r.stderr}`);
  }
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    HOME: home,
    USER: name,
    LOGNAME: name,
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    XDG_RUNTIME_DIR: runtimeDir,
    LANG: 'C.UTF-8',
    ...extra,
  });
  return {
    name,
    uid,
    gid,
    home,
    runtimeDir,
    ...(subId !== undefined ? { subId } : {}),
    env,
    // (stdout and stderr on files: a container's init inherits them, and a pipe would keep
    // spawnSync waiting for as long as the container lives)
    run: (file, args, o = {}) => runWithFiles(file, args, { ...o, uid, gid, env: o.env ?? env(), cwd: o.cwd ?? home }),
  };
}

function removeUser(name: string, uid: number, runtimeDir: string): void {
  // Everything the user runs is the test's: stop it all before the user goes (its systemd
  // user manager first, where a test started one).
  if (fs.existsSync('/run/systemd/system')) {
    spawnSync('loginctl', ['disable-linger', name]);
    spawnSync('systemctl', ['stop', `user@${uid}.service`]);
  }
  // (a zombie the test runner has not reaped matches too: --force removes the user all the same)
  for (let i = 0; i < 20 && spawnSync('pkill', ['-KILL', '-U', String(uid)]).status === 0; i++)
    spawnSync('sleep', ['0.1']);
  spawnSync('userdel', ['--force', '--remove', name], { encoding: 'utf8' });
  // (userdel leaves subordinate ids on some versions of shadow)
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    try {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const kept = lines.filter((l) => !l.startsWith(`${name}:`) && !l.startsWith(`${uid}:`));
      if (kept.length !== lines.length) fs.writeFileSync(file, kept.join('\n'));
    } catch {
      // no such file: nothing to remove
    }
  }
  fs.rmSync(runtimeDir, { recursive: true, force: true });
}

let copied: string | undefined;

/**
 * bin/tsrunc as an ordinary user can run it: the built files (dist/, the addon and tsrunc-init)
 * copied to a directory everyone can read, with a front pointing there; removed at exit.
 */
export function tsruncForUsers(): string {
  if (copied !== undefined) return copied;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-for-users-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  fs.cpSync(path.join(REPO_ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
  for (const f of ['tsrunc.node', 'tsrunc-init'])
    fs.copyFileSync(path.join(REPO_ROOT, 'build', 'Release', f), path.join(dir, 'build', 'Release', f));
  fs.mkdirSync(path.join(dir, 'bin'));
  // The native front with the copy's paths written in (as scripts/build.mjs writes bin/tsrunc's).
  const front = patchFrontConfig(fs.readFileSync(FRONT_BUILT), {
    ...installedConfig(),
    boot: path.join(dir, 'dist', 'boot.cjs'),
    daemon: path.join(dir, 'dist', 'daemon.cjs'),
  });
  fs.writeFileSync(path.join(dir, 'bin', 'tsrunc'), front, { mode: 0o755 });
  for (const sub of ['dist', 'build', 'build/Release', 'bin']) fs.chmodSync(path.join(dir, sub), 0o755);
  for (const f of fs.readdirSync(path.join(dir, 'dist'))) fs.chmodSync(path.join(dir, 'dist', f), 0o644);
  fs.chmodSync(path.join(dir, 'build', 'Release', 'tsrunc.node'), 0o755);
  fs.chmodSync(path.join(dir, 'build', 'Release', 'tsrunc-init'), 0o755);
  copied = path.join(dir, 'bin', 'tsrunc');
  return copied;
}

/** A directory the user owns (0700), removed in teardown. */
export function userDir(t: Teardownable, user: OrdinaryUser, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o700);
  fs.chownSync(dir, user.uid, user.gid);
  return dir;
}

export interface Rootless {
  user: OrdinaryUser;
  bundle: string;
  spec: Spec;
  writeConfig(): void;
  tsrunc(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): RunResult;
}

/** A user, and a bundle of theirs holding `tsrunc spec --rootless`'s config with `sleep 1000`. */
export function rootlessBundle(
  t: Teardownable,
  opts: { subIds?: boolean; systemdUser?: boolean; user?: OrdinaryUser } = {},
): Rootless {
  const user = opts.user ?? ordinaryUser(t, { subIds: opts.subIds ?? false, systemdUser: opts.systemdUser ?? false });
  const bundle = userDir(t, user, 'tsrunc-rootless-');
  execFileSync(path.join(REPO_ROOT, 'scripts', 'make-rootfs.sh'), [path.join(bundle, 'rootfs')]);
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, path.join(bundle, 'rootfs')]);
  const spec = rootlessSpec(user.uid, user.gid);
  spec.process!.terminal = false;
  spec.process!.args = ['sleep', '1000'];
  const tsrunc = tsruncForUsers();
  const r: Rootless = {
    user,
    bundle,
    spec,
    writeConfig: () => {
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
      fs.chownSync(path.join(bundle, 'config.json'), user.uid, user.gid);
    },
    tsrunc: (args, o = {}) =>
      user.run(tsrunc, args, {
        cwd: bundle,
        ...(o.input !== undefined ? { input: o.input } : {}),
        env: user.env(o.env),
      }),
  };
  r.writeConfig();
  // Whatever a test leaves running is killed with the user; its state goes with the runtime dir.
  return r;
}
