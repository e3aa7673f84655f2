import { Errno } from './errno.ts';
import type { RelocationResult } from './value.ts';

/** BPF instruction fields this module touches (uapi bpf.h / bpf_common.h). */
const INSN_SIZE = 8;
const CLASS_LD = 0x00;
const CLASS_LDX = 0x01;
const CLASS_ST = 0x02;
const CLASS_STX = 0x03;
const CLASS_ALU = 0x04;
const CLASS_ALU64 = 0x07;
const SRC_X = 0x08;
const LD_IMM64 = 0x18;
const JMP_CALL = 0x85;
/** libbpf's poison: a call to helper #195896080 ("bad relo"), which the verifier rejects if reached. */
export const POISON_IMM = 0xbad2310;

const SIZE_BYTES: Record<number, number> = { 0: 4, 8: 2, 16: 1, 24: 8 };
const BYTES_SIZE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

export type InsnClass = 'ALU/ALU64' | 'LDX/ST/STX' | 'LDIMM64';

export interface PatchDone {
  class: InsnClass;
  field: 'imm' | 'off' | 'imm64';
  /** The value that was in the instruction, as libbpf prints it (u64). */
  from: bigint;
  to: bigint;
  /** Set when a load/store's access size was changed too. */
  memSize?: { from: number; to: number };
}

export interface PatchPoison {
  poison: true;
  /** Instructions rewritten, in the order libbpf reports them (second LD_IMM64 slot first). */
  insns: number[];
  /** The load/store could not be resized: libbpf warns, then poisons. */
  memszAdjust: boolean;
}

export interface PatchFailure {
  errno: number;
  reason: string;
}

export type PatchOutcome = PatchDone | PatchPoison | PatchFailure;

/**
 * An instruction buffer in the object's byte order; `insn` indexes are relative to it.
 * The register byte holds dst in its low nibble on little-endian objects, high on big-endian.
 */
export class Insns {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get count(): number {
    return Math.floor(this.bytes.length / INSN_SIZE);
  }
  code(i: number): number {
    return this.view.getUint8(i * INSN_SIZE);
  }
  setCode(i: number, v: number): void {
    this.view.setUint8(i * INSN_SIZE, v);
  }
  dst(i: number): number {
    const r = this.view.getUint8(i * INSN_SIZE + 1);
    return this.littleEndian ? r & 0x0f : r >> 4;
  }
  src(i: number): number {
    const r = this.view.getUint8(i * INSN_SIZE + 1);
    return this.littleEndian ? r >> 4 : r & 0x0f;
  }
  off(i: number): number {
    return this.view.getInt16(i * INSN_SIZE + 2, this.littleEndian);
  }
  setOff(i: number, v: number): void {
    this.view.setInt16(i * INSN_SIZE + 2, v, this.littleEndian);
  }
  imm(i: number): number {
    return this.view.getInt32(i * INSN_SIZE + 4, this.littleEndian);
  }
  setImm(i: number, v: number): void {
    this.view.setInt32(i * INSN_SIZE + 4, v | 0, this.littleEndian);
  }
  poison(i: number): void {
    this.view.setUint8(i * INSN_SIZE, JMP_CALL);
    this.view.setUint8(i * INSN_SIZE + 1, 0);
    this.view.setInt16(i * INSN_SIZE + 2, 0, this.littleEndian);
    this.view.setInt32(i * INSN_SIZE + 4, POISON_IMM, this.littleEndian);
  }
}

const u64 = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

/** `bpf_core_patch_insn`: applies a computed relocation to instruction `i`. */
export function patchInsn(insns: Insns, i: number, res: RelocationResult): PatchOutcome {
  const code = insns.code(i);
  const cls = code & 0x07;
  const poison = (memszAdjust: boolean): PatchPoison => {
    const done: number[] = [];
    if (code === LD_IMM64 && i + 1 < insns.count) {
      insns.poison(i + 1);
      done.push(i + 1);
    }
    insns.poison(i);
    done.push(i);
    return { poison: true, insns: done, memszAdjust };
  };
  if (res.poison) return poison(false);

  const orig = res.origVal;
  const next = res.newVal;
  switch (cls) {
    case CLASS_ALU:
    case CLASS_ALU64: {
      if ((code & SRC_X) !== 0)
        return { errno: Errno.EINVAL, reason: `insn #${i} is a register ALU operation` };
      const imm = insns.imm(i);
      if (res.validate && u64(imm) !== orig) {
        return { errno: Errno.EINVAL, reason: `insn #${i} holds ${imm}, expected ${orig} (ALU/ALU64)` };
      }
      insns.setImm(i, Number(BigInt.asIntN(32, next)));
      return { class: 'ALU/ALU64', field: 'imm', from: u64(imm), to: next };
    }
    case CLASS_LDX:
    case CLASS_ST:
    case CLASS_STX: {
      const off = insns.off(i);
      if (res.validate && u64(off) !== orig) {
        return { errno: Errno.EINVAL, reason: `insn #${i} has offset ${off}, expected ${orig} (LDX/ST/STX)` };
      }
      if (next > 32767n) return { errno: Errno.ERANGE, reason: `offset ${next} does not fit insn #${i}` };
      if (res.failMemszAdjust) return poison(true);
      insns.setOff(i, Number(next));
      const done: PatchDone = { class: 'LDX/ST/STX', field: 'off', from: u64(off), to: next };
      if (res.newSize !== res.origSize) {
        const have = SIZE_BYTES[code & 0x18] as number;
        if (have !== res.origSize) {
          return {
            errno: Errno.EINVAL,
            reason: `insn #${i} accesses ${have} bytes, expected ${res.origSize}`,
          };
        }
        const size = BYTES_SIZE[res.newSize];
        if (size === undefined) {
          return { errno: Errno.EINVAL, reason: `insn #${i} cannot access ${res.newSize} bytes at once` };
        }
        insns.setCode(i, (code & 0xe0) | size | cls);
        done.memSize = { from: res.origSize, to: res.newSize };
      }
      return done;
    }
    case CLASS_LD: {
      if (
        code !== LD_IMM64 ||
        i + 1 >= insns.count ||
        insns.src(i) !== 0 ||
        insns.off(i) !== 0 ||
        insns.code(i + 1) !== 0 ||
        insns.dst(i + 1) !== 0 ||
        insns.src(i + 1) !== 0 ||
        insns.off(i + 1) !== 0
      ) {
        return { errno: Errno.EINVAL, reason: `insn #${i} (LDIMM64) has an unexpected form` };
      }
      const imm = (BigInt(insns.imm(i + 1) >>> 0) << 32n) | BigInt(insns.imm(i) >>> 0);
      if (res.validate && imm !== orig) {
        return { errno: Errno.EINVAL, reason: `insn #${i} holds ${imm}, expected ${orig} (LDIMM64)` };
      }
      insns.setImm(i, Number(BigInt.asIntN(32, next)));
      insns.setImm(i + 1, Number(BigInt.asIntN(32, next >> 32n)));
      return { class: 'LDIMM64', field: 'imm64', from: imm, to: next };
    }
    default:
      return { errno: Errno.EINVAL, reason: `insn #${i} (code 0x${code.toString(16)}) cannot be relocated` };
  }
}
