// Issue 12: inputs that reached the executor as something else must fail validation, naming the
// field: uid/gid values setresuid reads as -1 or that are cut to 32 bits (H).
import t from 'tap';
import { ConfigError, TsruncError, type Problem } from '../../src/errors';
import { parseProcess, processFromFlags, type ExecFlags } from '../../src/lifecycle/exec';
import { defaultSpec } from '../../src/spec/default-spec';
import type { Process, Spec } from '../../src/spec/types';
import { validateConfig } from '../../src/spec/validate';

/** The problems validateConfig reports for `edit` of the default spec (undefined: valid). */
function configProblems(edit: (s: Spec) => void): Problem[] | undefined {
  const spec = defaultSpec();
  edit(spec);
  try {
    validateConfig(JSON.parse(JSON.stringify(spec)), { bundle: '/nonexistent-bundle', checkHost: false });
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** The problems parseProcess reports for a process document (undefined: valid). */
function processProblems(proc: unknown): Problem[] | undefined {
  try {
    parseProcess(JSON.stringify(proc), 'process.json');
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

function baseProcess(): Process {
  return structuredClone(defaultSpec().process as Process);
}

// ---- H: uid and gid ranges --------------------------------------------------------------------

const OUT_OF_RANGE = [4294967295, 4294967296, 2147483648, -1];

t.test('H: user.uid, user.gid and additionalGids outside 0..2147483647 are refused, with their pointer', async (t) => {
  for (const v of OUT_OF_RANGE) {
    const message = v < 0 ? 'must be >= 0' : 'must be <= 2147483647';
    t.same(configProblems((s) => (s.process!.user.uid = v)), [{ pointer: '/process/user/uid', message }], `config uid ${v}`);
    t.same(configProblems((s) => (s.process!.user.gid = v)), [{ pointer: '/process/user/gid', message }], `config gid ${v}`);
    t.same(configProblems((s) => (s.process!.user.additionalGids = [10, v])), [{ pointer: '/process/user/additionalGids/1', message }], `config additionalGids ${v}`);
    const p = baseProcess();
    p.user = { uid: v, gid: v, additionalGids: [v] };
    t.same(
      processProblems(p),
      [
        { pointer: '/user/uid', message },
        { pointer: '/user/gid', message },
        { pointer: '/user/additionalGids/0', message },
      ],
      `process.json (exec --process) ${v}`,
    );
  }
  t.same(configProblems((s) => (s.linux!.devices = [{ type: 'c', path: '/dev/x', major: 1, minor: 3, uid: 4294967295, gid: 0 }])), [{ pointer: '/linux/devices/0/uid', message: 'must be <= 2147483647' }], 'a device node owner too');
});

t.test('H: 2147483647 (and 0) are accepted by validation', async (t) => {
  for (const v of [0, 2147483647]) {
    t.equal(configProblems((s) => (s.process!.user = { uid: v, gid: v, additionalGids: [v] })), undefined, `config ${v}`);
    const p = baseProcess();
    p.user = { uid: v, gid: v, additionalGids: [v] };
    t.equal(processProblems(p), undefined, `process.json ${v}`);
  }
});

function flags(f: Partial<ExecFlags>): ExecFlags {
  return { args: ['true'], env: [], tty: false, additionalGids: [], noNewPrivs: false, caps: [], ...f };
}

t.test('H: exec --user UID[:GID] and --additional-gids outside 0..2147483647 name the flag', async (t) => {
  for (const v of [4294967295, 4294967296, 2147483648]) {
    t.throws(() => processFromFlags(baseProcess(), flags({ user: String(v) })), { kind: 'usage', message: `exec: --user: uid ${v} is out of range (0 to 2147483647)` });
    t.throws(() => processFromFlags(baseProcess(), flags({ user: `0:${v}` })), { kind: 'usage', message: `exec: --user: gid ${v} is out of range (0 to 2147483647)` });
    t.throws(() => processFromFlags(baseProcess(), flags({ additionalGids: [5, v] })), { kind: 'usage', message: `exec: --additional-gids: gid ${v} is out of range (0 to 2147483647)` });
  }
  for (const bad of [-1, 1.5, Number.NaN]) {
    t.throws(() => processFromFlags(baseProcess(), flags({ additionalGids: [bad] })), TsruncError, `--additional-gids ${bad}`);
  }
  const p = processFromFlags(baseProcess(), flags({ user: '2147483647:2147483647', additionalGids: [2147483647] }));
  t.same(p.user, { ...baseProcess().user, uid: 2147483647, gid: 2147483647, additionalGids: [2147483647] }, '2147483647 is accepted');
});
