import {
  BPF_JMP,
  BPF_JMP32,
  insnClass,
  insnOp,
  isLdImm64,
  JMP_CALL,
  JMP_EXIT,
  JMP_JA,
  PSEUDO_CALL,
} from './insn.ts';
import type { CodeImage, Loc, PathStep } from './reach.ts';

/** Instructions a guard search may visit (per candidate): programs are at most this long. */
const MAX_VISIT = 1 << 20;

/**
 * The guard of a poisoned instruction the verifier never reaches: of the conditional jumps it
 * always decides one way, the nearest one whose other edge leads to the instruction (through
 * jumps and static calls). That is the `if` a reader would point at: the CO-RE existence check,
 * the kconfig test, the masked switch.
 */
export function guardOf(image: CodeImage, folded: readonly PathStep[], target: Loc): PathStep | undefined {
  // Nearest first: the same section, just before the instruction; then the rest.
  const order = [...folded].sort((a, b) => rank(a, target) - rank(b, target));
  for (const f of order) {
    const dropped = f.taken ? f.at.idx + 1 : f.at.idx + 1 + f.insn.off;
    if (leadsTo(image, { sec: f.at.sec, idx: dropped }, target)) return f;
  }
  return undefined;
}

function rank(f: PathStep, target: Loc): number {
  if (f.at.sec === target.sec && f.at.idx < target.idx) return target.idx - f.at.idx;
  return MAX_VISIT + Math.abs(target.idx - f.at.idx);
}

function leadsTo(image: CodeImage, from: Loc, target: Loc): boolean {
  const seen = new Set<string>();
  const work: Loc[] = [from];
  while (work.length > 0 && seen.size < MAX_VISIT) {
    const at = work.pop() as Loc;
    if (at.sec === target.sec && at.idx === target.idx) return true;
    const key = `${at.sec}:${at.idx}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const insn = image.insns(at.sec)?.[at.idx];
    if (!insn) continue;
    const cls = insnClass(insn);
    const op = insnOp(insn);
    const next = (idx: number) => work.push({ sec: at.sec, idx });
    if (isLdImm64(insn)) next(at.idx + 2);
    else if (cls !== BPF_JMP && cls !== BPF_JMP32) next(at.idx + 1);
    else if (op === JMP_EXIT) continue;
    else if (op === JMP_CALL) {
      if (insn.src === PSEUDO_CALL) {
        const callee = image.callTarget(at, insn);
        if (callee) work.push(callee);
      }
      next(at.idx + 1);
    } else if (op === JMP_JA) next(at.idx + 1 + (cls === BPF_JMP32 ? insn.imm : insn.off));
    else {
      next(at.idx + 1);
      next(at.idx + 1 + insn.off);
    }
  }
  return false;
}
