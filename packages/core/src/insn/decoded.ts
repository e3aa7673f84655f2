import { errors } from '../errors/index.ts';
import type { InsnFields } from './insns.ts';
import {
  ALU_MOV,
  ALU_NEG,
  BPF_ALU,
  BPF_ALU64,
  BPF_B,
  BPF_DW,
  BPF_H,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_LDX,
  BPF_ST,
  BPF_STX,
  BPF_W,
  BPF_X,
  CALL_CODE,
  EXIT_CODE,
  INSN_SIZE,
  JMP_CALL,
  JMP_EXIT,
  JMP_JA,
  LD_IMM64_CODE,
  POISON_HELPER,
} from './opcodes.ts';

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

export const insnClass = (i: Insn): number => i.code & 0x07;
export const insnOp = (i: Insn): number => i.code & 0xf0;
export const isLdImm64 = (i: Insn): boolean => i.code === LD_IMM64_CODE;
export const isCall = (i: Insn): boolean => i.code === CALL_CODE;
export const isExit = (i: Insn): boolean => i.code === EXIT_CODE;
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

/** The size class (code & 0x18) of a `bytes`-wide load/store, accessSize's inverse; undefined for any other width. */
export function accessSizeCode(bytes: number): number | undefined {
  switch (bytes) {
    case 4:
      return BPF_W;
    case 2:
      return BPF_H;
    case 1:
      return BPF_B;
    case 8:
      return BPF_DW;
    default:
      return undefined;
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
  return { code: CALL_CODE, dst: 0, src: 0, off: 0, imm: POISON_HELPER };
}

/**
 * Decoded instructions behind the byte view's reads and writes (insns.ts `InsnFields`), so the
 * patch function that relocates bytes relocates these too. Writes keep each field's C width:
 * `off` a signed 16-bit, `imm` a signed 32-bit value.
 */
export class InsnObjects implements InsnFields {
  constructor(readonly list: Insn[]) {}
  get count(): number {
    return this.list.length;
  }
  private at(i: number): Insn {
    const insn = this.list[i];
    if (insn === undefined) throw new RangeError(`instruction ${i} is past the end (${this.list.length})`);
    return insn;
  }
  code(i: number): number {
    return this.at(i).code;
  }
  setCode(i: number, v: number): void {
    this.at(i).code = v & 0xff;
  }
  dst(i: number): number {
    return this.at(i).dst;
  }
  src(i: number): number {
    return this.at(i).src;
  }
  off(i: number): number {
    return this.at(i).off;
  }
  setOff(i: number, v: number): void {
    this.at(i).off = (v << 16) >> 16;
  }
  imm(i: number): number {
    return this.at(i).imm;
  }
  setImm(i: number, v: number): void {
    this.at(i).imm = v | 0;
  }
  poison(i: number): void {
    this.at(i);
    this.list[i] = poisonInsn();
  }
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
