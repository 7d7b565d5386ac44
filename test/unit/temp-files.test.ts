// Issue 12 F: files tsrunc writes by write-then-rename (the pid file, state.json) get their temp
// file under a name nobody can predict, created O_CREAT|O_EXCL|O_NOFOLLOW: in a directory
// another user can write, a symlink planted where the temp file would go is never followed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { writePidFile } from '../../src/lifecycle/create';
import { createTempSibling, openNewFile, writeFileAtomic } from '../../src/state/store';
import { tempDir } from '../helpers/tsrunc';

const SECRET = 'root-owned content\n';

/** A directory anyone may write (as /tmp), and a victim file outside it. */
function scene(t: Parameters<typeof tempDir>[0]): { shared: string; victim: string } {
  const dir = tempDir(t, 'tsrunc-temp-files');
  const shared = path.join(dir, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o1777);
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, SECRET, { mode: 0o600 });
  return { shared, victim };
}

t.test('the temp open refuses a planted symlink (to a file, or dangling) and follows neither', async (t) => {
  const { shared, victim } = scene(t);
  const planted = path.join(shared, 'planted.tmp');
  fs.symlinkSync(victim, planted);
  t.throws(() => openNewFile(planted, 0o644), { code: 'EEXIST' }, 'a symlink to a file: EEXIST');
  t.equal(fs.readFileSync(victim, 'utf8'), SECRET, 'the victim is untouched');

  const dangling = path.join(shared, 'dangling.tmp');
  const target = path.join(path.dirname(victim), 'would-be-created');
  fs.symlinkSync(target, dangling);
  t.throws(() => openNewFile(dangling, 0o644), { code: 'EEXIST' }, 'a dangling symlink: EEXIST');
  t.notOk(fs.existsSync(target), 'nothing was created through it');

  const fresh = path.join(shared, 'fresh.tmp');
  const fd = openNewFile(fresh, 0o640);
  fs.closeSync(fd);
  t.equal(fs.lstatSync(fresh).isFile(), true, 'a free name is created as a regular file');
});

t.test('createTempSibling skips taken names for other random ones, a bounded number of times', async (t) => {
  const { shared, victim } = scene(t);
  const file = path.join(shared, 'pid');
  for (const n of ['1', '2']) fs.symlinkSync(victim, `${file}.${process.pid}.${n}.tmp`);
  const names = ['1', '2', '3'];
  const { fd, tmp } = createTempSibling(file, 0o644, () => names.shift() ?? 'x');
  fs.closeSync(fd);
  t.equal(tmp, `${file}.${process.pid}.3.tmp`, 'the third, free name');
  t.equal(fs.readFileSync(victim, 'utf8'), SECRET, 'the victim is untouched');
  let tries = 0;
  t.throws(
    () =>
      createTempSibling(file, 0o644, () => {
        tries++;
        return '1';
      }),
    { code: 'EEXIST' },
    'a name that is always taken: EEXIST in the end',
  );
  t.equal(tries, 16, 'after 16 attempts');
});

t.test(
  'a pid file in a world-writable directory: a symlink at the old predictable temp name is not followed',
  async (t) => {
    const { shared, victim } = scene(t);
    const pidFile = path.join(shared, 'init.pid');
    // The name the writer used before (FILE.PID.tmp, opened with 'w': followed and truncated).
    fs.symlinkSync(victim, `${pidFile}.${process.pid}.tmp`);
    writePidFile(pidFile, 4242);
    t.equal(fs.readFileSync(victim, 'utf8'), SECRET, 'the victim is untouched');
    t.equal(fs.lstatSync(pidFile).isFile(), true, 'the pid file is a regular file, not a link');
    t.equal(fs.readFileSync(pidFile, 'utf8'), '4242', 'and holds the pid');
    t.same(
      fs
        .readdirSync(shared)
        .filter((n) => n.startsWith('init.pid.') && !fs.lstatSync(path.join(shared, n)).isSymbolicLink()),
      [],
      'no temp file of ours is left',
    );
  },
);

t.test('a symlink planted at the pid file itself is replaced, not written through', async (t) => {
  const { shared, victim } = scene(t);
  const pidFile = path.join(shared, 'init.pid');
  fs.symlinkSync(victim, pidFile);
  writePidFile(pidFile, 77);
  t.equal(fs.readFileSync(victim, 'utf8'), SECRET);
  t.equal(fs.lstatSync(pidFile).isFile(), true);
  t.equal(fs.readFileSync(pidFile, 'utf8'), '77');
});

t.test('state writes use the same temp files: FILE.PID.RANDOM.tmp, mode as asked', async (t) => {
  const { shared, victim } = scene(t);
  const file = path.join(shared, 'state.json');
  fs.symlinkSync(victim, `${file}.${process.pid}.tmp`);
  writeFileAtomic(file, '{"a":1}', 0o600);
  t.equal(fs.readFileSync(victim, 'utf8'), SECRET);
  t.equal(fs.readFileSync(file, 'utf8'), '{"a":1}');
  t.equal(fs.statSync(file).mode & 0o777, 0o600);
});
