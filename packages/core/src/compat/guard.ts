import {
  BPF_JMP,
  BPF_JMP32,
  type Insn,
  insnClass,
  insnOp,
  isLdImm64,
  JMP_CALL,
  JMP_EXIT,
  JMP_JA,
  Pseudo,
} from '../insn/index.ts';
import type { CodeImage, Loc, PathStep } from './reach.ts';

/**
 * The guard of a poisoned instruction the verifier never reaches: of the conditional jumps it
 * always decides one way, the nearest one whose other edge leads to the instruction (through
 * jumps and static calls in its section). That is the `if` a reader would point at: the CO-RE
 * existence check, the kconfig test, the masked switch.
 */
export function guardOf(image: CodeImage, folded: readonly PathStep[], target: Loc): PathStep | undefined {
  const code = image.insns(target.sec);
  if (!code) return undefined;
  // One backward walk from the instruction: everything in its section that leads to it.
  const leads = leadingTo(image, target.sec, code, target.idx);
  let best: PathStep | undefined;
  for (const f of folded) {
    if (f.at.sec !== target.sec) continue;
    const dropped = f.taken ? f.at.idx + 1 : f.at.idx + 1 + f.insn.off;
    if (leads[dropped] !== 1) continue;
    // Nearest before the instruction first, then nearest after it.
    if (!best || rank(f, target) < rank(best, target)) best = f;
  }
  return best;
}

const rank = (f: PathStep, target: Loc): number =>
  f.at.idx < target.idx ? target.idx - f.at.idx : (1 << 30) + f.at.idx - target.idx;

const PREDS = new WeakMap<readonly Insn[], number[][]>();

/** 1 for every instruction of the section from which `idx` can be reached. */
function leadingTo(image: CodeImage, sec: number, code: readonly Insn[], idx: number): Uint8Array {
  let preds = PREDS.get(code);
  if (!preds) {
    preds = predecessors(image, sec, code);
    PREDS.set(code, preds);
  }
  const out = new Uint8Array(code.length + 1);
  const work = [idx];
  out[idx] = 1;
  while (work.length > 0) {
    const at = work.pop() as number;
    for (const p of preds[at] ?? []) {
      if (out[p] === 1) continue;
      out[p] = 1;
      work.push(p);
    }
  }
  return out;
}

/** Control-flow predecessors within one section; a static call leads into its callee. */
function predecessors(image: CodeImage, sec: number, code: readonly Insn[]): number[][] {
  const preds: number[][] = Array.from({ length: code.length }, () => []);
  const edge = (from: number, to: number) => {
    if (to >= 0 && to < code.length) preds[to]?.push(from);
  };
  for (let pc = 0; pc < code.length; pc++) {
    const insn = code[pc] as Insn;
    const cls = insnClass(insn);
    const op = insnOp(insn);
    if (isLdImm64(insn)) {
      edge(pc, pc + 2);
      pc++;
    } else if (cls !== BPF_JMP && cls !== BPF_JMP32) edge(pc, pc + 1);
    else if (op === JMP_EXIT) continue;
    else if (op === JMP_CALL) {
      if (insn.src === Pseudo.CALL) {
        const callee = image.callTarget({ sec, idx: pc }, insn);
        if (callee && callee.sec === sec) edge(pc, callee.idx);
      }
      edge(pc, pc + 1);
    } else if (op === JMP_JA) edge(pc, pc + 1 + (cls === BPF_JMP32 ? insn.imm : insn.off));
    else {
      edge(pc, pc + 1);
      edge(pc, pc + 1 + insn.off);
    }
  }
  return preds;
}
