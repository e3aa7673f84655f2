import { errors } from '../errors/index.ts';

/**
 * BPF instructions as the verifier sees them: 8-byte slots, `code` u8, a register byte whose
 * nibbles are (dst, src) in the object's byte order, a signed 16-bit `off` and a signed 32-bit
 * `imm`. LD_IMM64 spans two slots; its second slot carries the upper 32 bits of the constant.
 */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export const INSN_SIZE = 8;

// Instruction classes (code & 0x07).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Source operand (code & 0x08): immediate or register.
export const BPF_K = 0x00;
export const BPF_X = 0x08;

// Memory access sizes (code & 0x18) and modes (code & 0xe0).
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_IMM = 0x00;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// ALU operations (code & 0xf0).
export const ALU_ADD = 0x00;
export const ALU_SUB = 0x10;
export const ALU_MUL = 0x20;
export const ALU_DIV = 0x30;
export const ALU_OR = 0x40;
export const ALU_AND = 0x50;
export const ALU_LSH = 0x60;
export const ALU_RSH = 0x70;
export const ALU_NEG = 0x80;
export const ALU_MOD = 0x90;
export const ALU_XOR = 0xa0;
export const ALU_MOV = 0xb0;
export const ALU_ARSH = 0xc0;
export const ALU_END = 0xd0;

// Jump operations (code & 0xf0).
export const JMP_JA = 0x00;
export const JMP_JEQ = 0x10;
export const JMP_JGT = 0x20;
export const JMP_JGE = 0x30;
export const JMP_JSET = 0x40;
export const JMP_JNE = 0x50;
export const JMP_JSGT = 0x60;
export const JMP_JSGE = 0x70;
export const JMP_CALL = 0x80;
export const JMP_EXIT = 0x90;
export const JMP_JLT = 0xa0;
export const JMP_JLE = 0xb0;
export const JMP_JSLT = 0xc0;
export const JMP_JSLE = 0xd0;

/** src_reg values of a CALL: a helper (0), a bpf-to-bpf call (1), a kfunc (2). */
export const PSEUDO_CALL = 1;
export const PSEUDO_KFUNC_CALL = 2;
/** The helper number libbpf writes into a poisoned instruction ("bad relo"). */
export const POISON_HELPER = 0xbad2310;

export const LD_IMM64_CODE = BPF_LD | BPF_IMM | BPF_DW;

export const insnClass = (i: Insn): number => i.code & 0x07;
export const insnOp = (i: Insn): number => i.code & 0xf0;
export const isLdImm64 = (i: Insn): boolean => i.code === LD_IMM64_CODE;
export const isCall = (i: Insn): boolean => i.code === (BPF_JMP | JMP_CALL);
export const isExit = (i: Insn): boolean => i.code === (BPF_JMP | JMP_EXIT);
export const isPoison = (i: Insn): boolean => isCall(i) && i.src === 0 && i.imm === POISON_HELPER;

/** Bytes accessed by a load/store of this size class. */
export function accessSize(code: number): number {
  switch (code & 0x18) {
    case BPF_W:
      return 4;
    case BPF_H:
      return 2;
    case BPF_B:
      return 1;
    default:
      return 8;
  }
}

/**
 * Decodes a code section. `base` is the section's offset in the file, so a section whose size
 * is not a whole number of instructions is reported where it ends.
 */
export function decodeInsns(bytes: Uint8Array, littleEndian: boolean, base = 0): Insn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw errors.badElf(
      base + bytes.length - (bytes.length % INSN_SIZE),
      `expected whole 8-byte BPF instructions, section is ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = new Array(bytes.length / INSN_SIZE);
  for (let i = 0; i < out.length; i++) {
    const at = i * INSN_SIZE;
    const regs = view.getUint8(at + 1);
    out[i] = {
      code: view.getUint8(at),
      // The register byte is a C bitfield: dst sits in the low nibble on little-endian objects.
      dst: littleEndian ? regs & 0x0f : regs >> 4,
      src: littleEndian ? regs >> 4 : regs & 0x0f,
      off: view.getInt16(at + 2, littleEndian),
      imm: view.getInt32(at + 4, littleEndian),
    };
  }
  return out;
}

/** BPF has eleven registers, r0–r10; a register nibble can name up to r15. */
export const MAX_BPF_REG = 11;

/**
 * Why the verifier refuses the instruction at `idx` as it stands, when the reason is one the
 * reachability walk cannot model: a register past r10 ("R15 is invalid"; an LD_IMM64 is
 * judged with its second slot) or a MOV whose `off` is no sign-extension width ("BPF_MOV
 * uses reserved fields"). `kind` names the finding.
 */
export function invalidInsn(
  insns: readonly Insn[],
  idx: number,
): { kind: 'invalid-register' | 'invalid-insn'; reason: string } | undefined {
  const i = insns[idx];
  if (!i) return undefined;
  const regs = [i.dst, i.src];
  if (isLdImm64(i)) {
    const hi = insns[idx + 1];
    if (hi) regs.push(hi.dst, hi.src);
  }
  const reg = regs.find((r) => r >= MAX_BPF_REG);
  if (reg !== undefined)
    return {
      kind: 'invalid-register',
      reason: `the instruction names register r${reg}, which BPF does not have (r0–r10): the verifier refuses it ("R${reg} is invalid")`,
    };
  const cls = insnClass(i);
  if ((cls === BPF_ALU || cls === BPF_ALU64) && insnOp(i) === ALU_MOV && (i.code & 0x08) === BPF_X) {
    const widths = cls === BPF_ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
    if (!widths.includes(i.off))
      return {
        kind: 'invalid-insn',
        reason: `a register move with off ${i.off}, which is no sign-extension width: the verifier refuses it ("BPF_MOV uses reserved fields")`,
      };
  }
  return undefined;
}

/** The instruction libbpf writes over a relocation it could not resolve. */
export function poisonInsn(): Insn {
  return { code: BPF_JMP | JMP_CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER };
}

const REG = (r: number) => (r === 10 ? 'r10' : `r${r}`);

/** A short human rendering in the kernel's (and llvm-objdump's) C-like syntax. */
export function formatInsn(i: Insn, next?: Insn): string {
  const cls = insnClass(i);
  const op = insnOp(i);
  const srcK = (i.code & 0x08) === BPF_K;
  if (isLdImm64(i)) {
    const hi = BigInt((next?.imm ?? 0) >>> 0) << 32n;
    return `${REG(i.dst)} = 0x${(hi | BigInt(i.imm >>> 0)).toString(16)} ll`;
  }
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const d = cls === BPF_ALU ? `w${i.dst}` : REG(i.dst);
    const s = srcK ? `${i.imm}` : cls === BPF_ALU ? `w${i.src}` : REG(i.src);
    const sym = ALU_SYMBOL[op >> 4] ?? '?';
    if (op === ALU_NEG) return `${d} = -${d}`;
    if (op === ALU_MOV) return `${d} = ${s}`;
    return `${d} ${sym}= ${s}`;
  }
  if (cls === BPF_LDX)
    return `${REG(i.dst)} = *(u${accessSize(i.code) * 8} *)(${REG(i.src)} ${fmtOff(i.off)})`;
  if (cls === BPF_STX)
    return `*(u${accessSize(i.code) * 8} *)(${REG(i.dst)} ${fmtOff(i.off)}) = ${REG(i.src)}`;
  if (cls === BPF_ST) return `*(u${accessSize(i.code) * 8} *)(${REG(i.dst)} ${fmtOff(i.off)}) = ${i.imm}`;
  if (cls === BPF_JMP || cls === BPF_JMP32) {
    if (op === JMP_CALL) return isPoison(i) ? 'call unknown#195896080 (poisoned)' : `call ${i.imm}`;
    if (op === JMP_EXIT) return 'exit';
    if (op === JMP_JA) return `goto ${fmtOff(i.off)}`;
    const w = cls === BPF_JMP32 ? 'w' : 'r';
    const s = srcK ? `${i.imm}` : `${w}${i.src}`;
    return `if ${w}${i.dst} ${JMP_SYMBOL[op >> 4] ?? '?'} ${s} goto ${fmtOff(i.off)}`;
  }
  return `code 0x${i.code.toString(16)}`;
}

const fmtOff = (off: number) => (off < 0 ? `- ${-off}` : `+ ${off}`);
const ALU_SYMBOL = ['+', '-', '*', '/', '|', '&', '<<', '>>', '-', '%', '^', '', 's>>', 'end'];
const JMP_SYMBOL = ['', '==', '>', '>=', '&', '!=', 's>', 's>=', '', '', '<', '<=', 's<', 's<='];
