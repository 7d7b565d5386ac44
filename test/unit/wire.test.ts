// The step protocol is written twice, in src/plan/wire.ts (TypeScript encodes plans) and in
// native/ops.h (tsrunc-init reads them): these tests fail when the two disagree, and show that
// the encoder refuses what C would read differently from what TypeScript checked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { TsruncError } from '../../src/errors';
import type { Plan, PlanStep } from '../../src/plan/steps';
import { FIELDS, OPCODES, PLAN_MAGIC, PLAN_VERSION, encodePlan, lowerStep } from '../../src/plan/wire';
import { REPO_ROOT } from '../helpers/tsrunc';

const opsH = fs.readFileSync(path.join(REPO_ROOT, 'native', 'ops.h'), 'utf8');

function planOf(steps: PlanStep[], preserveFds = 0): Plan {
  return { containerId: 'c', rootfs: '/r', preserveFds, fds: ['sync', 'exec-fifo'], steps };
}

t.test('every opcode of wire.ts is the same number in ops.h, and ops.h has no other', async (t) => {
  const header = new Map<string, number>();
  for (const m of opsH.matchAll(/^\s*OP_([A-Z_]+) = (\d+),/gm)) header.set(m[1] as string, Number(m[2]));
  const ts = new Map(Object.entries(OPCODES).map(([name, n]) => [name.toUpperCase().replace(/-/g, '_'), n]));
  t.same([...ts.entries()].sort(), [...header.entries()].sort());
  const count = Math.max(...header.values()) + 1;
  t.match(opsH, new RegExp(`^\\s*OP_COUNT\\s*$`, 'm'), 'OP_COUNT follows the last opcode');
  t.equal(new Set(header.values()).size, header.size, 'no opcode is used twice');
  t.same(
    Array.from({ length: count - 1 }, (_, i) => i + 1).filter((n) => ![...header.values()].includes(n)),
    [],
    'opcodes run 1..N without gaps',
  );
});

t.test("the plan header constants are ops.h's", async (t) => {
  t.equal(/#define PLAN_MAGIC "(\w+)"/.exec(opsH)?.[1], PLAN_MAGIC);
  t.equal(Number(/#define PLAN_MAGIC_LEN (\d+)/.exec(opsH)?.[1]), PLAN_MAGIC.length);
  t.equal(Number(/#define PLAN_VERSION (\d+)/.exec(opsH)?.[1]), PLAN_VERSION);
  t.equal(/#define PLAN_NULL_STRING (0x[0-9A-Fa-f]+)u/.exec(opsH)?.[1]?.toLowerCase(), '0xffffffff');
});

t.test('the byte layout: header, then op, counts, strings (null as the separator), i64 numbers, blob', async (t) => {
  const buf = encodePlan(
    planOf(
      [
        { op: 'exec', args: ['sh', '-c'], env: ['A=é'] },
        { op: 'seccomp', program: Buffer.from([1, 2, 3]), flags: 5, rules: 0, skipped: [], notify: false },
      ],
      2,
    ),
  );
  let at = 0;
  const u32 = (): number => {
    const v = buf.readUInt32LE(at);
    at += 4;
    return v;
  };
  t.equal(buf.subarray(0, 8).toString('latin1'), PLAN_MAGIC);
  at = 8;
  t.same([u32(), u32(), u32(), u32()], [PLAN_VERSION, 5, 2, 2], 'version, base (3 + 2 preserved), slots, steps');
  t.same([u32(), u32(), u32(), u32()], [OPCODES.exec, 4, 1, 0]);
  const strs: (string | null)[] = [];
  for (let i = 0; i < 4; i++) {
    const len = u32();
    if (len === 0xffffffff) strs.push(null);
    else {
      strs.push(buf.subarray(at, at + len).toString('utf8'));
      at += len;
    }
  }
  t.same(strs, ['sh', '-c', null, 'A=é']);
  t.equal(buf.readBigInt64LE(at), 2n, 'argc');
  at += 8;
  t.same([u32(), u32(), u32(), u32()], [OPCODES.seccomp, 0, 1, 3]);
  t.equal(buf.readBigInt64LE(at), 5n);
  at += 8;
  t.same([...buf.subarray(at, at + 3)], [1, 2, 3]);
  t.equal(at + 3, buf.length, 'nothing after the last step');
});

t.test('refuses what C would cut or wrap: a NUL in a string, a number that is not an exact integer', async (t) => {
  const cases: [string, PlanStep][] = [
    ['NUL in an argument', { op: 'exec', args: ['sh', 'a\0b'], env: [] }],
    ['NUL in a path', { op: 'chdir', path: '/tmp\0/../etc', phase: 'as-user' }],
    ['a uid above 2^53', { op: 'user', uid: 2 ** 60, gid: 0, additionalGids: [] }],
    ['a fractional number', { op: 'umask', mask: 0.5 }],
    ['NaN', { op: 'rlimit', name: 'RLIMIT_NOFILE', resource: 7, soft: NaN, hard: 1 }],
  ];
  for (const [what, step] of cases) {
    let caught: unknown;
    try {
      encodePlan(planOf([step]));
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof TsruncError, `${what}: refused`);
    t.match((caught as Error | undefined)?.message, /^plan step 1 \(/, `${what}: the message names the step`);
  }
});

t.test(
  "each opcode's arguments have the same names, in the same order, in wire.ts (FIELDS) and ops.h (OP_S_*, OP_N_*)",
  async (t) => {
    // (an enum may wrap over lines: clang-format breaks the long ones)
    const enums = [...opsH.matchAll(/^enum \{([A-Z0-9_,\s]+)\};$/gm)].map((m) =>
      (m[1] as string).split(',').map((x) => x.trim()),
    );
    const upper = (x: string): string => x.toUpperCase().replace(/-/g, '_');
    for (const [op, f] of Object.entries(FIELDS)) {
      for (const kind of ['s', 'n'] as const) {
        const want = [
          ...f[kind].map((name) => `${upper(op)}_${kind.toUpperCase()}_${upper(name)}`),
          `${upper(op)}_${kind.toUpperCase()}_COUNT`,
        ];
        t.same(
          enums.find((e) => e[e.length - 1] === want[want.length - 1]),
          want,
          `${op} ${kind === 's' ? 'strings' : 'numbers'}`,
        );
      }
    }
    t.equal(enums.length, Object.keys(FIELDS).length * 2, 'and ops.h names no other');
  },
);

t.test('lowering fills every named argument of a step, then its list', async (t) => {
  const w = lowerStep({
    op: 'hook',
    hook: 'createContainer',
    index: 2,
    path: '/h',
    args: ['h', 'a'],
    env: ['E=1'],
    timeout: 5,
    stateIndex: 0,
    inRootfs: true,
  });
  t.same(w.s, ['createContainer', '/h', 'h', 'a', null, 'E=1']);
  t.same(w.n, [2, 1, 5, 0, 1, 2]);
  const m = lowerStep({ op: 'user', uid: 1, gid: 2, additionalGids: [3, 4] });
  t.same(m.n, [1, 2, 3, 4]);
  for (const [op, f] of Object.entries(FIELDS))
    t.ok(
      f.s.every((x) => /^[a-z_]+$/.test(x)) && f.n.every((x) => /^[a-z_]+$/.test(x)),
      `${op}: names ops.h can spell`,
    );
});

t.test(
  'an idmapped open-tree: the maps as uid_map/gid_map text, a source inside the rootfs relative to it',
  async (t) => {
    const idmap = {
      uidMappings: [
        { containerID: 1000, hostID: 100000, size: 65536 },
        { containerID: 0, hostID: 0, size: 1 },
      ],
      gidMappings: [{ containerID: 2000, hostID: 100000, size: 10 }],
      recursive: true,
      pointer: '/mounts/3',
    };
    const base = { op: 'open-tree' as const, index: 2, flags: 0x5000, attrSet: 0, attrClear: 0 };
    const inRoot = lowerStep({ ...base, source: '/b/rootfs/var/x', idmap, inRootfs: '/b/rootfs' });
    t.same(inRoot.s, ['var/x', '/b/rootfs', '1000 100000 65536\n0 0 1\n', '2000 100000 10\n']);
    t.same(inRoot.n, [2, 0x5000, 0, 0, 2], 'IDMAP_RECURSIVE');
    const top = lowerStep({ ...base, source: '/srv/x', idmap: { ...idmap, recursive: false } });
    t.same(top.s.slice(0, 2), ['/srv/x', ''], 'a host source stays absolute, no root');
    t.equal(top.n[4], 1, 'IDMAP_TOP');
    const plain = lowerStep({ ...base, source: '/srv/x' });
    t.same(plain.s, ['/srv/x', '', '', ''], 'no maps');
    t.equal(plain.n[4], 0, 'IDMAP_NONE');
    t.equal(lowerStep({ ...base, source: '/b/rootfs', idmap, inRootfs: '/b/rootfs' }).s[0], '.', 'the rootfs itself');
  },
);

t.test(
  'an idmapped mount step without its early tree is refused (it would be bound without the mapping)',
  async (t) => {
    const mount: PlanStep = {
      op: 'mount',
      source: '/srv/x',
      destination: '/x',
      fstype: '',
      options: ['bind'],
      flags: 0x1000,
      data: '',
      bind: true,
      attrSet: 0,
      attrClear: 0,
      destKind: 'dir',
      realDir: false,
      propagation: [],
      idmap: { uidMappings: [], gidMappings: [], recursive: false, pointer: '/mounts/0' },
    };
    t.throws(() => lowerStep(mount), TsruncError);
    const withTree = lowerStep({ ...mount, tree: 0 });
    t.equal(withTree.n[9], 1, 'MOUNT_N_IDMAP: the init checks it has the tree too');
  },
);
