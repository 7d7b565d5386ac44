// Issue 12: inputs that reached the executor as something else must fail validation, naming the
// field: uid/gid values setresuid reads as -1 or that are cut to 32 bits (H); a NUL inside a
// string, which C cuts there; numbers beyond what a double or the C type holds, deep nesting;
// and a document that is not JSON is described by where, never by quoting it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { ConfigError, TsruncError, type Problem } from '../../src/errors';
import { parseProcess, processFromFlags, type ExecFlags } from '../../src/lifecycle/exec';
import { parseBytes, parseResources } from '../../src/lifecycle/update';
import { gatherProcessHostFacts } from '../../src/lifecycle/host-facts';
import { processSteps } from '../../src/plan/process-steps';
import { defaultSpec } from '../../src/spec/default-spec';
import { MAX_JSON_DEPTH, parseJson } from '../../src/spec/json-input';
import { HOOK_NAMES, type Process, type Spec } from '../../src/spec/types';
import { loadBundleConfig, validateConfig, validateConfigText } from '../../src/spec/validate';
import { Runtime } from '../../src/runtime';
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
    t.same(
      configProblems((s) => (s.process!.user.uid = v)),
      [{ pointer: '/process/user/uid', message }],
      `config uid ${v}`,
    );
    t.same(
      configProblems((s) => (s.process!.user.gid = v)),
      [{ pointer: '/process/user/gid', message }],
      `config gid ${v}`,
    );
    t.same(
      configProblems((s) => (s.process!.user.additionalGids = [10, v])),
      [{ pointer: '/process/user/additionalGids/1', message }],
      `config additionalGids ${v}`,
    );
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
  t.same(
    configProblems(
      (s) => (s.linux!.devices = [{ type: 'c', path: '/dev/x', major: 1, minor: 3, uid: 4294967295, gid: 0 }]),
    ),
    [{ pointer: '/linux/devices/0/uid', message: 'must be <= 2147483647' }],
    'a device node owner too',
  );
});

t.test('H: 2147483647 (and 0) are accepted by validation', async (t) => {
  for (const v of [0, 2147483647]) {
    t.equal(
      configProblems((s) => (s.process!.user = { uid: v, gid: v, additionalGids: [v] })),
      undefined,
      `config ${v}`,
    );
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
    t.throws(() => processFromFlags(baseProcess(), flags({ user: String(v) })), {
      kind: 'usage',
      message: `exec: --user: uid ${v} is out of range (0 to 2147483647)`,
    });
    t.throws(() => processFromFlags(baseProcess(), flags({ user: `0:${v}` })), {
      kind: 'usage',
      message: `exec: --user: gid ${v} is out of range (0 to 2147483647)`,
    });
    t.throws(() => processFromFlags(baseProcess(), flags({ additionalGids: [5, v] })), {
      kind: 'usage',
      message: `exec: --additional-gids: gid ${v} is out of range (0 to 2147483647)`,
    });
  }
  for (const bad of [-1, 1.5, Number.NaN]) {
    t.throws(
      () => processFromFlags(baseProcess(), flags({ additionalGids: [bad] })),
      TsruncError,
      `--additional-gids ${bad}`,
    );
  }
  const p = processFromFlags(baseProcess(), flags({ user: '2147483647:2147483647', additionalGids: [2147483647] }));
  t.same(
    p.user,
    { ...baseProcess().user, uid: 2147483647, gid: 2147483647, additionalGids: [2147483647] },
    '2147483647 is accepted',
  );
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
const KEY_NUL = 'has a property name with a NUL character: ';

// ---- NUL inside strings -------------------------------------------------------------------------

t.test(
  'a NUL in any string of config.json, property names included, is a problem at its pointer (all at once)',
  async (t) => {
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
    t.same((problems ?? []).map((p) => `${p.pointer}: ${p.message}`).sort(), [
      `/annotations/ok: ${NUL}`,
      `/annotations: ${KEY_NUL}"k\\u0000ey"`,
      `/hooks/poststop/0/args/1: ${NUL}`,
      `/hostname: ${NUL}`,
      `/linux/sysctl: ${KEY_NUL}"net.core.somaxconn\\u0000"`,
      `/mounts/0/options/1: ${NUL}`,
      `/org.example.extension/deep/0: ${NUL}`,
      `/process/args/1: ${NUL}`,
      `/process/cwd: ${NUL}`,
      `/process/env/0: ${NUL}`,
      `/root/path: ${NUL}`,
    ]);
    t.equal(
      textProblems(configText((s) => (s.process!.args = ['sh', '\\u0000 is text here']))),
      undefined,
      'an escaped backslash before u0000 is no NUL',
    );
  },
);

t.test('a NUL in process.json (exec --process) and in update --resources is refused the same way', async (t) => {
  const proc = { ...baseProcess(), args: ['ls', '@A@'], env: ['@E@'] };
  const text = JSON.stringify(proc).replace('"@A@"', '"x\\u0000y"').replace('"@E@"', '"A=\\u0000"');
  t.same(
    problemsOf(() => parseProcess(text, 'process.json')),
    [
      { pointer: '/args/1', message: NUL },
      { pointer: '/env/0', message: NUL },
    ],
  );
  t.same(
    problemsOf(() => parseResources('{"unified": {"memory.max\\u0000": "1"}}', 'resources.json')),
    [{ pointer: '/unified', message: `${KEY_NUL}"memory.max\\u0000"` }],
  );
});

t.test('exec flags (from a library caller: argv cannot hold a NUL) are checked too', async (t) => {
  t.throws(() => processFromFlags(baseProcess(), flags({ env: ['A=b\0c'] })), {
    kind: 'usage',
    message: `exec: --env ${NUL}`,
  });
  t.throws(() => processFromFlags(baseProcess(), flags({ cwd: '/tmp\0' })), { message: `exec: --cwd ${NUL}` });
  t.throws(() => processFromFlags(baseProcess(), flags({ args: ['ls', '\0'] })), {
    message: `exec: the command ${NUL}`,
  });
});

// ---- numbers --------------------------------------------------------------------------------------

const RLIMIT = (soft: string, hard: string): string =>
  configText(
    (s) =>
      (s.process!.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: '@S@' as unknown as number, hard: '@H@' as unknown as number },
      ]),
    { S: soft, H: hard },
  );

t.test(
  'rlimits: safe integers and exactly 18446744073709551615 (unlimited); anything else beyond 2^53 - 1 is refused',
  async (t) => {
    t.equal(textProblems(RLIMIT('1024', '18446744073709551615')), undefined, 'RLIM_INFINITY as hard');
    t.equal(textProblems(RLIMIT('18446744073709551615', '18446744073709551615')), undefined, 'both');
    t.equal(textProblems(RLIMIT('9007199254740991', '9007199254740991')), undefined, '2^53 - 1');
    const message = 'must be an integer from 0 to 9007199254740991, or 18446744073709551615 (unlimited)';
    for (const v of [
      '18446744073709551614',
      '18446744073709551616',
      '18446744073709552000',
      '1.8446744073709552e19',
      '9223372036854775807',
      '9223372036854775808',
      '9007199254740993',
      '1e300',
    ]) {
      t.same(textProblems(RLIMIT('1', v)), [{ pointer: '/process/rlimits/0/hard', message }], `hard ${v}`);
    }
    t.same(
      textProblems(RLIMIT('18446744073709551615', '1024')),
      [
        {
          pointer: '/process/rlimits/0/soft',
          message: 'soft limit 18446744073709551615 (unlimited) is above the hard limit 1024',
        },
      ],
      'soft above hard',
    );
    const proc = JSON.stringify({
      ...baseProcess(),
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 },
        { type: 'RLIMIT_CORE', soft: 1, hard: '@H@' },
      ],
    }).replace('"@H@"', '9223372036854775807');
    t.same(
      problemsOf(() => parseProcess(proc, 'process.json')),
      [
        { pointer: '/rlimits/0/soft', message: 'soft limit 2048 is above the hard limit 1024' },
        { pointer: '/rlimits/1/hard', message },
      ],
      'process.json too',
    );
    const steps = processSteps(
      {
        ...baseProcess(),
        rlimits: [
          { type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 },
          { type: 'RLIMIT_NOFILE', soft: 10, hard: 20 },
        ],
      },
      defaultSpec(),
      { pointer: '/process', preserveFds: 0 },
      gatherProcessHostFacts(),
    );
    t.match(
      steps.steps.filter((s) => s.op === 'rlimit'),
      [
        { soft: -1, hard: -1 },
        { soft: 10, hard: 20 },
      ],
      'the executor gets -1 (RLIM_INFINITY) for 2^64 only',
    );
    t.throws(
      () =>
        processSteps(
          { ...baseProcess(), rlimits: [{ type: 'RLIMIT_CORE', soft: 2 ** 63, hard: 2 ** 64 }] },
          defaultSpec(),
          { pointer: '/process', preserveFds: 0 },
          gatherProcessHostFacts(),
        ),
      RangeError,
      'and never turns another value into unlimited',
    );
  },
);

t.test('a hook timeout above 2147483 s (x1000 overflows a C int) is refused for all six hook kinds', async (t) => {
  for (const name of HOOK_NAMES) {
    t.same(
      configProblems((s) => (s.hooks = { [name]: [{ path: '/bin/true', timeout: 2147484 }] })),
      [{ pointer: `/hooks/${name}/0/timeout`, message: 'must be <= 2147483' }],
      name,
    );
    t.equal(
      configProblems((s) => (s.hooks = { [name]: [{ path: '/bin/true', timeout: 2147483 }] })),
      undefined,
      `${name}: 2147483 is fine`,
    );
  }
});

t.test('consoleSize above 65535 (a 16-bit winsize field) is refused', async (t) => {
  t.same(
    configProblems(
      (s) => ((s.process!.terminal = true), (s.process!.consoleSize = { height: 65536, width: 4294967296 })),
    ),
    [
      { pointer: '/process/consoleSize/height', message: 'must be <= 65535' },
      { pointer: '/process/consoleSize/width', message: 'must be <= 65535' },
    ],
  );
  t.equal(
    configProblems((s) => ((s.process!.terminal = true), (s.process!.consoleSize = { height: 65535, width: 65535 }))),
    undefined,
  );
  const p = { ...baseProcess(), terminal: true, consoleSize: { height: 70000, width: 80 } };
  t.same(
    problemsOf(() => parseProcess(JSON.stringify(p), 'process.json')),
    [{ pointer: '/consoleSize/height', message: 'must be <= 65535' }],
    'exec --process too',
  );
});

t.test('other numbers that reach C or a cgroup file: out of their range, refused with their pointer', async (t) => {
  const SAFE = 'must be <= 9007199254740991 (larger integers are not held exactly)';
  const cases: [string, (s: Spec) => void, [string, string][]][] = [
    [
      'device major/minor beyond a 32-bit dev_t',
      (s) => (s.linux!.devices = [{ type: 'c', path: '/dev/x', major: 4096, minor: 1048576 }]),
      [
        ['/linux/devices/0/major', 'must be <= 4095'],
        ['/linux/devices/0/minor', 'must be <= 1048575'],
      ],
    ],
    [
      'a negative device major',
      (s) => (s.linux!.devices = [{ type: 'b', path: '/dev/x', major: -1, minor: 0 }]),
      [['/linux/devices/0/major', 'must be >= 0']],
    ],
    [
      'a device rule major beyond a BPF immediate',
      (s) => (s.linux!.resources!.devices = [{ allow: true, type: 'c', major: 2147483648, minor: -2, access: 'r' }]),
      [
        ['/linux/resources/devices/0/major', 'must be <= 2147483647'],
        ['/linux/resources/devices/0/minor', 'must be >= -1'],
      ],
    ],
    [
      'scheduler deadline fields beyond 2^53',
      (s) => (s.process!.scheduler = { policy: 'SCHED_DEADLINE', runtime: 2 ** 63, deadline: 1, period: 1 }),
      [['/process/scheduler/runtime', SAFE]],
    ],
    [
      'oomScoreAdj beyond int32',
      (s) => (s.process!.oomScoreAdj = 2 ** 40),
      [['/process/oomScoreAdj', 'must be <= 2147483647']],
    ],
    [
      'time offset nanoseconds of a second or more',
      (s) => (
        s.linux!.namespaces!.push({ type: 'time' }),
        (s.linux!.timeOffsets = { monotonic: { secs: 2 ** 60, nanosecs: 1e9 } })
      ),
      [
        ['/linux/timeOffsets/monotonic/secs', SAFE],
        ['/linux/timeOffsets/monotonic/nanosecs', 'must be <= 999999999'],
      ],
    ],
    [
      'memory and pids limits beyond 2^53',
      (s) => (s.linux!.resources = { memory: { limit: 2 ** 63 }, pids: { limit: 1e300 }, cpu: { shares: 2 ** 64 } }),
      [
        ['/linux/resources/memory/limit', SAFE],
        ['/linux/resources/pids/limit', SAFE],
        ['/linux/resources/cpu/shares', SAFE],
      ],
    ],
    [
      'blkio device numbers',
      (s) => (s.linux!.resources = { blockIO: { throttleReadBpsDevice: [{ major: -1, minor: 2 ** 32, rate: 1 }] } }),
      [
        ['/linux/resources/blockIO/throttleReadBpsDevice/0/major', 'must be >= 0'],
        ['/linux/resources/blockIO/throttleReadBpsDevice/0/minor', 'must be <= 4294967295'],
      ],
    ],
    [
      'seccomp argument values beyond 2^53 and errno above 16 bits',
      (s) =>
        (s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ERRNO',
          defaultErrnoRet: 65536,
          syscalls: [
            {
              names: ['personality'],
              action: 'SCMP_ACT_ERRNO',
              errnoRet: 70000,
              args: [{ index: 0, value: 2 ** 64, op: 'SCMP_CMP_EQ' }],
            },
          ],
        }),
      [
        ['/linux/seccomp/defaultErrnoRet', 'must be <= 65535'],
        ['/linux/seccomp/syscalls/0/errnoRet', 'must be <= 65535'],
        ['/linux/seccomp/syscalls/0/args/0/value', SAFE],
      ],
    ],
  ];
  for (const [name, edit, expect] of cases) {
    t.same((configProblems(edit) ?? []).map((p) => [p.pointer, p.message]).sort(), expect.sort(), name);
  }
  const p = { ...baseProcess(), oomScoreAdj: 1001, scheduler: { policy: 'SCHED_OTHER', nice: 20 } };
  t.same(
    problemsOf(() => parseProcess(JSON.stringify(p), 'process.json')),
    [
      { pointer: '/oomScoreAdj', message: 'must be between -1000 and 1000' },
      { pointer: '/scheduler/nice', message: 'must be between -20 and 19' },
    ],
    'exec --process gets the ranges config.json gets',
  );
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
  t.equal(
    textProblems(configText((s) => (s['org.example.x'] = '@D@'), { D: deep(MAX_JSON_DEPTH - 1) })),
    undefined,
    '512 levels in all are fine',
  );
  const annotationsLike = configText((s) => (s['annotations.ext'] = '@D@'), {
    D: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
  });
  t.match(
    textProblems(annotationsLike),
    [{ pointer: /^\/annotations\.ext(\/a)+$/, message: /nested deeper than 512 levels/ }],
    'objects too',
  );
  t.match(
    problemsOf(() =>
      parseProcess(
        `{"x": ${deep(100000)}, "args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}`,
        'process.json',
      ),
    ),
    [{ pointer: /^\/x\/0/, message: /nested deeper/ }],
    'process.json',
  );
  t.match(
    problemsOf(() => parseResources(`{"unified": {}, "x": ${deep(100000)}}`, 'resources')),
    [{ pointer: /^\/x\/0/, message: /nested deeper/ }],
    'update --resources',
  );
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
  t.notMatch(
    JSON.stringify(problemsOf(() => parseProcess(`root:${SECRET}:0`, 'process.json'))),
    SECRET,
    'process.json',
  );
  t.notMatch(
    JSON.stringify(problemsOf(() => parseResources(`{"x": ${SECRET}`, 'resources'))),
    SECRET,
    'update --resources',
  );
  t.same(
    textProblems(`${'['.repeat(1000)}${']'.repeat(1000)} ${SECRET}`),
    [{ pointer: '', message: 'invalid JSON at line 1, column 2002: unexpected data after the JSON value' }],
    'the syntax error past a deep part, not the depth',
  );
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
  t.throws(() => handle.read(), {
    message: `container state file ${file} is corrupt: invalid JSON at line 1, column 14: expected a property name in double quotes`,
  });
});

t.test('update flags: numbers beyond 2^53 - 1 are refused, naming the flag', async (t) => {
  t.throws(() => parseBytes('99999999999p', 'memory'), {
    message: '--memory: /: size "99999999999p" is out of range (at most 9007199254740991 bytes)',
  });
  t.equal(parseBytes('64m', 'memory'), 64 * 1024 * 1024);
});

t.test("library callers' paths with a NUL are refused by name (argv cannot carry one)", async (t) => {
  t.throws(() => new Runtime({ root: '/run/x\0y' }), {
    kind: 'usage',
    message: '--root must not contain a NUL character',
  });
  const runtime = new Runtime({ root: privateRoot(t) });
  t.throws(() => runtime.plan({ id: 'c1', bundle: '/tmp/b\0' }), {
    kind: 'usage',
    message: '--bundle must not contain a NUL character',
  });
  t.throws(() => runtime.plan({ id: 'c1', bundle: '/tmp', pidFile: '/run/p\0id' }), {
    message: '--pid-file must not contain a NUL character',
  });
  await t.rejects(runtime.exec('c1', { process: baseProcess(), consoleSocket: '/s\0' }), {
    message: '--console-socket must not contain a NUL character',
  });
});
