// Issue 12: inputs that reached the executor as something else must fail validation, naming the
// field: uid/gid values setresuid reads as -1 or that are cut to 32 bits (H); a NUL inside a
// string, which C cuts there; numbers beyond what a double or the C type holds, deep nesting;
// and a document that is not JSON is described by where, never by quoting it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { ConfigError, TsruncError, type Problem } from '../../src/errors';
import { parseProcess, processFromFlags, type ExecFlags } from '../../src/lifecycle/exec';
import { parseResources } from '../../src/lifecycle/update';
import { defaultSpec } from '../../src/spec/default-spec';
import { MAX_JSON_DEPTH, parseJson } from '../../src/spec/json-input';
import type { Process, Spec } from '../../src/spec/types';
import { loadBundleConfig, validateConfig, validateConfigText } from '../../src/spec/validate';
import { StateStore } from '../../src/state/store';
import { containerRecord, writeRecord } from '../helpers/records';
import { privateRoot, tempDir } from '../helpers/tsrunc';

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

// ---- helpers for documents given as text ---------------------------------------------------

/** The default spec as JSON text, with `raw` spliced in for each "@NAME@" placeholder string. */
function configText(edit: (s: Record<string, unknown> & Spec) => void, raw: Record<string, string> = {}): string {
  const spec = defaultSpec() as Record<string, unknown> & Spec;
  edit(spec);
  let text = JSON.stringify(spec, null, 2);
  for (const [name, value] of Object.entries(raw)) text = text.split(JSON.stringify(`@${name}@`)).join(value);
  return text;
}

function textProblems(text: string): Problem[] | undefined {
  try {
    validateConfigText(text, { bundle: '/nonexistent-bundle', checkHost: false });
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

function problemsOf(fn: () => unknown): Problem[] | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const NUL = 'must not contain a NUL character';

// ---- NUL inside strings -------------------------------------------------------------------------

t.test('a NUL in any string of config.json, property names included, is a problem at its pointer (all at once)', async (t) => {
  const text = configText((s) => {
    s.process!.args = ['sh', 'a\u0000b'];
    s.process!.env = ['PATH=/bin\u0000:/evil'];
    s.process!.cwd = '/\u0000';
    s.root = { path: 'rootfs\u0000x' };
    s.hostname = 'h\u0000';
    s.annotations = { 'k\u0000ey': 'v', ok: 'va\u0000lue' };
    s.mounts![0]!.options = ['nosuid', 'ro\u0000'];
    s.hooks = { poststop: [{ path: '/bin/true', args: ['true', 'x\u0000'] }] };
    s.linux!.sysctl = { 'net.core.somaxconn\u0000': '1' };
    s['org.example.extension'] = { deep: ['\u0000'] };
  });
  // (the text holds \\u0000 escapes: JSON.stringify doubled the backslash; undo that)
  const problems = textProblems(text.split('\\\\u0000').join('\\u0000'));
  t.same(
    (problems ?? []).map((p) => `${p.pointer}: ${p.message}`).sort(),
    [
      `/annotations/k\\u0000ey: property name ${NUL}`,
      `/annotations/ok: ${NUL}`,
      `/hooks/poststop/0/args/1: ${NUL}`,
      `/hostname: ${NUL}`,
      `/linux/sysctl/net.core.somaxconn\\u0000: property name ${NUL}`,
      `/mounts/0/options/1: ${NUL}`,
      `/org.example.extension/deep/0: ${NUL}`,
      `/process/args/1: ${NUL}`,
      `/process/cwd: ${NUL}`,
      `/process/env/0: ${NUL}`,
      `/root/path: ${NUL}`,
    ],
  );
  t.equal(textProblems(configText((s) => (s.process!.args = ['sh', '\\u0000 is text here']))), undefined, 'an escaped backslash before u0000 is no NUL');
});

t.test('a NUL in process.json (exec --process) and in update --resources is refused the same way', async (t) => {
  const proc = { ...baseProcess(), args: ['ls', '@A@'], env: ['@E@'] };
  const text = JSON.stringify(proc).replace('"@A@"', '"x\\u0000y"').replace('"@E@"', '"A=\\u0000"');
  t.same(problemsOf(() => parseProcess(text, 'process.json')), [
    { pointer: '/args/1', message: NUL },
    { pointer: '/env/0', message: NUL },
  ]);
  t.same(problemsOf(() => parseResources('{"unified": {"memory.max\\u0000": "1"}}', 'resources.json')), [{ pointer: '/unified/memory.max\\u0000', message: `property name ${NUL}` }]);
});

t.test('exec flags (from a library caller: argv cannot hold a NUL) are checked too', async (t) => {
  t.throws(() => processFromFlags(baseProcess(), flags({ env: ['A=b\0c'] })), { kind: 'usage', message: `exec: --env ${NUL}` });
  t.throws(() => processFromFlags(baseProcess(), flags({ cwd: '/tmp\0' })), { message: `exec: --cwd ${NUL}` });
  t.throws(() => processFromFlags(baseProcess(), flags({ args: ['ls', '\0'] })), { message: `exec: the command ${NUL}` });
});

// ---- nesting ---------------------------------------------------------------------------------------

t.test('deep nesting fails at parse time, naming where it gets too deep', async (t) => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  const text = configText((s) => (s['org.example.x'] = '@D@'), { D: deep(100000) });
  const problems = textProblems(text) ?? [];
  t.equal(problems.length, 1);
  const pointer = `/org.example.x${'/0'.repeat(MAX_JSON_DEPTH - 1)}`;
  t.equal(problems[0]?.pointer, pointer, 'the pointer of the first array too deep');
  t.match(problems[0]?.message, /^nested deeper than 512 levels \(line \d+, column \d+\)$/);
  t.equal(textProblems(configText((s) => (s['org.example.x'] = '@D@'), { D: deep(MAX_JSON_DEPTH - 1) })), undefined, '512 levels in all are fine');
  const annotationsLike = configText((s) => (s['annotations.ext'] = '@D@'), { D: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) });
  t.match(textProblems(annotationsLike), [{ pointer: /^\/annotations\.ext(\/a)+$/, message: /nested deeper than 512 levels/ }], 'objects too');
  t.match(problemsOf(() => parseProcess(`{"x": ${deep(100000)}, "args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}`, 'process.json')), [{ pointer: /^\/x\/0/, message: /nested deeper/ }], 'process.json');
  t.match(problemsOf(() => parseResources(`{"unified": {}, "x": ${deep(100000)}}`, 'resources')), [{ pointer: /^\/x\/0/, message: /nested deeper/ }], 'update --resources');
});

// ---- messages never quote the file ----------------------------------------------------------------

const SECRET = 'S3cretT0ken-9f8e7d';

t.test('parse errors say where and what, never the text', async (t) => {
  for (const [text, where] of [
    [`${SECRET}\n`, 'line 1, column 1: unexpected character'],
    [`{"ociVersion": "1.0.2",\n "x": ${SECRET}}`, 'line 2, column 7: unexpected character'],
    [`{"a": "${SECRET}`, 'line 1, column 7: unterminated string'],
    [`["${SECRET}" "x"]`, "line 1, column 23: expected ',' or ']'"],
  ] as const) {
    const problems = textProblems(text) ?? [];
    t.same(problems, [{ pointer: '', message: `invalid JSON at ${where}` }], where);
    t.notMatch(JSON.stringify(problems), SECRET);
  }
  t.notMatch(JSON.stringify(problemsOf(() => parseProcess(`root:${SECRET}:0`, 'process.json'))), SECRET, 'process.json');
  t.notMatch(JSON.stringify(problemsOf(() => parseResources(`{"x": ${SECRET}`, 'resources'))), SECRET, 'update --resources');
  t.same(parseJson('{"a": [1, {"b": null}]}', 'x').doc, { a: [1, { b: null }] }, 'and JSON still parses');
});

t.test('a config.json that is a symlink to a file of secrets: its bytes never reach the message', async (t) => {
  const dir = tempDir(t, 'tsrunc-secret');
  fs.writeFileSync(path.join(dir, 'shadow'), `root:${SECRET}:19000:0:99999:7:::\n`, { mode: 0o600 });
  const bundle = path.join(dir, 'bundle');
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  fs.symlinkSync(path.join(dir, 'shadow'), path.join(bundle, 'config.json'));
  try {
    loadBundleConfig({ bundle, checkHost: true });
    t.fail('accepted');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    t.equal(err.message, 'config.json: /: invalid JSON at line 1, column 1: unexpected character');
  }
});

t.test('a corrupt state.json is described by where, not quoted', async (t) => {
  const root = privateRoot(t);
  writeRecord(root, containerRecord('c1', '/nonexistent-bundle', 0, 0));
  const file = path.join(root, 'c1', 'state.json');
  fs.writeFileSync(file, `{"id": "c1", ${SECRET}}`, { mode: 0o600 });
  const handle = new StateStore(root).open('c1', 'shared');
  t.teardown(() => handle.release());
  t.throws(() => handle.read(), { message: `container state file ${file} is corrupt: invalid JSON at line 1, column 14: expected a property name in double quotes` });
});
