// bin/tsrunc's direct path (issue 17): the native front (native/front/front.cc) hands node
// exactly what the sh launcher it replaced did (scripts/sh-launcher.mjs, run by /bin/sh as the
// kernel ran it): the same arguments, the same environment (as dash passed it on: names that
// are not shell names dropped, PWD set, IFS/OPTIND/PPID given dash's values, NODE_OPTIONS,
// NODE_EXTRA_CA_CERTS and a caller's TSRUNC_CALLER_FDS gone, the caller_fds list) and the
// same open fds. Only the order of the environment differs (dash's hash order).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { shLauncher } from '../../scripts/sh-launcher.mjs';
import { FRONT_BUILT, makeFront } from '../helpers/front';
import { TSRUNC, tempDir } from '../helpers/tsrunc';

const skip = fs.existsSync(FRONT_BUILT) && fs.existsSync(TSRUNC) ? false : 'the front is not built (npm run build)';

const PROBE = `
const fs = require('node:fs');
const fds = [];
for (let fd = 0; fd < 64; fd++) {
  try {
    const to = fs.readlinkSync('/proc/self/fd/' + fd);
    fds.push(fd + ' ' + to.replace(/[0-9]+/g, 'N'));
  } catch {}
}
process.stdout.write(JSON.stringify({
  argv: process.argv.slice(2),
  env: Object.entries(process.env).map(([k, v]) => k + '=' + v).sort(),
  cwd: process.cwd(),
  fds,
}));
`;

interface Seen {
  status: number | null;
  stdout: string;
  stderr: string;
}

function both(
  t: Parameters<typeof tempDir>[0],
  args: string[],
  env: NodeJS.ProcessEnv,
  extra: (number | 'ignore')[] = [],
  cwd?: string,
): { sh: Seen; front: Seen } {
  const dir = tempDir(t, 'tsrunc-front-cmp');
  const probe = path.join(dir, 'probe.js');
  fs.writeFileSync(probe, PROBE);
  const sh = path.join(dir, 'tsrunc.sh');
  fs.writeFileSync(sh, shLauncher(process.execPath, [], probe), { mode: 0o755 });
  const front = makeFront(t, { node: process.execPath, boot: probe, build: '' });
  const run = (file: string): Seen => {
    const r = spawnSync(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe', ...extra], encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { sh: run(sh), front: run(front) };
}

t.test('the front hands node what the sh launcher did', { skip }, async (t) => {
  const a = fs.openSync('/dev/null', 'r');
  t.teardown(() => fs.closeSync(a));
  const base = { PATH: '/usr/bin:/bin', HOME: '/root' };
  const cases: [string, string[], NodeJS.ProcessEnv, (number | 'ignore')[]][] = [
    ['a plain command', ['--root', '/x', 'state', 'id'], base, []],
    ['no environment at all', ['list'], {}, []],
    [
      'Node settings and a stale list are dropped',
      ['state', 'id'],
      { ...base, NODE_OPTIONS: '--require /x', NODE_EXTRA_CA_CERTS: '/ca', TSRUNC_CALLER_FDS: '3 4' },
      [],
    ],
    ['names that are not shell names are dropped', ['list'], { ...base, 'A-B': '1', '1X': '2', ok_1: '3' }, []],
    ['a PWD that is not the cwd is replaced', ['list'], { ...base, PWD: '/nonexistent' }, []],
    ['a PWD that is the cwd is kept', ['list'], { ...base, PWD: '/tmp/../tmp' }, []],
    ["dash's own variables", ['list'], { ...base, IFS: 'x', OPTIND: '7', PPID: '1' }, []],
    [
      '--preserve-fds: the list, and the shell variables caller_fds unsets',
      ['create', '--preserve-fds', '2', 'id'],
      { ...base, n: '1', next: '2', a: '3', v: '4', fds: '5', i: '6', keep: '7' },
      [a, 'ignore', a],
    ],
    ['LISTEN_FDS', ['run', 'id'], { ...base, LISTEN_FDS: '2', LISTEN_PID: '1' }, [a, a]],
    ['LISTEN_FDS that is not a number', ['run', 'id'], { ...base, LISTEN_FDS: 'x' }, [a]],
    ['an empty LISTEN_FDS', ['run', 'id'], { ...base, LISTEN_FDS: '' }, [a]],
    ['a huge --preserve-fds', ['create', '--preserve-fds=99999999', 'id'], base, [a]],
    ['--status-fd, open', ['checkpoint', '--lazy-pages', '--status-fd', '5', 'id'], base, ['ignore', 'ignore', a]],
    ['--status-fd=, not open', ['checkpoint', '--status-fd=4', 'id'], base, ['ignore', 'ignore', a]],
    ['--status-fd with a leading zero', ['checkpoint', '--status-fd=05', 'id'], base, ['ignore', 'ignore', a]],
    ['--status-fd too large', ['checkpoint', '--status-fd', '2147483648', 'id'], base, [a]],
    ['--status-fd twice', ['checkpoint', '--status-fd', '3', '--status-fd=5', 'id'], base, [a, 'ignore', a]],
    [
      '--status-fd beside --preserve-fds',
      ['exec', '--preserve-fds', '1', 'id', 'x', '--status-fd', '3', '--status-fd', '5'],
      { ...base, a: '1', v: '2' },
      [a, 'ignore', a],
    ],
    ['arguments with spaces, quotes and newlines', ['state', 'a b\'c"\nd', '', '-'], base, []],
  ];
  for (const [name, args, env, extra] of cases) {
    const { sh, front } = both(t, args, env, extra, '/tmp');
    t.equal(sh.status, 0, `${name}: sh ran (${sh.stderr})`);
    t.equal(front.status, 0, `${name}: the front's node ran`);
    t.same(JSON.parse(front.stdout || '{}'), JSON.parse(sh.stdout || '{}'), name);
    t.equal(front.stderr, sh.stderr, `${name}: stderr`);
  }
});

t.test('the front exits 127 with a message when node cannot be run', { skip }, async (t) => {
  const front = makeFront(t, { node: '/nonexistent/node', build: '' });
  const r = spawnSync(front, ['list'], { encoding: 'utf8' });
  t.equal(r.status, 127);
  t.match(r.stderr, /^tsrunc: cannot run \/nonexistent\/node: No such file or directory\n$/);
});

t.test('a front not installed by scripts/build.mjs says so', { skip }, async (t) => {
  const r = spawnSync(FRONT_BUILT, ['list'], { encoding: 'utf8' });
  t.equal(r.status, 127);
  t.match(r.stderr, /has not been installed by scripts\/build.mjs/);
});
