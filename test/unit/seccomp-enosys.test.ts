// The -ENOSYS stub (issue 13, item 19) and runc's SCMP_ACT_NOTIFY refusals (item 21), without
// root: profiles compiled by the addon as create compiles them, and the whole program (stub and
// libseccomp's filter) run by a small classic-BPF interpreter over seccomp_data, so each case
// says what a syscall would get from the kernel.
// Not covered: s390/s390x's extra check of number 0 (libseccomp will not put a big-endian
// architecture beside this host's own in one filter).
import t from 'tap';
import { ConfigError } from '../../src/errors';
import { native } from '../../src/native/addon';
import { gatherProcessHostFacts } from '../../src/lifecycle/host-facts';
import { processSteps } from '../../src/plan/process-steps';
import { enosysStubWanted, seccompInput } from '../../src/seccomp/profile';
import type { Process, Seccomp, Spec } from '../../src/spec/types';

const AUDIT = { X86_64: 0xc000003e, I386: 0x40000003, AARCH64: 0xc00000b7 };
const X32_BIT = 0x40000000;
const ALLOW = 0x7fff0000;
const KILL_THREAD = 0;
const errno = (n: number): number => (0x00050000 | n) >>> 0;
const EPERM = errno(1);
const ENOSYS = errno(38);
const X86_ARCHS = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];

/** Runs a classic BPF seccomp program over {nr, arch} (instruction pointer and arguments 0). */
function run(program: Buffer, nr: number, arch: number): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  const mem = new Uint32Array(16);
  let a = 0;
  let x = 0;
  for (let pc = 0, steps = 0; steps < 100_000; steps++) {
    if (pc * 8 >= program.length) throw new Error(`ran off the program at ${pc}`);
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    pc++;
    const cls = code & 0x07;
    const src = code & 0x08 ? x : k;
    switch (cls) {
      case 0x00: // LD
        if ((code & 0xe0) === 0x20) a = data.readUInt32LE(k);
        else if ((code & 0xe0) === 0x00) a = k;
        else if ((code & 0xe0) === 0x60) a = mem[k] as number;
        else throw new Error(`ld mode ${code}`);
        break;
      case 0x01: // LDX
        if ((code & 0xe0) === 0x00) x = k;
        else if ((code & 0xe0) === 0x60) x = mem[k] as number;
        else throw new Error(`ldx mode ${code}`);
        break;
      case 0x02:
        mem[k] = a;
        break;
      case 0x03:
        mem[k] = x;
        break;
      case 0x04: {
        // ALU
        const op = code & 0xf0;
        if (op === 0x50) a = (a & src) >>> 0;
        else if (op === 0x40) a = (a | src) >>> 0;
        else if (op === 0x00) a = (a + src) >>> 0;
        else if (op === 0x10) a = (a - src) >>> 0;
        else throw new Error(`alu op ${code}`);
        break;
      }
      case 0x05: {
        // JMP
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        const cond =
          op === 0x10
            ? a === src
            : op === 0x20
              ? a > src
              : op === 0x30
                ? a >= src
                : op === 0x40
                  ? (a & src) !== 0
                  : undefined;
        if (cond === undefined) throw new Error(`jmp op ${code}`);
        pc += cond ? jt : jf;
        break;
      }
      case 0x06:
        return (code & 0x18) === 0x10 ? a : k;
      case 0x07:
        if (code & 0x80) a = x;
        else x = a;
        break;
      default:
        throw new Error(`class ${cls}`);
    }
  }
  throw new Error('no return');
}

function compile(profile: Seccomp): Buffer {
  return native().compileSeccomp(seccompInput(profile)).program;
}

/** libseccomp's program alone, as it was before the stub. */
function compileWithoutStub(profile: Seccomp): Buffer {
  const input = { ...seccompInput(profile), enosysStub: false };
  return native().compileSeccomp(input).program;
}

const strict = (extra: Partial<Seccomp> = {}): Seccomp => ({
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: X86_ARCHS,
  syscalls: [{ names: ['read', 'write', 'exit_group', 'execve'], action: 'SCMP_ACT_ALLOW' }],
  ...extra,
});

t.test('numbers above the highest the profile names answer ENOSYS; below it, the default action', async (t) => {
  const p = compile(strict());
  // x86_64: the highest named is exit_group (231).
  t.equal(run(p, 1000, AUDIT.X86_64), ENOSYS, 'syscall 1000');
  t.equal(run(p, 435, AUDIT.X86_64), ENOSYS, 'clone3, newer than every named syscall');
  t.equal(run(p, 232, AUDIT.X86_64), ENOSYS, 'one past the highest named');
  t.equal(run(p, 231, AUDIT.X86_64), ALLOW, 'the highest named keeps its rule');
  t.equal(run(p, 0, AUDIT.X86_64), ALLOW, 'read');
  t.equal(run(p, 83, AUDIT.X86_64), EPERM, 'mkdir: below the highest, not named: the default action (runc: the same)');
  t.equal(run(p, 0xffffffff, AUDIT.X86_64), ENOSYS, '-1 as an unsigned number is above too');
  // i386: exit_group is 252, read 3.
  t.equal(run(p, 1000, AUDIT.I386), ENOSYS, 'i386: syscall 1000');
  t.equal(run(p, 253, AUDIT.I386), ENOSYS, 'i386: one past exit_group (252)');
  t.equal(run(p, 39, AUDIT.I386), EPERM, 'i386: mkdir (39)');
  t.equal(run(p, 3, AUDIT.I386), ALLOW, 'i386: read');
  // x32: the same numbers as x86_64 with bit 30 set (execve is 520 there).
  t.equal(run(p, X32_BIT | 1000, AUDIT.X86_64), ENOSYS, 'x32: syscall 1000');
  t.equal(run(p, X32_BIT | 521, AUDIT.X86_64), ENOSYS, 'x32: one past its execve (520)');
  t.equal(run(p, X32_BIT | 83, AUDIT.X86_64), EPERM, 'x32: mkdir');
  t.equal(run(p, X32_BIT | 0, AUDIT.X86_64), ALLOW, 'x32: read');
  t.equal(
    run(p, 1000, AUDIT.AARCH64),
    KILL_THREAD,
    "an architecture the profile does not list: libseccomp's bad-architecture action, untouched",
  );
});

t.test('x86_64 without x32 (and x32 alone): calls of the other ABI are left to libseccomp', async (t) => {
  const p = compile(strict({ architectures: ['SCMP_ARCH_X86_64'] }));
  t.equal(run(p, 1000, AUDIT.X86_64), ENOSYS);
  t.equal(
    run(p, X32_BIT | 1000, AUDIT.X86_64),
    run(compileWithoutStub(strict({ architectures: ['SCMP_ARCH_X86_64'] })), X32_BIT | 1000, AUDIT.X86_64),
    'an x32 call meets what libseccomp decides',
  );
  const q = compile(strict({ architectures: ['SCMP_ARCH_X32'] }));
  t.equal(run(q, X32_BIT | 1000, AUDIT.X86_64), ENOSYS);
  t.equal(
    run(q, 1000, AUDIT.X86_64),
    run(compileWithoutStub(strict({ architectures: ['SCMP_ARCH_X32'] })), 1000, AUDIT.X86_64),
    'an x86_64 call meets what libseccomp decides',
  );
});

t.test('a syscall the profile names is never answered by the stub, whatever its action', async (t) => {
  const p = compile(
    strict({ syscalls: [...(strict().syscalls ?? []), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }),
  );
  t.equal(run(p, 435, AUDIT.X86_64), EPERM, 'clone3 named: its rule (docker names it with ENOSYS itself)');
  t.equal(run(p, 436, AUDIT.X86_64), ENOSYS);
  t.equal(run(p, 300, AUDIT.X86_64), EPERM, 'below clone3 now: the default action');
  // A rule whose action is the default one is dropped from libseccomp's program but still
  // counts as named (runc finds the highest over the profile's names).
  const q = compile(
    strict({ syscalls: [...(strict().syscalls ?? []), { names: ['clone3'], action: 'SCMP_ACT_ERRNO' }] }),
  );
  t.equal(run(q, 435, AUDIT.X86_64), EPERM);
  t.equal(run(q, 436, AUDIT.X86_64), ENOSYS);
});

t.test('names libseccomp does not know are left out of the highest number, as runc does', async (t) => {
  const p = compile(
    strict({ syscalls: [...(strict().syscalls ?? []), { names: ['no_such_syscall_here'], action: 'SCMP_ACT_ALLOW' }] }),
  );
  t.equal(run(p, 232, AUDIT.X86_64), ENOSYS);
  t.same(
    native().compileSeccomp(
      seccompInput(strict({ syscalls: [{ names: ['no_such_syscall_here', 'read'], action: 'SCMP_ACT_ALLOW' }] })),
    ).skipped,
    ['no_such_syscall_here'],
  );
});

t.test("runc's exceptions: no stub when the default action lets calls through or already answers ENOSYS", async (t) => {
  for (const defaultAction of ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE']) {
    const profile = strict({ defaultAction, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
    t.same(compile(profile), compileWithoutStub(profile), `${defaultAction}: libseccomp's program unchanged`);
  }
  const enosysDefault = strict({ defaultErrnoRet: 38 });
  t.same(compile(enosysDefault), compileWithoutStub(enosysDefault), 'ERRNO(ENOSYS) as the default: nothing to add');
  t.equal(run(compile(enosysDefault), 1000, AUDIT.X86_64), ENOSYS);
  for (const defaultAction of [
    'SCMP_ACT_ERRNO',
    'SCMP_ACT_KILL',
    'SCMP_ACT_KILL_PROCESS',
    'SCMP_ACT_KILL_THREAD',
    'SCMP_ACT_TRAP',
  ]) {
    t.equal(run(compile(strict({ defaultAction })), 1000, AUDIT.X86_64), ENOSYS, `${defaultAction}: the stub answers`);
  }
  t.equal(enosysStubWanted(errno(28)), true, 'ERRNO with another errno: the stub');
  t.equal(enosysStubWanted(0x7ff00026), false, 'TRACE with any errno: none');
});

t.test(
  'without architectures in the profile there is no stub (runc 1.1.5: the stub covers the listed ones only)',
  async (t) => {
    const profile = strict({ architectures: undefined });
    t.same(compile(profile), compileWithoutStub(profile));
    t.equal(run(compile(profile), 1000, AUDIT.X86_64), EPERM);
  },
);

t.test('every architecture of the profile gets its own section', async (t) => {
  const archs = [
    'SCMP_ARCH_X86_64',
    'SCMP_ARCH_X86',
    'SCMP_ARCH_X32',
    'SCMP_ARCH_AARCH64',
    'SCMP_ARCH_ARM',
    'SCMP_ARCH_PPC64LE',
    'SCMP_ARCH_RISCV64',
    'SCMP_ARCH_MIPSEL64',
  ];
  // (libseccomp refuses to mix big- and little-endian architectures in one filter.)
  const p = compile(strict({ architectures: archs }));
  t.equal(run(p, 1000, AUDIT.AARCH64), ENOSYS, 'aarch64');
  t.equal(run(p, 63, AUDIT.AARCH64), ALLOW, 'aarch64 read (63)');
  t.equal(run(p, 1000, AUDIT.X86_64), ENOSYS, 'x86_64');
  t.equal(run(p, 1000, 0xc00000f3), ENOSYS, 'riscv64');
  t.equal(run(p, 1000, 0x40000028), ENOSYS, 'arm');
});

t.test('the 4096-instruction limit counts the stub', async (t) => {
  // About 6 instructions for each two-argument rule to come near the limit, then one for each
  // one-argument rule to step up to it an instruction at a time.
  const bulk = Array.from({ length: 640 }, (_, i) => ({
    names: ['mkdir'],
    action: 'SCMP_ACT_ALLOW',
    args: [0, 1].map((index) => ({ index, value: i + 1, op: 'SCMP_CMP_EQ' })),
  }));
  const profile = (m: number): Seccomp => ({
    ...strict(),
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      ...(strict().syscalls ?? []),
      ...bulk,
      ...Array.from({ length: m }, (_, i) => ({
        names: ['rmdir'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: i + 1, op: 'SCMP_CMP_EQ' }],
      })),
    ],
  });
  const spec = (m: number): Spec =>
    ({
      ociVersion: '1.2.0',
      process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } },
      linux: { seccomp: profile(m) },
    }) as unknown as Spec;
  const size = (m: number): number => compile(profile(m)).length / 8;
  t.ok(size(0) < 4096 - 64 && size(512) > 4096, `the search's bounds: ${size(0)} and ${size(512)} instructions`);
  let lo = 0;
  let hi = 512;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (size(mid) <= 4096) lo = mid;
    else hi = mid;
  }
  const within = size(lo);
  const over = size(hi);
  const overWithout = compileWithoutStub(profile(hi)).length / 8;
  t.ok(
    within <= 4096 && over > 4096 && overWithout <= 4096,
    `${within} instructions; one rule more: ${over}, of which libseccomp's ${overWithout}`,
  );
  const planned = processSteps(
    spec(lo).process as Process,
    spec(lo),
    { pointer: '/process', preserveFds: 0 },
    gatherProcessHostFacts(),
  );
  t.same(planned.problems, [], `${within} instructions are loaded`);
  const refused = processSteps(
    spec(hi).process as Process,
    spec(hi),
    { pointer: '/process', preserveFds: 0 },
    gatherProcessHostFacts(),
  );
  t.match(
    refused.problems,
    [{ pointer: '/linux/seccomp', message: `compiles to ${over} BPF instructions, more than the kernel loads (4096)` }],
    "libseccomp's program alone would fit; with the stub it does not, and is refused",
  );
});

t.test("SCMP_ACT_NOTIFY on write, or as the default action, is refused with runc's reasons", async (t) => {
  const refused = (profile: Seccomp): [string, string][] => {
    try {
      seccompInput(profile);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => [p.pointer, p.message]);
      throw err;
    }
    return [];
  };
  t.same(
    refused({
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath: '/x',
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ALLOW' },
        { names: ['read', 'write'], action: 'SCMP_ACT_NOTIFY' },
      ],
    }),
    [['/linux/seccomp/syscalls/1/names/1', 'SCMP_ACT_NOTIFY cannot be used for the write syscall']],
  );
  t.same(refused({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/x' }), [
    ['/linux/seccomp/defaultAction', 'SCMP_ACT_NOTIFY cannot be used as default action'],
  ]);
  t.same(
    refused({
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath: '/x',
      syscalls: [{ names: ['read', 'close', 'writev', 'sendmsg'], action: 'SCMP_ACT_NOTIFY' }],
    }),
    [],
    'runc refuses write alone; read, close and the rest may be notified',
  );
  t.same(
    refused({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['write'], action: 'SCMP_ACT_ERRNO' }] }),
    [],
    'write with another action is fine',
  );
});
