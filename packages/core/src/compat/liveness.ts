import {
  ALU_END,
  ALU_MOV,
  ALU_NEG,
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_ST,
  BPF_STX,
  type Insn,
  insnClass,
  insnOp,
  isLdImm64,
  JMP_CALL,
  JMP_EXIT,
  JMP_JA,
} from '../insn/index.ts';

/**
 * Which registers each instruction of a code section may still read before writing them (a
 * bitmask of r0–r9 per instruction). The walk forgets a dead register's value before comparing
 * states, as the verifier's liveness does: two paths that differ only in values no one reads
 * again are one state, which keeps the number of paths walked from doubling at every branch.
 */
export function liveRegisters(code: readonly Insn[]): Uint16Array {
  const n = code.length;
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  const succ: number[][] = new Array(n);
  for (let pc = 0; pc < n; pc++) {
    const insn = code[pc] as Insn;
    const bit = (r: number) => (r <= 9 ? 1 << r : 0);
    const cls = insnClass(insn);
    const op = insnOp(insn);
    const srcX = (insn.code & 0x08) !== BPF_K;
    let next = [pc + 1];
    if (cls === BPF_LD) {
      if (isLdImm64(insn)) {
        def[pc] = bit(insn.dst);
        next = [pc + 2];
      } else {
        use[pc] = bit(6) | (srcX ? bit(insn.src) : 0);
        def[pc] = 0x3f;
      }
    } else if (cls === BPF_ALU || cls === BPF_ALU64) {
      const unary = op === ALU_NEG || op === ALU_END;
      use[pc] = (op === ALU_MOV ? 0 : bit(insn.dst)) | (srcX && !unary ? bit(insn.src) : 0);
      def[pc] = bit(insn.dst);
    } else if (cls === BPF_LDX) {
      use[pc] = bit(insn.src);
      def[pc] = bit(insn.dst);
    } else if (cls === BPF_ST) {
      use[pc] = bit(insn.dst);
    } else if (cls === BPF_STX) {
      use[pc] = bit(insn.dst) | bit(insn.src) | ((insn.code & 0xe0) === BPF_ATOMIC ? bit(0) : 0);
      if ((insn.code & 0xe0) === BPF_ATOMIC) def[pc] = bit(insn.src) | bit(0);
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      if (op === JMP_EXIT && cls === BPF_JMP) {
        use[pc] = bit(0);
        next = [];
      } else if (op === JMP_CALL && cls === BPF_JMP) {
        use[pc] = 0x3e; // r1–r5: arguments
        def[pc] = 0x3f;
      } else if (op === JMP_JA) {
        next = [pc + 1 + (cls === BPF_JMP32 ? insn.imm : insn.off)];
      } else {
        use[pc] = bit(insn.dst) | (srcX ? bit(insn.src) : 0);
        next = [pc + 1, pc + 1 + insn.off];
      }
    }
    succ[pc] = next.filter((t) => t >= 0 && t < n);
  }
  // Backward fixpoint: live-in = use | (live-out & ~def).
  const live = new Uint16Array(n);
  let changed = true;
  while (changed) {
    changed = false;
    for (let pc = n - 1; pc >= 0; pc--) {
      let out = 0;
      for (const s of succ[pc] as number[]) out |= live[s] as number;
      const inn = ((use[pc] as number) | (out & ~(def[pc] as number))) & 0x3ff;
      if (inn !== live[pc]) {
        live[pc] = inn;
        changed = true;
      }
    }
  }
  return live;
}
