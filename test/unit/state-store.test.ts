// The state store under concurrency and failure: one winner among concurrent reserves of
// an id, state files never seen half-written, status computed live from the pid and its
// start time, and the per-container flock serializing commands.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError } from '../../src/errors';
import { Runtime } from '../../src/runtime';
import type { State } from '../../src/spec/types';
import { readProcStat } from '../../src/state/proc';
import { EXEC_FIFO, LOCK_FILE, STATE_FILE, StateStore } from '../../src/state/store';
import { containerRecord, writeRecord } from '../helpers/records';
import {
  collect,
  exited,
  killChild,
  privateRoot,
  rootEntries,
  runTsrunc,
  spawnTs,
  srcModule,
  tempDir,
  waitFor,
  type Teardownable,
} from '../helpers/tsrunc';

const STORE_MODULE = srcModule('state/store.ts');

/** Starts a TypeScript child and makes sure it is killed when `t` ends. */
function child(t: Teardownable, code: string): { proc: ChildProcess; out: { text: string }; err: { text: string } } {
  const proc = spawnTs(code);
  t.teardown(() => killChild(proc));
  return { proc, out: collect(proc.stdout), err: collect(proc.stderr) };
}

// ---- (a) concurrent reserves -------------------------------------------------------------

t.test('20 concurrent reserve() of one id from 20 processes: exactly one winner', async (t) => {
  const root = privateRoot(t);
  const id = 'contended';
  const code = `
    const { StateStore } = require(${JSON.stringify(STORE_MODULE)});
    const store = new StateStore(${JSON.stringify(root)});
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      try {
        const h = store.reserve(${JSON.stringify(id)});
        process.stdout.write('ok\\n');
        h.release();
      } catch (err) {
        process.stdout.write('error: ' + err.message + '\\n');
      }
      process.exit(0);
    });`;
  const children = Array.from({ length: 20 }, () => child(t, code));
  // All load the module first, then race on one signal. (20 tsx starts on 2 loaded cores: a
  // generous bound.)
  await waitFor(() => children.every((c) => c.out.text.includes('ready\n')), 'all children ready', 180_000);
  for (const c of children) c.proc.stdin?.write('go\n');
  const statuses = await Promise.all(children.map((c) => exited(c.proc)));
  t.same(
    statuses.map((s) => s.code),
    Array(20).fill(0),
    'every child exits 0',
    { stderr: children.map((c) => c.err.text).filter((s) => s !== '') },
  );

  const results = children.map((c) => c.out.text.replace('ready\n', '').trim());
  t.equal(results.filter((r) => r === 'ok').length, 1, 'one winner');
  const losers = results.filter((r) => r !== 'ok');
  t.equal(losers.length, 19, '19 losers');
  t.same(
    [...new Set(losers)],
    ['error: container with given ID already exists'],
    'each loser: "container with given ID already exists" (runc\'s words)',
  );
  t.same(rootEntries(root), [id], 'one directory under the root');

  // And in this process too, with the error's kind.
  const store = new StateStore(root);
  t.throws(() => store.reserve(id), {
    name: 'TsruncError',
    kind: 'exists',
    message: 'container with given ID already exists',
    context: { containerId: id },
  });
});

t.test('reserve() checks the id before touching the root', async (t) => {
  const root = privateRoot(t);
  const store = new StateStore(root);
  for (const bad of ['../x', '..', '.', 'a/b', '', 'sp ace']) {
    t.throws(() => store.reserve(bad), { name: 'TsruncError', kind: 'usage' }, `rejects ${JSON.stringify(bad)}`);
  }
  t.same(rootEntries(root), []);
  t.same(rootEntries(path.dirname(root)), ['root'], 'nothing created next to the root either');
  t.doesNotThrow(() => store.reserve('ok_id-1.2+3,4').release(), 'word characters and + , - . are allowed');
});

// ---- (b) atomic writes ---------------------------------------------------------------------

t.test('a state file is never seen half-written while the writer is SIGKILLed', async (t) => {
  const dir = tempDir(t, 'tsrunc-atomic');
  const file = path.join(dir, STATE_FILE);
  const writerCode = `
    const { writeFileAtomic } = require(${JSON.stringify(STORE_MODULE)});
    const items = [];
    for (let i = 0; i < 20000; i++) items.push({ i, name: 'item-' + i, data: 'abcdefghijklmnopqrstuvwxyz' });
    let seq = 0;
    process.stdout.write('ready\\n');
    for (;;) {
      seq++;
      writeFileAtomic(${JSON.stringify(file)}, JSON.stringify({ pid: process.pid, seq, count: items.length, items, tail: 'end' }));
    }`;
  const check = (text: string): string | undefined => {
    let doc: { pid?: number; seq?: number; count?: number; items?: unknown[]; tail?: string };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch (err) {
      return `not JSON (${text.length} bytes): ${(err as Error).message}`;
    }
    if (doc.tail !== 'end' || !Array.isArray(doc.items) || doc.items.length !== doc.count) return 'JSON but incomplete';
    return undefined;
  };
  // A complete initial record, as create would leave it.
  fs.writeFileSync(file, JSON.stringify({ pid: 0, seq: 0, count: 0, items: [], tail: 'end' }));

  let reads = 0;
  const bad: string[] = [];
  const versions = new Set<string>();
  /** Reads and checks the file; returns the writer pid recorded in it. */
  const read = (): number | undefined => {
    const text = fs.readFileSync(file, 'utf8');
    reads++;
    const problem = check(text);
    if (problem !== undefined) {
      bad.push(problem);
      return undefined;
    }
    const doc = JSON.parse(text) as { pid: number; seq: number };
    versions.add(`${doc.pid}:${doc.seq}`);
    return doc.pid;
  };
  const rounds = 12;
  for (let round = 0; round < rounds; round++) {
    const w = child(t, writerCode);
    // Reading all along, wait for this writer's first complete record: from then on it is
    // in its write loop, and every kill below lands somewhere inside a write.
    await waitFor(() => read() === w.proc.pid, `round ${round}: the writer's first record`, 60_000, 1);
    // Read as fast as possible for a random while, then kill the writer mid-loop.
    const until = Date.now() + Math.floor(Math.random() * 250);
    while (Date.now() < until) read();
    w.proc.kill('SIGKILL');
    const st = await exited(w.proc);
    t.equal(st.signal, 'SIGKILL', `round ${round}: writer killed`, { stderr: w.err.text });
    read();
  }
  t.same(bad.slice(0, 5), [], `${reads} reads, none saw a partial file`);
  t.ok(versions.size > rounds, `the file changed under the reader (${versions.size} versions seen, ${rounds} writers)`);
  const leftovers = fs.readdirSync(dir).filter((n) => n !== STATE_FILE);
  t.comment(`temp files left by killed writers: ${leftovers.length}`);
  t.ok(
    leftovers.every((n) => /^state\.json\.[0-9]+\.[0-9]+\.tmp$/.test(n)),
    'only state.json.PID.RANDOM.tmp files are left besides the state file',
  );
});

// ---- (c) status computed live --------------------------------------------------------------

/** A pid that has certainly exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync('true');
  if (typeof r.pid !== 'number' || r.pid <= 0) throw new Error('could not run true');
  return r.pid;
}

function cliStates(root: string): { json: State[]; table: string[][]; quiet: string[] } {
  const j = runTsrunc(['--root', root, 'list', '--format', 'json']);
  if (j.status !== 0) throw new Error(`list --format json: ${j.stderr}`);
  const tb = runTsrunc(['--root', root, 'list']);
  if (tb.status !== 0) throw new Error(`list: ${tb.stderr}`);
  const q = runTsrunc(['--root', root, 'list', '-q']);
  if (q.status !== 0) throw new Error(`list -q: ${q.stderr}`);
  return {
    json: (JSON.parse(j.stdout) as State[] | null) ?? [],
    table: tb.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.trim().split(/\s+/)),
    quiet: q.stdout.split('\n').filter((l) => l !== ''),
  };
}

t.test('status is computed from the pid and its start time', async (t) => {
  const root = privateRoot(t);
  const bundle = tempDir(t, 'tsrunc-bundle');
  const store = new StateStore(root);
  const runtime = new Runtime({ root });

  // (It must outlive the subtests below however slow the machine: killed by them and at teardown.)
  const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => killChild(sleeper));
  const sleeperPid = sleeper.pid ?? 0;
  await waitFor(() => readProcStat(sleeperPid) !== undefined, 'sleep to exist');
  const stat = readProcStat(sleeperPid);
  if (stat === undefined) throw new Error('sleep vanished');

  // A zombie: a child of a shell that then exec'd into sleep, which never reaps it (the child
  // outlives the exec so that the shell cannot reap it first).
  const zombieParent = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 1000'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => killChild(zombieParent));
  const zp = collect(zombieParent.stdout);
  await waitFor(() => zp.text.includes('\n'), 'the zombie pid');
  const zombiePid = Number(zp.text.trim());
  await waitFor(() => readProcStat(zombiePid)?.state === 'Z', 'the child to become a zombie');
  const zombieStart = readProcStat(zombiePid)?.startTime ?? 0;

  writeRecord(store, containerRecord('dead', bundle, deadPid(), 12345));
  writeRecord(store, containerRecord('never-started', bundle, 0, 0));
  writeRecord(store, containerRecord('reused-pid', bundle, sleeperPid, stat.startTime + 1));
  writeRecord(store, containerRecord('running', bundle, sleeperPid, stat.startTime, true));
  writeRecord(store, containerRecord('created', bundle, sleeperPid, stat.startTime, false));
  writeRecord(store, containerRecord('zombie', bundle, zombiePid, zombieStart, true));
  const fifo = path.join(store.containerDir('created'), EXEC_FIFO);
  const mk = spawnSync('mkfifo', [fifo]);
  if (mk.status !== 0) fs.writeFileSync(fifo, '');

  const want: Record<string, { status: string; pid: number }> = {
    created: { status: 'created', pid: sleeperPid },
    dead: { status: 'stopped', pid: 0 },
    'never-started': { status: 'stopped', pid: 0 },
    'reused-pid': { status: 'stopped', pid: 0 },
    running: { status: 'running', pid: sleeperPid },
    zombie: { status: 'stopped', pid: 0 },
  };
  const ids = Object.keys(want).sort();

  t.test('Runtime.state()', async (t) => {
    for (const id of ids) {
      const s = runtime.state(id);
      t.match(
        s,
        {
          id,
          ...want[id],
          bundle,
          rootfs: path.join(bundle, 'rootfs'),
          ociVersion: '1.2.0',
          annotations: { 'org.example.test': id },
        },
        id,
      );
    }
  });

  t.test('Runtime.list()', async (t) => {
    const list = runtime.list();
    t.same(
      list.map((s) => s.id),
      ids,
      'sorted by id',
    );
    for (const s of list) t.match(s, want[s.id], s.id);
  });

  t.test('tsrunc state', async (t) => {
    for (const id of ids) {
      const r = runTsrunc(['--root', root, 'state', id]);
      t.equal(r.status, 0, `${id}: exit 0`, { stderr: r.stderr });
      t.match(JSON.parse(r.stdout) as State, { id, ...want[id] }, id);
    }
  });

  t.test('tsrunc list (json, table, -q)', async (t) => {
    const { json, table, quiet } = cliStates(root);
    t.same(
      json.map((s) => s.id),
      ids,
    );
    for (const s of json) t.match(s, want[s.id], `json: ${s.id}`);
    t.same(table[0], ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], 'table header');
    const rows = table.slice(1);
    t.same(
      rows.map((r) => r[0]),
      ids,
      'table rows sorted by id',
    );
    for (const r of rows) {
      const id = r[0] ?? '';
      t.same([r[1], r[2], r[3]], [String(want[id]?.pid), want[id]?.status, bundle], `table: ${id}`);
    }
    t.same(quiet, ids, '-q prints the ids only');
  });

  t.test('once the process dies, the same records read as stopped', async (t) => {
    sleeper.kill('SIGKILL');
    await exited(sleeper);
    await waitFor(() => readProcStat(sleeperPid) === undefined, 'the sleeper to be reaped');
    for (const id of ['running', 'created']) t.match(runtime.state(id), { status: 'stopped', pid: 0 }, id);
    const { json } = cliStates(root);
    t.ok(
      json.every((s) => s.status === 'stopped' && s.pid === 0),
      'list: all stopped',
    );
  });
});

t.test('state of a missing container', async (t) => {
  const root = privateRoot(t);
  const runtime = new Runtime({ root });
  t.throws(() => runtime.state('nosuch'), {
    name: 'TsruncError',
    kind: 'not-found',
    message: 'container does not exist',
  });
  t.same(runtime.list(), []);
  t.same(rootEntries(root), [], 'state does not create anything');
  // A directory without state.json (a create that died half-way) is not listed.
  fs.mkdirSync(path.join(root, 'half'));
  t.same(runtime.list(), []);
  t.throws(() => runtime.state('half'), { name: 'TsruncError', kind: 'not-found' });
});

// ---- (d) locking ----------------------------------------------------------------------------

/** Resolves once /proc/locks shows `pid` waiting (->) for an flock on the inode `ino`. */
async function blockedOnFlock(pid: number, ino: number): Promise<void> {
  if (!fs.existsSync('/proc/locks')) {
    // No way to see waiters: give the child time to reach flock(). The assertion that it has
    // not acquired the lock stays sound, only weaker.
    await new Promise((r) => setTimeout(r, 500));
    return;
  }
  const re = new RegExp(
    `^\\d+: -> FLOCK\\s+ADVISORY\\s+(?:READ|WRITE)\\s+${pid}\\s+[0-9a-f]+:[0-9a-f]+:${ino}\\s`,
    'm',
  );
  await waitFor(
    () => re.test(fs.readFileSync('/proc/locks', 'utf8')),
    `pid ${pid} blocked in flock (/proc/locks)`,
    30_000,
  );
}

t.test('the container lock', async (t) => {
  const root = privateRoot(t);
  const bundle = tempDir(t, 'tsrunc-bundle');
  const store = new StateStore(root);
  const id = 'locked';
  writeRecord(store, containerRecord(id, bundle, 0, 0));
  const ino = fs.statSync(path.join(store.containerDir(id), LOCK_FILE)).ino;
  const opener = (mode: 'shared' | 'exclusive'): string => `
    const { StateStore } = require(${JSON.stringify(STORE_MODULE)});
    const store = new StateStore(${JSON.stringify(root)});
    process.stdout.write('trying\\n');
    try {
      const h = store.open(${JSON.stringify(id)}, ${JSON.stringify(mode)});
      process.stdout.write('acquired\\n');
      h.release();
    } catch (err) {
      process.stdout.write('error: ' + err.message + '\\n');
    }
    process.exit(0);`;

  const cases: [holder: 'shared' | 'exclusive', waiter: 'shared' | 'exclusive'][] = [
    ['exclusive', 'exclusive'],
    ['exclusive', 'shared'],
    ['shared', 'exclusive'],
  ];
  for (const [holder, waiter] of cases) {
    t.test(`${waiter} waits while ${holder} is held`, async (t) => {
      const held = store.open(id, holder);
      t.teardown(() => held.release());
      const c = child(t, opener(waiter));
      await waitFor(() => c.out.text.includes('trying\n'), 'child trying');
      await blockedOnFlock(c.proc.pid ?? -1, ino);
      t.notMatch(c.out.text, /acquired/, 'the child has not acquired the lock while it is held');
      t.equal(c.proc.exitCode, null, 'the child is still waiting');
      held.release();
      const st = await exited(c.proc);
      t.equal(st.code, 0, { stderr: c.err.text });
      t.match(c.out.text, /acquired/, 'acquired after release');
    });
  }

  t.test('shared holders do not exclude each other', async (t) => {
    const held = store.open(id, 'shared');
    t.teardown(() => held.release());
    const c = child(t, opener('shared'));
    const st = await exited(c.proc);
    t.equal(st.code, 0, { stderr: c.err.text });
    t.match(c.out.text, /acquired/, 'a second shared open succeeds while the first is held');
  });

  t.test('a waiter behind a delete gets "container does not exist"', async (t) => {
    const victim = 'deleted-while-waiting';
    writeRecord(store, containerRecord(victim, bundle, 0, 0));
    const victimIno = fs.statSync(path.join(store.containerDir(victim), LOCK_FILE)).ino;
    const held = store.open(victim, 'exclusive');
    t.teardown(() => held.release());
    const c = child(t, opener('shared').replace(JSON.stringify(id), JSON.stringify(victim)));
    await waitFor(() => c.out.text.includes('trying\n'), 'child trying');
    await blockedOnFlock(c.proc.pid ?? -1, victimIno);
    held.remove();
    const st = await exited(c.proc);
    t.equal(st.code, 0, { stderr: c.err.text });
    t.match(c.out.text, 'error: container does not exist');
    t.notOk(fs.existsSync(store.containerDir(victim)), 'the directory is gone');
  });
});

t.test('the error of open() on a missing id is typed', async (t) => {
  const store = new StateStore(privateRoot(t));
  try {
    store.open('nosuch', 'shared');
    t.fail('opened');
  } catch (err) {
    t.ok(err instanceof TsruncError);
    t.match(err, {
      kind: 'not-found',
      exitCode: 1,
      message: 'container does not exist',
      context: { containerId: 'nosuch' },
    });
  }
});

t.test('a create waits for a held root lock only as long as the store allows', async (t) => {
  const { native } = await import('../../src/native/addon');
  const root = privateRoot(t);
  const store = new StateStore(root, { rootLockWaitMs: 300 });
  store.reserve('first').release();
  // Anyone who can read a root can flock it; here the test holds it.
  let holder: number | undefined = fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  t.teardown(() => holder !== undefined && fs.closeSync(holder));
  // (this fd's own flock conflicts with the store's, which opens the root again)
  native().flock(holder, true, false);
  t.throws(() => store.reserve('second'), { kind: 'system', message: /stayed locked by another process for 0\.3 s/ });
  t.notOk(fs.existsSync(store.containerDir('second')), 'nothing was made');
  fs.closeSync(holder);
  holder = undefined;
  store.reserve('second').release();
  t.ok(fs.existsSync(store.containerDir('second')), 'once released, the create goes through');
});

t.test(
  "a killed delete's renamed directory is swept by the next create, unless its delete still holds it",
  async (t) => {
    const { native } = await import('../../src/native/addon');
    const root = privateRoot(t);
    const store = new StateStore(root);
    const h = store.reserve('gone', containerRecord('gone', root, 0, 0));
    h.remove();
    t.same(rootEntries(root), [], 'a delete leaves nothing, not even its renamed directory');
    for (const name of ['stale@deleted.1.1', 'held@deleted.2.2']) {
      fs.mkdirSync(path.join(root, name));
      fs.writeFileSync(path.join(root, name, LOCK_FILE), '');
      fs.writeFileSync(path.join(root, name, STATE_FILE), '{}');
    }
    const held = fs.openSync(path.join(root, 'held@deleted.2.2', LOCK_FILE), fs.constants.O_RDONLY);
    t.teardown(() => fs.closeSync(held));
    native().flock(held, true, false);
    store.reserve('next', containerRecord('next', root, 0, 0)).release();
    t.same(rootEntries(root).sort(), ['held@deleted.2.2', 'next'], 'the stale one is gone, the held one stays');
    t.same(store.ids(), ['next'], 'list never shows a renamed directory');
  },
);

// ---- (e) a root, container directory or record someone else could have written -------------

t.test(
  'a root others may write, a symlinked root, record or directory: refused, nothing read or removed',
  async (t) => {
    const root = privateRoot(t);
    writeRecord(root, containerRecord('c1', '/nonexistent-bundle', 0, 0));
    const runtime = new Runtime({ root });
    t.equal(runtime.state('c1').id, 'c1', 'a private root works');

    fs.chmodSync(root, 0o777);
    t.throws(() => runtime.list(), {
      kind: 'system',
      message: `state root ${root} is writable by group and others (mode 0777)`,
    });
    t.throws(() => runtime.state('c1'), { message: /is writable by group and others/ });
    t.throws(() => runtime.delete('c1', true), { message: /is writable by group and others/ });
    t.ok(fs.existsSync(path.join(root, 'c1', STATE_FILE)), 'delete removed nothing');
    fs.chmodSync(root, 0o720);
    t.throws(() => runtime.list(), { message: `state root ${root} is writable by group (mode 0720)` });
    fs.chmodSync(root, 0o700);

    const record = path.join(root, 'c1', STATE_FILE);
    fs.chmodSync(record, 0o622);
    t.throws(() => runtime.state('c1'), {
      message: `container state file ${record} is writable by group and others (mode 0622)`,
    });
    fs.chmodSync(record, 0o600);
    const elsewhere = path.join(path.dirname(root), 'elsewhere.json');
    fs.renameSync(record, elsewhere);
    fs.symlinkSync(elsewhere, record);
    t.throws(() => runtime.state('c1'), {
      message: `container state file ${record} is a symlink; a file is expected there`,
    });
    fs.rmSync(record);
    fs.renameSync(elsewhere, record);

    const dir = path.join(root, 'c1');
    fs.chmodSync(dir, 0o757);
    t.throws(() => runtime.state('c1'), {
      message: `container state directory ${dir} is writable by others (mode 0757)`,
    });
    fs.chmodSync(dir, 0o711);
    t.equal(runtime.state('c1').id, 'c1', 'fine again');

    const alias = path.join(path.dirname(root), 'alias');
    fs.symlinkSync(root, alias);
    t.throws(() => new Runtime({ root: alias }).list(), {
      message: `state root ${alias} is a symlink; a directory is expected there`,
    });
    t.throws(() => new StateStore(alias).reserve('c2'), { message: /is a symlink/ });
    t.same(rootEntries(root), ['c1'], 'reserve made nothing');
  },
);

t.test('a root that does not exist: nothing listed, containers do not exist', async (t) => {
  const root = path.join(tempDir(t, 'tsrunc-noroot'), 'absent');
  const runtime = new Runtime({ root });
  t.same(runtime.list(), []);
  t.throws(() => runtime.state('c1'), { kind: 'not-found', message: 'container does not exist' });
  t.doesNotThrow(() => runtime.delete('c1', true), 'delete --force of a missing container is fine');
  t.notOk(fs.existsSync(root), 'and makes no root');
});
