import { accessSize, accessSizeCode } from '../insn/decoded.ts';
import { type InsnFields, Insns } from '../insn/insns.ts';
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_LD,
  BPF_LDX,
  BPF_ST,
  BPF_STX,
  BPF_X,
  LD_IMM64_CODE,
  POISON_HELPER,
} from '../insn/opcodes.ts';
import { Errno } from './errno.ts';
import type { RelocationResult } from './value.ts';

export { Insns };
/** libbpf's poison: a call to helper #195896080 ("bad relo"), which the verifier rejects if reached. */
export const POISON_IMM = POISON_HELPER;

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
  /** Instructions rewritten, in the order libbpf reports them (second LD_IMM64_CODE slot first). */
  insns: number[];
  /** The load/store could not be resized: libbpf warns, then poisons. */
  memszAdjust: boolean;
}

export interface PatchFailure {
  errno: number;
  reason: string;
}

export type PatchOutcome = PatchDone | PatchPoison | PatchFailure;

const u64 = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

/**
 * Writes a relocated value into instruction `i`: `imm` (ALU/ALU64), `off` (LDX/ST/STX, and
 * `memSize` bytes as its new access size when the relocation resized it) or both halves of an
 * LD_IMM64's constant. The one write step of every CO-RE patch: patchInsn's, and compat's when
 * it replays decisions (possibly another relocator's) on its decoded copy. `to` is cut to the
 * field's width, as C's assignment does.
 */
export function writePatch(
  insns: InsnFields,
  i: number,
  field: PatchDone['field'],
  to: bigint,
  memSize?: number,
): void {
  if (field === 'off') {
    insns.setOff(i, Number(BigInt.asIntN(16, to)));
    if (memSize !== undefined) resizeAccess(insns, i, memSize);
    return;
  }
  insns.setImm(i, Number(BigInt.asIntN(32, to)));
  if (field === 'imm64' && i + 1 < insns.count) insns.setImm(i + 1, Number(BigInt.asIntN(32, to >> 32n)));
}

/**
 * Gives load/store `i` an access of `bytes` (1, 2, 4 or 8), keeping its mode and class, as
 * libbpf does when a field's size differs on the target. False (nothing written) for any other size.
 */
export function resizeAccess(insns: InsnFields, i: number, bytes: number): boolean {
  const size = accessSizeCode(bytes);
  if (size === undefined) return false;
  const code = insns.code(i);
  insns.setCode(i, (code & 0xe0) | size | (code & 0x07));
  return true;
}

/**
 * libbpf's poisoning of a relocated instruction: the bad-relo call over it, and over an
 * LD_IMM64's second slot too. Returns the slots in the order libbpf reports them (second first).
 */
export function poisonRelocated(insns: InsnFields, i: number): number[] {
  const done: number[] = [];
  if (insns.code(i) === LD_IMM64_CODE && i + 1 < insns.count) {
    insns.poison(i + 1);
    done.push(i + 1);
  }
  insns.poison(i);
  done.push(i);
  return done;
}

/** `bpf_core_patch_insn`: applies a computed relocation to instruction `i`. */
export function patchInsn(insns: InsnFields, i: number, res: RelocationResult): PatchOutcome {
  const code = insns.code(i);
  const cls = code & 0x07;
  const poison = (memszAdjust: boolean): PatchPoison => ({
    poison: true,
    insns: poisonRelocated(insns, i),
    memszAdjust,
  });
  if (res.poison) return poison(false);

  const orig = res.origVal;
  const next = res.newVal;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if ((code & BPF_X) !== 0)
        return { errno: Errno.EINVAL, reason: `insn #${i} is a register ALU operation` };
      const imm = insns.imm(i);
      if (res.validate && u64(imm) !== orig) {
        return { errno: Errno.EINVAL, reason: `insn #${i} holds ${imm}, expected ${orig} (ALU/ALU64)` };
      }
      writePatch(insns, i, 'imm', next);
      return { class: 'ALU/ALU64', field: 'imm', from: u64(imm), to: next };
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const off = insns.off(i);
      if (res.validate && u64(off) !== orig) {
        return { errno: Errno.EINVAL, reason: `insn #${i} has offset ${off}, expected ${orig} (LDX/ST/STX)` };
      }
      if (next > 32767n) return { errno: Errno.ERANGE, reason: `offset ${next} does not fit insn #${i}` };
      if (res.failMemszAdjust) return poison(true);
      writePatch(insns, i, 'off', next);
      const done: PatchDone = { class: 'LDX/ST/STX', field: 'off', from: u64(off), to: next };
      if (res.newSize !== res.origSize) {
        const have = accessSize(code);
        if (have !== res.origSize) {
          return {
            errno: Errno.EINVAL,
            reason: `insn #${i} accesses ${have} bytes, expected ${res.origSize}`,
          };
        }
        if (!resizeAccess(insns, i, res.newSize)) {
          return { errno: Errno.EINVAL, reason: `insn #${i} cannot access ${res.newSize} bytes at once` };
        }
        done.memSize = { from: res.origSize, to: res.newSize };
      }
      return done;
    }
    case BPF_LD: {
      if (
        code !== LD_IMM64_CODE ||
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
      writePatch(insns, i, 'imm64', next);
      return { class: 'LDIMM64', field: 'imm64', from: imm, to: next };
    }
    default:
      return { errno: Errno.EINVAL, reason: `insn #${i} (code 0x${code.toString(16)}) cannot be relocated` };
  }
}
