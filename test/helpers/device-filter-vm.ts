// Runs a cgroup v2 device filter (the bytes src/cgroups/device-filter.ts hands to
// BPF_PROG_LOAD) as the kernel would, for the instructions such a program uses: the unit
// tests check what the encoded program allows without loading it. Opcodes and the context
// layout are the kernel's (linux/bpf.h: struct bpf_insn, struct bpf_cgroup_dev_ctx), written
// here independently of the compiler; an instruction outside that set fails the run.

const OP = {
  LDX_MEM_W: 0x61, // BPF_LDX | BPF_MEM | BPF_W
  MOV64_REG: 0xbf, // BPF_ALU64 | BPF_MOV | BPF_X
  MOV64_IMM: 0xb7, // BPF_ALU64 | BPF_MOV | BPF_K
  AND64_IMM: 0x57, // BPF_ALU64 | BPF_AND | BPF_K
  RSH64_IMM: 0x77, // BPF_ALU64 | BPF_RSH | BPF_K
  JNE_IMM: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

/** BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR */
const DEV_TYPE = { b: 1, c: 2 } as const;
/** BPF_DEVCG_ACC_MKNOD, _READ, _WRITE */
const ACCESS: Record<string, number> = { m: 1, r: 2, w: 4 };

/** The verdict of `program` on one request: 1 allow, 0 deny. */
export function runDeviceFilter(
  program: Buffer,
  type: 'c' | 'b',
  major: number,
  minor: number,
  access: string,
): number {
  if (program.length % 8 !== 0)
    throw new Error(`a program of ${program.length} bytes is not made of 8-byte instructions`);
  const accessBits = [...access].reduce((bits, ch) => bits | (ACCESS[ch] ?? 0), 0);
  // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
  const ctx = [(accessBits << 16) | DEV_TYPE[type], major, minor];
  const reg = new Array<number>(11).fill(0);
  for (let pc = 0; pc < program.length / 8; pc++) {
    const at = pc * 8;
    const code = program.readUInt8(at);
    const dst = program.readUInt8(at + 1) & 0x0f;
    const src = program.readUInt8(at + 1) >> 4;
    const off = program.readInt16LE(at + 2);
    const imm = program.readInt32LE(at + 4);
    switch (code) {
      case OP.LDX_MEM_W:
        if (src !== 1 || off % 4 !== 0 || ctx[off / 4] === undefined)
          throw new Error(`instruction ${pc}: a load outside the context`);
        reg[dst] = ctx[off / 4] as number;
        break;
      case OP.MOV64_REG:
        reg[dst] = reg[src] ?? 0;
        break;
      case OP.MOV64_IMM:
        reg[dst] = imm;
        break;
      case OP.AND64_IMM:
        reg[dst] = (reg[dst] ?? 0) & imm;
        break;
      case OP.RSH64_IMM:
        reg[dst] = (reg[dst] ?? 0) >>> imm;
        break;
      case OP.JNE_IMM:
        if (reg[dst] !== imm) pc += off;
        break;
      case OP.EXIT:
        return reg[0] ?? 0;
      default:
        throw new Error(`instruction ${pc}: opcode 0x${code.toString(16)} is not one a device filter uses`);
    }
  }
  throw new Error('device filter fell off its end');
}
