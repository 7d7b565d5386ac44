// Issue 12's attacks, rows A–E and the state-size finding (docs/security.md, "Attacks found by
// attacking tsrunc"): each test performs the attack as an image, a container process or a second
// writer of the rootfs would, and shows that it fails. Rows F–I and the input edge cases are in
// security-input.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import type { Hook, Seccomp, Spec } from '../../src/spec/types';
import { rootSkipReason, runContainer, testContainer } from '../helpers/container';
import { sharedDir, waitForFile } from '../helpers/host';
import { RUNC, runcTwin } from '../helpers/runc';
import { TSRUNC, tempDir, type Teardownable } from '../helpers/tsrunc';

const skip = rootSkipReason();

/** A file of the host that no container may read: its path and its random content. */
function hostSecret(t: Teardownable): { file: string; token: string } {
  const dir = tempDir(t, 'tsrunc-secret');
  const token = `secret-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const file = path.join(dir, 'secret');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { file, token };
}

/** From any directory of the host, enough ".." to reach its root, then `file`. */
function climb(file: string): string {
  return `${'../'.repeat(24)}${file.replace(/^\/+/, '')}`;
}

function noDevTmpfs(s: Spec): void {
  s.mounts = s.mounts!.filter((m) => m.destination !== '/dev');
}

t.test(
  'A: an image with 4093+ arguments and an entrypoint #!/proc/self/exe gets tsrunc-init as interpreter, never node',
  { skip },
  async (t) => {
    // If node ran the script it would leave /tmp/pwned in the rootfs (its own path in it).
    const evil = "#!/proc/self/exe\nrequire('fs').writeFileSync('/tmp/pwned', process.execPath)\n";
    const args = Array.from({ length: 4100 }, (_, i) => `arg${i}`);
    const plant = (s: Spec, bundle: string): void => {
      fs.writeFileSync(path.join(bundle, 'rootfs/bin/evil'), evil, { mode: 0o755 });
      s.root!.readonly = false;
    };
    const r = runContainer(
      t,
      (s, bundle) => {
        plant(s, bundle);
        s.process!.args = ['/bin/evil', ...args];
      },
      { copyRootfs: true },
    );
    t.equal(r.status, 127, r.stderr.slice(0, 300));
    t.match(r.stderr, /tsrunc-init: not a program to run directly/);
    t.notOk(fs.existsSync(path.join(r.container.bundle, 'rootfs/tmp/pwned')), 'node never ran in the container');

    const c = testContainer(t, plant, { copyRootfs: true });
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    const e = c.tsrunc(['exec', c.id, '/bin/evil', ...args]);
    t.equal(e.status, 127, 'the same through exec');
    t.match(e.stderr, /tsrunc-init: not a program to run directly/);
    t.notOk(fs.existsSync(path.join(c.bundle, 'rootfs/tmp/pwned')), 'node never ran in the container through exec');
    const many = c.tsrunc(['exec', c.id, 'sh', '-c', 'echo $#', 'sh', ...args]);
    t.equal(many.stdout, `${args.length}\n`, 'a legitimate program gets all its arguments');
  },
);

t.test(
  'B: a seccomp profile that refuses getcwd: an unverifiable working directory is refused, whatever it leads to',
  { skip },
  async (t) => {
    const { file, token } = hostSecret(t);
    const noGetcwd: Seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['getcwd'], action: 'SCMP_ACT_ERRNO' }],
    };
    const cwds: [string, ((rootfs: string) => void) | undefined][] = [['/', undefined]];
    // The image's working directory is a symlink to an fd of the process that sets it up.
    for (let fd = 3; fd <= 9; fd++)
      cwds.push([
        `/work -> /proc/self/fd/${fd}`,
        (rootfs) => fs.symlinkSync(`/proc/self/fd/${fd}`, path.join(rootfs, 'work')),
      ]);
    for (const [what, plant] of cwds) {
      const r = runContainer(
        t,
        (s, bundle) => {
          s.process!.noNewPrivileges = false;
          s.linux!.seccomp = noGetcwd;
          if (plant !== undefined) {
            plant(path.join(bundle, 'rootfs'));
            s.process!.cwd = '/work';
          }
          s.process!.args = ['sh', '-c', `cat ${climb(file)}; echo ran`];
        },
        { copyRootfs: true },
      );
      t.equal(r.status, 1, `cwd ${what}: refused`);
      // (a symlink to an fd that is not a directory fails chdir, or the mkdir of a missing cwd, first)
      if (plant === undefined)
        t.match(
          r.stderr,
          /changing directory to \/: cannot verify that the working directory is inside the container: getcwd: operation not permitted/,
          'says why',
        );
      else t.match(r.stderr, /(changing|creating) directory/, `cwd ${what}: says where`);
      t.notMatch(r.stdout + r.stderr, new RegExp(token), `cwd ${what}: the host file was not read`);
      t.notMatch(r.stdout, /ran/, `cwd ${what}: nothing of the container ran`);
    }
  },
);

t.test(
  "B: a running container that swaps exec's working directory for a symlink to an fd never reaches the host",
  { skip },
  async (t) => {
    const { file, token } = hostSecret(t);
    const c = testContainer(
      t,
      (s, bundle) => {
        fs.mkdirSync(path.join(bundle, 'rootfs/work'));
        s.root!.readonly = false;
        s.process!.cwd = '/work';
      },
      { copyRootfs: true },
    );
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    let ran = 0;
    for (let fd = 3; fd <= 12; fd++) {
      t.equal(
        c.tsrunc(['exec', '--cwd', '/', c.id, 'sh', '-c', `rm -rf /work && ln -s /proc/self/fd/${fd} /work`]).status,
        0,
      );
      const e = c.tsrunc(['exec', c.id, 'sh', '-c', `cat ${climb(file)} 2>/dev/null; pwd`]);
      t.notMatch(e.stdout + e.stderr, new RegExp(token), `fd ${fd}: the host file was not read`);
      if (e.status === 0) {
        ran++;
        t.notMatch(e.stdout, /unreachable/, `fd ${fd}: the working directory is inside the container`);
      } else t.match(e.stderr, /exec failed: changing directory to \/work/, `fd ${fd}: refused`);
    }
    t.comment(`${ran} of 10 execs ran (in a directory of the container), the others were refused`);
  },
);

// Scans /proc of the container (it is the container's pid 1) as fast as it can. For every other
// process it sees: is /proc/P/exe the host's node binary (dev and inode given), and does any of
// its fds, cwd or root lead to a file of the host (the secret, through "1/root/..." of a procfs
// or ".." from a directory)? Prints SEEN and LEAK lines to OUT.
const WATCHER = String.raw`
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static FILE *out;
static char viaProc[4096], up[4096], lastLink[512];
static int lastPid;
static int leaks(int dir) {
  int s = openat(dir, viaProc, O_RDONLY | O_CLOEXEC);
  if (s < 0) s = openat(dir, up, O_RDONLY | O_CLOEXEC);
  if (s < 0) return 0;
  char buf[128] = {0};
  if (read(s, buf, sizeof buf - 1) < 0) buf[0] = 0;
  close(s);
  fprintf(out, "LEAK read %s", buf);
  return 1;
}
// The credentials of a process as one line: effective and bounding capabilities, uid, seccomp.
static void creds(int pid, char *out, size_t size) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  out[0] = 0;
  FILE *f = fopen(p, "r");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapBnd:", 7) || !strncmp(line, "Uid:", 4) || !strncmp(line, "Seccomp:", 8) || !strncmp(line, "NoNewPrivs:", 11)) {
      line[strcspn(line, "\n")] = ' ';
      strncat(out, line, size - strlen(out) - 1);
    }
  }
  fclose(f);
}
static void check(int pid, const char *what, unsigned long long ndev, unsigned long long nino) {
  char p[128], link[512];
  snprintf(p, sizeof p, "/proc/%d/%s", pid, what);
  int f = open(p, O_PATH | O_CLOEXEC);
  if (f < 0) return;
  struct stat st;
  ssize_t n = readlink(p, link, sizeof link - 1);
  link[n < 0 ? 0 : n] = 0;
  if (fstat(f, &st) == 0) {
    if (strcmp(what, "exe") == 0) {
      if (pid != lastPid || strcmp(link, lastLink) != 0) fprintf(out, "SEEN %d %s\n", pid, link);
      if (strncmp(link, "/memfd:tsrunc-init", 18) == 0) {
        char c[512];
        creds(pid, c, sizeof c);
        if (c[0]) fprintf(out, "CRED %s\n", c);
      }
      lastPid = pid;
      snprintf(lastLink, sizeof lastLink, "%s", link);
      if ((unsigned long long)st.st_dev == ndev && (unsigned long long)st.st_ino == nino) fprintf(out, "LEAK exe %d %s\n", pid, link);
    }
    if (S_ISDIR(st.st_mode)) {
      int d = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (d >= 0) {
        if (leaks(d)) fprintf(out, "LEAK via %d %s -> %s\n", pid, what, link);
        close(d);
      }
    }
  }
  close(f);
}
int main(int argc, char **argv) {
  if (argc != 5) return 2;
  out = fopen(argv[1], "w");
  if (!out) return 3;
  setvbuf(out, NULL, _IOLBF, 0);
  unsigned long long ndev = strtoull(argv[2], 0, 10), nino = strtoull(argv[3], 0, 10);
  snprintf(viaProc, sizeof viaProc, "1/root%s", argv[4]);
  snprintf(up, sizeof up, "../../../../../../../../../../../../../../../..%s", argv[4]);
  char self[512];
  creds(getpid(), self, sizeof self);
  fprintf(out, "SELF %s\n", self);
  fprintf(out, "READY\n");
  for (;;) {
    DIR *d = opendir("/proc");
    if (!d) return 4;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      int pid = atoi(e->d_name);
      if (pid <= 1) continue;
      check(pid, "exe", ndev, nino);
      check(pid, "cwd", ndev, nino);
      check(pid, "root", ndev, nino);
      char fdDir[64];
      snprintf(fdDir, sizeof fdDir, "/proc/%d/fd", pid);
      DIR *fds = opendir(fdDir);
      if (!fds) continue;
      struct dirent *fe;
      while ((fe = readdir(fds)) != NULL) {
        if (fe->d_name[0] == '.') continue;
        char what[64];
        snprintf(what, sizeof what, "fd/%s", fe->d_name);
        check(pid, what, ndev, nino);
      }
      closedir(fds);
    }
    closedir(d);
  }
}
`;

t.test(
  'C: a container with CAP_SYS_PTRACE watching /proc during many execs never sees a host binary or a host fd',
  { skip },
  async (t) => {
    const { file, token } = hostSecret(t);
    const out = sharedDir(t, 'tsrunc-watch');
    const node = fs.statSync(process.execPath);
    const c = testContainer(
      t,
      (s, bundle) => {
        const src = path.join(out, 'watcher.c');
        fs.writeFileSync(src, WATCHER);
        execFileSync('gcc', ['-static', '-O2', '-o', path.join(bundle, 'rootfs/watcher'), src]);
        const caps = s.process!.capabilities!;
        for (const set of ['bounding', 'effective', 'permitted'] as const)
          caps[set] = [...(caps[set] ?? []), 'CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH'];
        s.mounts!.push({ destination: '/out', type: 'bind', source: out, options: ['bind', 'rw'] });
        s.process!.args = ['/watcher', '/out/log', String(node.dev), String(node.ino), file];
      },
      { copyRootfs: true },
    );
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    await waitForFile(path.join(out, 'log'));
    const seenInit = (): number =>
      (fs.readFileSync(path.join(out, 'log'), 'utf8').match(/^SEEN \d+ \/memfd:tsrunc-init/gm) ?? []).length;
    let execs = 0;
    // 200 execs, and on until the watcher has met a joining process a few times (bounded).
    for (; execs < 200 || (seenInit() < 3 && execs < 600); execs++) {
      const e = c.tsrunc(['exec', c.id, 'true']);
      if (e.status !== 0) {
        t.fail(`exec ${execs} failed: ${e.stderr}`);
        break;
      }
    }
    const log = fs.readFileSync(path.join(out, 'log'), 'utf8');
    // (an empty link: a process seen as it exited)
    const exes = new Set([...log.matchAll(/^SEEN \d+ (.+)$/gm)].map((m) => m[1]));
    t.comment(`${execs} execs; the watcher saw the exe links ${[...exes].join(', ')}; tsrunc-init ${seenInit()} times`);
    t.same(
      log.split('\n').filter((l) => l.startsWith('LEAK')),
      [],
      'no host binary and no host file through any fd, cwd or root',
    );
    t.notMatch(log, new RegExp(token));
    t.ok(seenInit() > 0, 'the watcher did see joining processes (their exe is the sealed tsrunc-init)');
    for (const exe of exes)
      t.match(
        exe,
        /^(\/memfd:tsrunc-init \(deleted\)|\/bin\/busybox)$/,
        `exe ${exe} is the sealed init or the container's own binary`,
      );
    // Seen from the container, a joining process already has the credentials of the program it
    // will exec (the container's own: those of the watcher): no host capability to take over.
    const self = /^SELF (.*)$/m.exec(log)?.[1];
    const creds = new Set([...log.matchAll(/^CRED (.*)$/gm)].map((m) => m[1]));
    t.ok(self !== undefined && self.includes('CapEff'), 'the watcher read its own credentials');
    t.ok(creds.size > 0, 'and those of joining processes');
    t.same(
      [...creds].filter((c) => c !== self),
      [],
      "every joining process it saw had the container process's credentials",
    );
  },
);

t.test(
  'D: without /proc, an image that plants /proc/sys/kernel/cap_last_cap cannot widen the bounding set or hang create',
  { skip },
  async (t) => {
    for (const plant of ['a file holding 0', 'a FIFO'] as const) {
      const c = testContainer(
        t,
        (s, bundle) => {
          s.mounts = s.mounts!.filter((m) => m.destination !== '/proc');
          s.linux!.maskedPaths = [];
          s.linux!.readonlyPaths = [];
          const dir = path.join(bundle, 'rootfs/proc/sys/kernel');
          fs.mkdirSync(dir, { recursive: true });
          if (plant === 'a FIFO') execFileSync('mkfifo', [path.join(dir, 'cap_last_cap')]);
          else fs.writeFileSync(path.join(dir, 'cap_last_cap'), '0\n');
          // (without no_new_privs, root's execve gains every capability of the bounding set)
          s.process!.noNewPrivileges = false;
          s.process!.args = ['sh', '-c', 'mount -t tmpfs x /mnt && echo MOUNTED'];
        },
        { copyRootfs: true },
      );
      const r = c.tsrunc(['run', c.id], { timeoutMs: 30_000 });
      t.equal(r.status, 1, `${plant}: refused, not run or hung (runc refuses a container without /proc too)`);
      t.match(r.stderr, /opening the container's \/proc: no procfs at \/proc/, plant);
      t.notMatch(r.stdout, /MOUNTED/, `${plant}: nothing mounted`);
      t.equal(c.status(), 'missing', `${plant}: nothing left`);
    }
    // With /proc mounted, what the image has under it is hidden: the bounding set is the config's.
    const r = runContainer(
      t,
      (s, bundle) => {
        const dir = path.join(bundle, 'rootfs/proc/sys/kernel');
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'cap_last_cap'), '0\n');
        s.process!.noNewPrivileges = false;
        s.process!.args = [
          'sh',
          '-c',
          'grep CapBnd /proc/self/status; mount -t tmpfs x /mnt 2>/dev/null && echo MOUNTED',
        ];
      },
      { copyRootfs: true },
    );
    t.equal(
      r.stdout,
      'CapBnd:\t0000000020000420\n',
      "only the config's capabilities (AUDIT_WRITE, KILL, NET_BIND_SERVICE), no mount",
    );
  },
);

t.test(
  'E: a /dev/null swapped for a symlink to a host file while devices are created never changes that file',
  { skip },
  async (t) => {
    const victimDir = tempDir(t, 'tsrunc-victim');
    const victim = path.join(victimDir, 'victim');
    fs.writeFileSync(victim, 'host file\n', { mode: 0o600 });
    const before = fs.statSync(victim);
    const c = testContainer(
      t,
      (s) => {
        noDevTmpfs(s);
        s.root!.readonly = false;
        s.process!.args = ['true'];
      },
      { copyRootfs: true },
    );
    // A second writer of the rootfs (say, a container sharing it as a volume) keeps exchanging
    // dev/null with a symlink to the victim, atomically (renameat2 RENAME_EXCHANGE).
    const racer = [
      'import ctypes, os, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'os.chdir(sys.argv[1])',
      'while True:',
      '    if not os.path.islink("b"):',
      '        try: os.unlink("b")',
      '        except OSError: pass',
      '        os.symlink(sys.argv[2], "b")',
      '    libc.renameat2(-100, b"null", -100, b"b", 2)',
    ].join('\n');
    const swapper = spawn('python3', ['-c', racer, path.join(c.bundle, 'rootfs/dev'), victim], { stdio: 'ignore' });
    t.teardown(() => void swapper.kill('SIGKILL'));
    let refused = 0;
    for (let run = 0; run < 200; run++) {
      const r = c.tsrunc(['run', c.id]);
      if (/replaced while it was created/.test(r.stderr)) refused++;
      c.tsrunc(['delete', '--force', c.id]);
    }
    swapper.kill('SIGKILL');
    t.comment(`${refused} of 200 runs met the swap between mknod and the check, and were refused`);
    const after = fs.statSync(victim);
    t.equal((after.mode & 0o7777).toString(8), (before.mode & 0o7777).toString(8), 'the host file keeps its mode');
    t.equal(after.uid, before.uid, 'and its owner');
    t.equal(fs.readFileSync(victim, 'utf8'), 'host file\n');
  },
);

t.test('a 200 KB annotation: create works, and every hook gets the whole state', { skip }, async (t) => {
  const log = sharedDir(t, 'tsrunc-bigstate');
  const big = 'x'.repeat(200 * 1024);
  const catTo = (dir: string, name: string, into: string): string => {
    const file = path.join(dir, `${name}.sh`);
    fs.writeFileSync(file, `#!/bin/sh\ncat > ${into}/${name}.json\n`, { mode: 0o755 });
    return file;
  };
  const c = testContainer(
    t,
    (s, bundle) => {
      s.annotations = { 'org.example.big': big };
      const hook = (p: string): Hook[] => [{ path: p, env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] }];
      fs.mkdirSync(path.join(bundle, 'rootfs/hooks'));
      s.mounts!.push({ destination: '/hooklog', type: 'bind', source: log, options: ['bind', 'rw'] });
      s.hooks = {
        prestart: hook(catTo(log, 'prestart', log)),
        createRuntime: hook(catTo(log, 'createRuntime', log)),
        createContainer: hook(catTo(log, 'createContainer', log)),
        startContainer: hook(
          (catTo(path.join(bundle, 'rootfs/hooks'), 'startContainer', '/hooklog'), '/hooks/startContainer.sh'),
        ),
        poststart: hook(catTo(log, 'poststart', log)),
      };
      s.process!.args = ['true'];
    },
    { copyRootfs: true },
  );
  const r = c.tsrunc(['run', c.id]);
  t.equal(r.status, 0, r.stderr);
  for (const name of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']) {
    const file = path.join(log, `${name}.json`);
    const state = fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { id: string; annotations?: Record<string, string> })
      : undefined;
    t.equal(state?.id, c.id, `${name} got a state`);
    t.equal(state?.annotations?.['org.example.big']?.length, big.length, `${name} got the whole 200 KB annotation`);
  }
});

// Found by reviewing tsrunc-init as an attacker would (after A-E were fixed).

t.test(
  'no capabilities object means no capabilities, for run and exec, as runc',
  { skip: skip || (RUNC === undefined ? 'runc is not installed' : false) },
  async (t) => {
    const show = ['sh', '-c', 'grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status'];
    const c = testContainer(t, (s) => {
      delete s.process!.capabilities;
      s.process!.args = show;
    });
    const twin = runcTwin(t, c);
    const ours = c.tsrunc(['run', c.id]);
    const theirs = twin.run(['run', 'ID']);
    t.equal(ours.status, 0, ours.stderr);
    t.equal(ours.stdout, 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n');
    t.equal(ours.stdout, theirs.stdout, "runc's sets");
    const d = testContainer(t);
    t.equal(d.tsrunc(['run', '-d', d.id]).status, 0);
    const proc = path.join(d.bundle, 'process.json');
    fs.writeFileSync(proc, JSON.stringify({ args: show, cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] }));
    const e = d.tsrunc(['exec', '--process', proc, d.id]);
    t.equal(e.stdout, ours.stdout, 'exec --process without capabilities: none either');
  },
);

t.test(
  "createContainer hooks get stdio only, not the init's channel, exec.fifo or preserved fds",
  { skip },
  async (t) => {
    const out = sharedDir(t, 'tsrunc-hookfds');
    const hook = path.join(out, 'hook.sh');
    fs.writeFileSync(hook, `#!/bin/sh\nls /proc/self/fd > ${out}/fds\n`, { mode: 0o755 });
    const c = testContainer(t, (s) => {
      s.hooks = { createContainer: [{ path: hook, env: ['PATH=/usr/bin:/bin'] }] };
    });
    const r = c.tsrunc(['create', c.id]);
    t.equal(r.status, 0, r.stderr);
    // (ls's own directory fd is the one above 2)
    t.same(
      fs
        .readFileSync(path.join(out, 'fds'), 'utf8')
        .trim()
        .split('\n')
        .map(Number)
        .sort((a, b) => a - b),
      [0, 1, 2, 3],
    );
  },
);

t.test(
  'readonlyPaths and maskedPaths that are symlinks in the image apply to their targets in it, as runc',
  { skip: skip || (RUNC === undefined ? 'runc is not installed' : false) },
  async (t) => {
    const c = testContainer(
      t,
      (s, bundle) => {
        const rootfs = path.join(bundle, 'rootfs');
        fs.mkdirSync(path.join(rootfs, 'real'));
        fs.mkdirSync(path.join(rootfs, 'secret'));
        fs.writeFileSync(path.join(rootfs, 'secret/key'), 'key\n');
        fs.symlinkSync('/real', path.join(rootfs, 'data'));
        fs.symlinkSync('secret', path.join(rootfs, 'hidden'));
        s.root!.readonly = false;
        s.linux!.readonlyPaths = ['/data'];
        s.linux!.maskedPaths = ['/hidden'];
        s.process!.args = [
          'sh',
          '-c',
          'touch /data/x 2>&1 | grep -o "Read-only file system"; cat /secret/key 2>/dev/null || echo masked',
        ];
      },
      { copyRootfs: true },
    );
    const twin = runcTwin(t, c);
    const ours = c.tsrunc(['run', c.id]);
    t.equal(ours.status, 0, ours.stderr);
    t.equal(ours.stdout, 'Read-only file system\nmasked\n', 'the targets are read-only and masked');
    t.equal(twin.run(['run', 'ID']).stdout, ours.stdout, 'as with runc');
  },
);

t.test(
  "exec without -t is in a session of its own: no controlling terminal of the caller's to type into (TIOCSTI), as runc",
  { skip: skip || (fs.existsSync('/usr/bin/script') ? false : 'needs script(1) (util-linux) for a pty') },
  async (t) => {
    const c = testContainer(t);
    t.equal(c.tsrunc(['run', '-d', c.id]).status, 0);
    // The caller's terminal: a pty script(1) makes, stdin and the controlling terminal of tsrunc.
    const stat = (tsrunc: string, root: string, id: string): string =>
      execFileSync(
        'script',
        [
          '-qec',
          `${tsrunc} --root ${root} exec ${id} awk '{print "tty_nr=" $7 " session=" $6}' /proc/self/stat`,
          '/dev/null',
        ],
        { encoding: 'utf8', cwd: c.bundle },
      );
    const ours = stat(TSRUNC, c.root, c.id);
    t.match(ours, /tty_nr=0 /, `the exec'd process has no controlling terminal: ${ours}`);
    if (RUNC !== undefined) {
      const twin = runcTwin(t, c);
      t.equal(twin.run(['run', '-d', 'ID']).status, 0);
      const theirs = stat(RUNC, twin.root, twin.id);
      t.match(theirs, /tty_nr=0 /, `nor with runc: ${theirs}`);
    }
  },
);
