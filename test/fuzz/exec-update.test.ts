// Fuzzed input against one running container (root only): `exec --process` documents
// (sensible, mutated and made from nothing; by file and on stdin), `update` with LinuxResources
// documents (by file and on stdin) or with runc's single flags, and `kill` with signal names
// and numbers that do not stop its init. Each command must end cleanly (a status and a
// message, no stack trace or internal error); a document the library rejects must be refused
// with exit 1 naming every pointer; and afterwards the container is still running, its state
// readable, and no process an exec started is left in it.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { ConfigError, type Problem } from '../../src/errors';
import { parseProcess } from '../../src/lifecycle/exec';
import { parseResources } from '../../src/lifecycle/update';
import { parseSignal } from '../../src/spec/linux-names';
import type { Process } from '../../src/spec/types';
import { cgroupDirsOf, rootSkipReason, testContainer, type TestContainer } from '../helpers/container';
import { tempDir, type RunResult } from '../helpers/tsrunc';
import { fuzz } from './fuzz';
import { hostProcess, resourcesDoc } from './host-spec';
import { mutate, mutation, type Json } from './json-mutate';
import { runTsruncAsync } from './proc';
import { checkProblems, cleanExit, namesPointer } from './verdict';

const skip = rootSkipReason();

/** Kinds of error messages (numbers and paths folded), counted, to show in the output. */
const messages = new Map<string, number>();
function tally(what: string, log: string): void {
  const msg = /"msg":"((?:[^"\\]|\\.)*)"/.exec(log.trim().split('\n').pop() ?? '')?.[1];
  if (msg === undefined) return;
  const key = `${what}: ${msg
    .replace(/\/tmp\/[^\s:"\\]+/g, 'TMP')
    .replace(/\d+/g, 'N')
    .slice(0, 130)}`;
  messages.set(key, (messages.get(key) ?? 0) + 1);
}

/** What the library says of a document: undefined when it takes it, else its problems. */
function libraryProblems(parse: () => unknown, text: string): Problem[] | undefined {
  try {
    parse();
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`the library threw ${String(err)}`);
    const wrong = checkProblems(text, err.problems);
    if (wrong !== undefined) throw new Error(`library: ${wrong}`);
    return err.problems;
  }
}

/** A command's outcome against the library's verdict: refused naming every pointer, or run. */
function judge(what: string, r: RunResult, log: string, problems: Problem[] | undefined, isExec = false): void {
  const passesStatus = isExec;
  const unclean = cleanExit(r, log, { passesStatus: passesStatus && problems === undefined });
  if (unclean !== undefined) throw new Error(`${what}: ${unclean}`);
  if (problems === undefined) return;
  // exec fails with 255, as runc's, so that a caller can tell it from its process's own status.
  if (r.status !== (isExec ? 255 : 1))
    throw new Error(
      `${what}: exit ${r.status} for a document the library rejects (${JSON.stringify(problems).slice(0, 300)})`,
    );
  for (const p of problems) {
    if (!namesPointer(r.stderr, p.pointer))
      throw new Error(`${what}: stderr does not name ${JSON.stringify(p.pointer)}: ${r.stderr.slice(0, 800)}`);
  }
}

const EXEC_ARGS: string[][] = [
  ['true'],
  ['false'],
  ['sh', '-c', 'exit 3'],
  ['cat', '/proc/self/status'],
  ['sleep', '0'],
  ['id'],
  ['ls', '/'],
  ['no-such-program'],
  ['/bin'],
  ['/etc/passwd'],
  ['/bin/busybox', 'true'],
];

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A process document from the host generator's choices, running `args` (with a PATH, mostly). */
function processJson(p: Partial<Process>, args: string[]): Json {
  return {
    terminal: false,
    cwd: '/',
    user: { uid: 0, gid: 0 },
    ...p,
    env: [PATH, ...(p.env ?? [])],
    args,
  } as unknown as Json;
}

/** Process documents for exec: the host generator's, with commands that end by themselves. */
const execDoc: fc.Arbitrary<{ doc: Json; text?: string }> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(hostProcess, fc.constantFrom(...EXEC_ARGS)).map(([p, args]) => ({ doc: processJson(p, args) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(hostProcess, fc.constantFrom(...EXEC_ARGS), fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([p, args, ms]) => ({ doc: mutate(processJson(p, args), ms) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          '',
          '{',
          'null',
          '[]',
          '{"args":["true"]}',
          '\u0000',
          '{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0},"args":5}',
        ),
        fc.string({ maxLength: 40 }),
      )
      .map((text) => ({ doc: null, text })),
  },
);

t.test('exec --process, update and kill against a running container', { skip }, async (t) => {
  const c: TestContainer = testContainer(t);
  const started = c.tsrunc(['run', '--detach', c.id]);
  t.equal(started.status, 0, `the container runs: ${started.stderr}`);
  if (started.status !== 0) return;
  const work = tempDir(t, 'tsrunc-fuzz-exec');
  const log = path.join(work, 'log.json');

  async function tsrunc(args: string[], input?: string): Promise<{ r: RunResult; log: string }> {
    fs.rmSync(log, { force: true });
    const r = await runTsruncAsync(['--root', c.root, '--log', log, '--log-format', 'json', ...args], {
      cwd: work,
      input,
      timeoutMs: 60_000,
    });
    return { r, log: fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '' };
  }

  async function pids(): Promise<number[]> {
    const ps = await tsrunc(['ps', '--format', 'json', c.id]);
    if (ps.r.status !== 0) throw new Error(`ps: ${ps.r.stderr}`);
    return JSON.parse(ps.r.stdout) as number[];
  }

  async function stillRunning(what: string): Promise<void> {
    const s = await tsrunc(['state', c.id]);
    if (s.r.status !== 0) throw new Error(`${what}: state fails afterwards: ${s.r.stderr.slice(0, 400)}`);
    const status = (JSON.parse(s.r.stdout) as { status: string }).status;
    if (status !== 'running') throw new Error(`${what}: the container is ${status} afterwards`);
  }

  const initPids = await pids();
  const counts = {
    exec: { refused: 0, ran: 0, statuses: new Map<number | null, number>() },
    update: { refused: 0, applied: 0, failed: 0 },
    kill: { sent: 0, refused: 0 },
  };

  await t.test('exec --process', async (t) => {
    await fuzz(
      t,
      'exec --process documents',
      fc.asyncProperty(execDoc, fc.boolean(), async ({ doc, text }, stdin) => {
        const body = text ?? JSON.stringify(doc);
        const file = path.join(work, 'process.json');
        fs.writeFileSync(file, body);
        const name = stdin ? '-' : file;
        const problems = libraryProblems(() => parseProcess(body, name), body);
        const run = await tsrunc(['exec', '--process', name, c.id], stdin ? body : undefined);
        judge(`exec --process ${stdin ? '- (stdin)' : 'FILE'}`, run.r, run.log, problems, true);
        if (problems !== undefined) counts.exec.refused++;
        else {
          counts.exec.ran++;
          counts.exec.statuses.set(run.r.status, (counts.exec.statuses.get(run.r.status) ?? 0) + 1);
          tally('exec', run.log);
        }
        await stillRunning('exec');
        const extra = (await pids()).filter((p) => !initPids.includes(p));
        if (extra.length > 0) throw new Error(`exec left processes in the container: ${extra.join(', ')}`);
      }),
      150,
      { shrink: false },
    );
    t.comment(
      `exec: ${counts.exec.refused} documents refused, ${counts.exec.ran} run (exit statuses ${[...counts.exec.statuses.entries()].map(([s, n]) => `${s}: ${n}`).join(', ')})`,
    );
  });

  const UPDATE_FLAGS: [string, fc.Arbitrary<string>][] = [
    ['--memory', fc.constantFrom('64m', '1g', '-1', '0', '100000000', '1.5GiB', 'big', '')],
    ['--memory-reservation', fc.constantFrom('32m', '0', '-1', 'x')],
    ['--memory-swap', fc.constantFrom('128m', '-1', '0')],
    ['--cpu-shares', fc.constantFrom('2', '1024', '262144', '1', '0', '-5', 'x')],
    ['--cpu-share', fc.constantFrom('512', '-1')],
    ['--cpu-quota', fc.constantFrom('-1', '50000', '1000', '0', 'x')],
    ['--cpu-period', fc.constantFrom('100000', '1000', '0', '1000001')],
    ['--cpuset-cpus', fc.constantFrom('0', '0-1', '1', '9', 'x', '')],
    ['--cpuset-mems', fc.constantFrom('0', '1', 'x')],
    ['--pids-limit', fc.constantFrom('-1', '100', '1000000', '0', 'x')],
    ['--blkio-weight', fc.constantFrom('10', '500', '5', 'x')],
    ['--kernel-memory', fc.constantFrom('1m')],
    ['--l3-cache-schema', fc.constantFrom('L3:0=f')],
  ];
  const updateFlags = fc.uniqueArray(
    fc.oneof(...UPDATE_FLAGS.map(([flag, value]) => value.map((v) => [flag, v] as [string, string]))),
    { selector: ([f]) => f, minLength: 1, maxLength: 3 },
  );

  await t.test('update', async (t) => {
    await fuzz(
      t,
      'update --resources documents and flags',
      fc.asyncProperty(
        fc.oneof(
          fc.record({ mode: fc.constantFrom('file' as const, 'stdin' as const), doc: resourcesDoc }),
          fc.record({ mode: fc.constant('flags' as const), flags: updateFlags }),
        ),
        async (u) => {
          let run: { r: RunResult; log: string };
          let problems: Problem[] | undefined;
          if (u.mode === 'flags') {
            run = await tsrunc(['update', ...u.flags.flat(), c.id]);
          } else {
            const body = JSON.stringify(u.doc) ?? 'null';
            const file = path.join(work, 'resources.json');
            fs.writeFileSync(file, body);
            problems = libraryProblems(
              () => parseResources(body, u.mode === 'stdin' ? 'resources (stdin)' : file),
              body,
            );
            run = await tsrunc(
              ['update', '--resources', u.mode === 'stdin' ? '-' : file, c.id],
              u.mode === 'stdin' ? body : undefined,
            );
          }
          judge(`update (${u.mode})`, run.r, run.log, problems);
          if (problems !== undefined) counts.update.refused++;
          else if (run.r.status === 0) counts.update.applied++;
          else {
            counts.update.failed++;
            tally('update', run.log);
          }
          await stillRunning('update');
        },
      ),
      150,
      { shrink: false },
    );
    t.comment(
      `update: ${counts.update.refused} documents refused, ${counts.update.applied} applied, ${counts.update.failed} refused cleanly by the host or the runtime`,
    );
  });

  // Found by this fuzzing: "--pids-limit abc" became NaN, which lifted the limit (exit 0).
  await t.test('regression: a numeric update flag that is not a number changes nothing', async (t) => {
    const pidsMax = cgroupDirsOf(c.id)
      .map((d) => path.join(d, 'pids.max'))
      .find((f) => fs.existsSync(f));
    if (pidsMax === undefined) {
      t.comment('no pids controller for the container: nothing to check');
      return;
    }
    t.equal((await tsrunc(['update', '--pids-limit', '100', c.id])).r.status, 0, 'a limit of 100');
    const bad = await tsrunc(['update', '--pids-limit', 'abc', c.id]);
    t.equal(bad.r.status, 1, 'abc is refused');
    t.match(bad.r.stderr, /invalid value "abc" for --pids-limit/);
    t.equal(fs.readFileSync(pidsMax, 'utf8').trim(), '100', 'the limit stays');
    t.equal((await tsrunc(['update', '--pids-limit', '-1', c.id])).r.status, 0, 'and is lifted with -1');
  });

  await t.test('kill', async (t) => {
    const SIGNALS = [
      'TERM',
      'SIGTERM',
      'sigterm',
      'HUP',
      'INT',
      'USR1',
      'SIGUSR2',
      'CHLD',
      'WINCH',
      'CONT',
      'URG',
      '0',
      '1',
      '15',
      '17',
      '28',
      '34',
      '64',
      '65',
      '-1',
      '999',
      'RTMIN',
      'RTMIN+3',
      'SIGRTMAX-2',
      'RTMAX+1',
      'SIGBOGUS',
      'KILLX',
      '',
      ' ',
      'SIG',
      '9x',
      '0x9',
      'é',
    ];
    await fuzz(
      t,
      'kill with signals an init without handlers ignores',
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...SIGNALS), fc.string({ maxLength: 6 })),
        fc.boolean(),
        async (signal, all) => {
          // SIGKILL and SIGSTOP are the two an init cannot ignore: not sent here.
          const n = parseSignal(signal);
          if (n === 9 || n === 19) return;
          const run = await tsrunc(['kill', ...(all ? ['--all'] : []), c.id, signal]);
          const unclean = cleanExit(run.r, run.log);
          if (unclean !== undefined) throw new Error(`kill ${JSON.stringify(signal)}: ${unclean}`);
          if (n === undefined && run.r.status !== 1)
            throw new Error(`kill ${JSON.stringify(signal)}: exit ${run.r.status} for a signal that is not one`);
          if (run.r.status === 0) counts.kill.sent++;
          else counts.kill.refused++;
          await stillRunning(`kill ${signal}`);
        },
      ),
      60,
      { shrink: false },
    );
    t.comment(`kill: ${counts.kill.sent} signals sent, ${counts.kill.refused} refused`);
  });
  for (const [msg, n] of [...messages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 16)) t.comment(`${n}x ${msg}`);
});
