// The cgroup v2 device controller is an eBPF program. `create` compiles it from the
// container's device rules reduced as runc reduces them (device-rules.ts: the config's rules,
// then the defaults, down to allow-all with denies or deny-all with allows), so that it means
// what the v1 allow/deny lists mean; any rule list is checked last rule first, so that later
// rules override earlier ones. Anything no rule matches is denied. (Tests run the encoded
// program with test/helpers/device-filter-vm.ts.)
import type { DeviceCgroupRule } from '../spec/types';

const BPF = {
  LDX_MEM_W: 0x61,
  MOV64_REG: 0xbf,
  MOV64_IMM: 0xb7,
  AND64_IMM: 0x57,
  RSH64_IMM: 0x77,
  JNE_IMM: 0x55,
  EXIT: 0x95,
} as const;

const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC: Record<string, number> = { m: 1, r: 2, w: 4 };

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

/** The program for `rules` as BPF_PROG_LOAD takes it (struct bpf_insn, 8 bytes each). */
export function deviceFilterProgram(rules: DeviceCgroupRule[]): Buffer {
  return encodeProgram(compileDeviceFilter(rules));
}

/** The program as instructions (registers: r2 type, r3 access, r4 major, r5 minor). */
function compileDeviceFilter(rules: DeviceCgroupRule[]): Insn[] {
  const prologue = [
    insn(BPF.LDX_MEM_W, 2, 1, 0, 0), // r2 = ctx->access_type
    insn(BPF.MOV64_REG, 3, 2, 0, 0), // r3 = r2 >> 16 (access)
    insn(BPF.RSH64_IMM, 3, 0, 0, 16),
    insn(BPF.AND64_IMM, 2, 0, 0, 0xffff), // r2 &= 0xffff (type)
    insn(BPF.LDX_MEM_W, 4, 1, 4, 0), // r4 = ctx->major
    insn(BPF.LDX_MEM_W, 5, 1, 8, 0), // r5 = ctx->minor
  ];
  const blocks: Insn[][] = [];
  for (const rule of [...rules].reverse()) {
    const checks: Insn[] = [];
    const type = rule.type ?? 'a';
    if (type === 'c' || type === 'b') checks.push(insn(BPF.JNE_IMM, 2, 0, 0, type === 'c' ? DEV_CHAR : DEV_BLOCK));
    const access = [...(rule.access ?? 'rwm')].reduce((m, ch) => m | (ACC[ch] ?? 0), 0);
    if (access !== 7) {
      // The request must be a subset of the rule's access: (access & ~ruleAccess) == 0.
      checks.push(
        insn(BPF.MOV64_REG, 6, 3, 0, 0),
        insn(BPF.AND64_IMM, 6, 0, 0, ~access & 7),
        insn(BPF.JNE_IMM, 6, 0, 0, 0),
      );
    }
    if (type !== 'a' && rule.major !== undefined && rule.major >= 0)
      checks.push(insn(BPF.JNE_IMM, 4, 0, 0, rule.major));
    if (type !== 'a' && rule.minor !== undefined && rule.minor >= 0)
      checks.push(insn(BPF.JNE_IMM, 5, 0, 0, rule.minor));
    const tail = [insn(BPF.MOV64_IMM, 0, 0, 0, rule.allow ? 1 : 0), insn(BPF.EXIT, 0, 0, 0, 0)];
    // Every failed check jumps past the end of this block.
    const block = [...checks, ...tail];
    block.forEach((ins, i) => {
      if (ins.code === BPF.JNE_IMM) ins.off = block.length - i - 1;
    });
    blocks.push(block);
    // A rule that matches everything decides alone: the verifier rejects unreachable code.
    if (checks.length === 0) return [...prologue, ...blocks.flat()];
  }
  return [...prologue, ...blocks.flat(), insn(BPF.MOV64_IMM, 0, 0, 0, 0), insn(BPF.EXIT, 0, 0, 0, 0)];
}

/** struct bpf_insn, 8 bytes each, little-endian. */
function encodeProgram(insns: Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((ins, i) => {
    buf.writeUInt8(ins.code, i * 8);
    buf.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
    buf.writeInt16LE(ins.off, i * 8 + 2);
    buf.writeInt32LE(ins.imm, i * 8 + 4);
  });
  return buf;
}
