import TinyQueue from 'tinyqueue';
import {
  ALU_ADD,
  ALU_AND,
  ALU_ARSH,
  ALU_LSH,
  ALU_MOV,
  ALU_MUL,
  ALU_OR,
  ALU_RSH,
  ALU_SUB,
  ALU_XOR,
  accessSize,
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MEMSX,
  BPF_ST,
  BPF_STX,
  type Insn,
  insnClass,
  insnOp,
  isLdImm64,
  isPoison,
  JMP_CALL,
  JMP_EXIT,
  JMP_JA,
  JMP_JEQ,
  JMP_JGE,
  JMP_JGT,
  JMP_JLE,
  JMP_JLT,
  JMP_JNE,
  JMP_JSET,
  JMP_JSGE,
  JMP_JSGT,
  JMP_JSLE,
  JMP_JSLT,
  PSEUDO_CALL,
} from './insn.ts';
import {
  copyState,
  joinInto,
  joinVal,
  konst,
  MASK32,
  MASK64,
  type State,
  toSigned32,
  toSigned64,
  UNKNOWN,
  type Val,
} from './values.ts';

/** An instruction address in the object: ELF section index and instruction index in it. */
export interface Loc {
  sec: number;
  idx: number;
}

/** What an LD_IMM64 with an ELF relocation loads, as far as the analysis cares. */
export type DataRef =
  | { kind: 'rodata'; blob: number; off: number }
  | { kind: 'func'; target: Loc }
  | { kind: 'other' };

/**
 * The relocated code of one object, as libbpf hands it to the kernel: instructions per code
 * section (CO-RE patches and poison applied), plus the facts the ELF relocations give.
 */
export interface CodeImage {
  insns(sec: number): readonly Insn[] | undefined;
  /** Callee of a bpf-to-bpf call at `at` (PSEUDO_CALL), resolved through ELF relocations. */
  callTarget(at: Loc, insn: Insn): Loc | undefined;
  /** What the LD_IMM64 at `at` points to, when an ELF relocation names a symbol. */
  dataRef(at: Loc): DataRef | undefined;
  /** Read-only blobs (frozen .rodata) that `ro` pointers index. */
  blob(index: number): { bytes: Uint8Array; littleEndian: boolean } | undefined;
  /** Global (non-static) functions are verified on their own, with unknown arguments. */
  isGlobalFunc(entry: Loc): boolean;
}

/** A conditional jump on the way to an instruction whose outcome the analysis could not fold. */
export interface PathStep {
  at: Loc;
  insn: Insn;
  taken: boolean;
}

/** A reached poisoned instruction and how it is reached. */
export interface ReachedPoison {
  at: Loc;
  /** Unfolded conditional jumps on one path from the function's entry, outermost first. */
  conditions: PathStep[];
  /** Call sites from the program entry to the function holding the instruction. */
  callChain: Loc[];
}

export interface ReachResult {
  /** Every instruction the verifier would walk (in any context). */
  reached: Set<string>;
  poisons: ReachedPoison[];
}

export const locKey = (l: Loc): string => `${l.sec}:${l.idx}`;

const MAX_CALL_DEPTH = 8;

interface FuncResult {
  /** r0 at every exit, joined: known to the caller only when all exits agree. */
  ret: Val;
}

/**
 * Walks a program as the verifier does: from its entry, following only the branches the known
 * constants allow (dead-code pruning), into bpf-to-bpf calls with the caller's argument values
 * (global functions: with unknown ones, as the verifier checks them separately). Values at a
 * join of paths keep only what both paths agree on, so every instruction the verifier can reach
 * is reached here; a poisoned instruction that is not reached here is dead to the verifier too,
 * as long as every constant the analysis folds is one the verifier also knows.
 */
export function reachProgram(image: CodeImage, entry: Loc): ReachResult {
  const reached = new Set<string>();
  const poisons = new Map<string, ReachedPoison>();
  const memo = new Map<string, FuncResult>();
  const active = new Set<string>();

  const analyzeFunc = (fn: Loc, args: Val[], chain: Loc[]): FuncResult => {
    const key = `${locKey(fn)}|${args.map((a) => (a.k === 'const' ? a.v.toString(16) : '?')).join(',')}`;
    const hit = memo.get(key);
    if (hit) return hit;
    if (active.has(locKey(fn)) || chain.length > MAX_CALL_DEPTH) return { ret: UNKNOWN };
    active.add(locKey(fn));
    const result = runFunction(fn, args, chain);
    active.delete(locKey(fn));
    memo.set(key, result);
    return result;
  };

  const runFunction = (fn: Loc, args: Val[], chain: Loc[]): FuncResult => {
    const code = image.insns(fn.sec);
    if (!code) return { ret: UNKNOWN };
    const entryState: State = { regs: new Array(11).fill(UNKNOWN), stack: new Map() };
    for (let r = 1; r <= 5; r++) entryState.regs[r] = args[r - 1] ?? UNKNOWN;
    entryState.regs[10] = { k: 'fp', off: 0 };
    const states = new Map<number, State>();
    const pred = new Map<number, { from: number; step?: PathStep }>();
    states.set(fn.idx, entryState);
    // Lowest index first: forward code converges in one pass, loops in a few. A heap, not a
    // list sorted at every step (that sort was most of what a compat run allocated).
    const work = new TinyQueue<number>([fn.idx]);
    const queued = new Set<number>([fn.idx]);
    let ret: Val | undefined;

    // `owned`: `s` is a fresh copy no one else holds, so the successor may keep it as is.
    const flow = (from: number, to: number, s: State, step?: PathStep, owned = false) => {
      if (to < 0 || to >= code.length) return;
      const cur = states.get(to);
      if (!cur) {
        states.set(to, owned ? s : copyState(s));
        pred.set(to, step ? { from, step } : { from });
      } else if (!joinInto(cur, s)) {
        return;
      }
      if (!queued.has(to)) {
        queued.add(to);
        work.push(to);
      }
    };

    while (work.length > 0) {
      const pc = work.pop() as number;
      queued.delete(pc);
      const insn = code[pc];
      const inState = states.get(pc);
      if (!insn || !inState) continue;
      const at: Loc = { sec: fn.sec, idx: pc };
      reached.add(locKey(at));
      const cls = insnClass(insn);

      if (isPoison(insn)) {
        const k = locKey(at);
        if (!poisons.has(k))
          poisons.set(k, { at, conditions: conditionsTo(pc, pred, fn.sec), callChain: chain });
        continue; // the verifier stops here
      }
      const op = insnOp(insn);
      // Jumps and exits do not change the state: read it in place (flow copies it on).
      const isJump = (cls === BPF_JMP || cls === BPF_JMP32) && !(op === JMP_CALL && cls === BPF_JMP);
      const s = isJump ? inState : copyState(inState);

      if (cls === BPF_LD) {
        if (isLdImm64(insn)) {
          const next = code[pc + 1];
          s.regs[insn.dst] = ldImm64Value(image, at, insn, next, chain, analyzeFunc);
          flow(pc, pc + 2, s, undefined, true);
        }
        // Legacy packet loads (ABS/IND) clobber r0 and the caller-saved registers.
        else {
          for (let r = 0; r <= 5; r++) s.regs[r] = UNKNOWN;
          flow(pc, pc + 1, s, undefined, true);
        }
        continue;
      }
      if (cls === BPF_ALU || cls === BPF_ALU64) {
        s.regs[insn.dst] = aluValue(insn, s);
        flow(pc, pc + 1, s, undefined, true);
        continue;
      }
      if (cls === BPF_LDX) {
        s.regs[insn.dst] = loadValue(image, insn, s);
        flow(pc, pc + 1, s, undefined, true);
        continue;
      }
      if (cls === BPF_STX || cls === BPF_ST) {
        store(insn, s);
        flow(pc, pc + 1, s, undefined, true);
        continue;
      }
      // JMP / JMP32
      if (op === JMP_EXIT && cls === BPF_JMP) {
        const r0 = s.regs[0] ?? UNKNOWN;
        ret = ret === undefined ? r0 : joinVal(ret, r0);
        continue;
      }
      if (op === JMP_CALL && cls === BPF_JMP) {
        const escapes = [1, 2, 3, 4, 5].some((r) => s.regs[r]?.k === 'fp');
        let r0: Val = UNKNOWN;
        if (insn.src === PSEUDO_CALL) {
          const target = image.callTarget(at, insn);
          if (target) {
            const global = image.isGlobalFunc(target);
            const callArgs = global ? [] : [1, 2, 3, 4, 5].map((r) => calleeArg(s.regs[r] ?? UNKNOWN));
            const res = analyzeFunc(target, callArgs, [...chain, at]);
            // The verifier knows a static callee's return value; a global one's it does not.
            r0 = global ? UNKNOWN : res.ret;
          }
        }
        for (let r = 1; r <= 5; r++) s.regs[r] = UNKNOWN;
        s.regs[0] = r0;
        // A callee (helper or subprogram) may write through a stack pointer it was given.
        if (escapes) s.stack.clear();
        flow(pc, pc + 1, s, undefined, true);
        continue;
      }
      if (op === JMP_JA) {
        // JMP32|JA is `gotol`: the 32-bit offset sits in imm.
        const delta = cls === BPF_JMP32 ? insn.imm : insn.off;
        flow(pc, pc + 1 + delta, s);
        continue;
      }
      const decision = branchDecision(insn, s);
      const step = (taken: boolean): PathStep | undefined =>
        decision === undefined ? { at, insn, taken } : undefined;
      if (decision !== false) flow(pc, pc + 1 + insn.off, s, step(true));
      if (decision !== true) flow(pc, pc + 1, s, step(false));
    }
    return { ret: ret ?? UNKNOWN };
  };

  analyzeFunc(entry, [], []);
  return { reached, poisons: [...poisons.values()] };
}

/** Stack pointers do not cross into a callee's frame analysis; constants do. */
const calleeArg = (v: Val): Val => (v.k === 'const' || v.k === 'ro' ? v : UNKNOWN);

/** The unfolded conditional jumps on the first path found from the function entry to `pc`. */
function conditionsTo(
  pc: number,
  pred: Map<number, { from: number; step?: PathStep }>,
  sec: number,
): PathStep[] {
  const steps: PathStep[] = [];
  let cur = pc;
  const seen = new Set<number>();
  for (;;) {
    const p = pred.get(cur);
    if (!p || seen.has(cur)) break;
    seen.add(cur);
    if (p.step && p.step.at.sec === sec) steps.push(p.step);
    cur = p.from;
  }
  return steps.reverse();
}

function ldImm64Value(
  image: CodeImage,
  at: Loc,
  insn: Insn,
  next: Insn | undefined,
  chain: Loc[],
  analyzeFunc: (fn: Loc, args: Val[], chain: Loc[]) => FuncResult,
): Val {
  const ref = image.dataRef(at);
  if (ref) {
    if (ref.kind === 'rodata') return { k: 'ro', blob: ref.blob, off: ref.off };
    // A callback (bpf_loop, timers, for_each_map_elem): the verifier checks it as called
    // from the helper, with arguments it does not know.
    if (ref.kind === 'func') analyzeFunc(ref.target, [], [...chain, at]);
    return UNKNOWN;
  }
  // Pseudo loads (map fds, BTF ids, functions) are pointers or ids, not known scalars.
  if (insn.src !== 0) return UNKNOWN;
  const lo = BigInt(insn.imm >>> 0);
  const hi = BigInt((next?.imm ?? 0) >>> 0);
  return konst((hi << 32n) | lo);
}

/** The register value after an ALU instruction; unknown for what the verifier does not fold. */
function aluValue(insn: Insn, s: State): Val {
  const is64 = insnClass(insn) === BPF_ALU64;
  const op = insnOp(insn);
  const dst = s.regs[insn.dst] ?? UNKNOWN;
  const srcVal: Val = (insn.code & 0x08) === BPF_K ? konst(BigInt(insn.imm)) : (s.regs[insn.src] ?? UNKNOWN);
  if (op === ALU_MOV) {
    // MOVSX (off 8/16/32) sign-extends; plain MOV copies (and truncates for ALU32).
    if (insn.off !== 0) {
      if (srcVal.k !== 'const' || (insn.code & 0x08) === BPF_K) return UNKNOWN;
      const ext = BigInt.asIntN(insn.off, srcVal.v);
      return konst(is64 ? ext : ext & MASK32);
    }
    if (is64) return srcVal;
    return srcVal.k === 'const' ? konst(srcVal.v & MASK32) : UNKNOWN;
  }
  // Pointer arithmetic: the stack pointer and read-only data pointers move by constants.
  if (is64 && (op === ALU_ADD || op === ALU_SUB) && srcVal.k === 'const') {
    const delta = Number(toSigned64(srcVal.v)) * (op === ALU_SUB ? -1 : 1);
    if (dst.k === 'fp') return { k: 'fp', off: dst.off + delta };
    if (dst.k === 'ro') return { k: 'ro', blob: dst.blob, off: dst.off + delta };
  }
  if (dst.k !== 'const' || srcVal.k !== 'const') return UNKNOWN;
  const width = is64 ? 64n : 32n;
  const mask = is64 ? MASK64 : MASK32;
  const a = dst.v & mask;
  const b = is64 ? srcVal.v & MASK64 : srcVal.v & MASK32;
  let r: bigint;
  switch (op) {
    case ALU_ADD:
      r = a + b;
      break;
    case ALU_SUB:
      r = a - b;
      break;
    case ALU_MUL:
      r = a * b;
      break;
    case ALU_OR:
      r = a | b;
      break;
    case ALU_AND:
      r = a & b;
      break;
    case ALU_XOR:
      r = a ^ b;
      break;
    case ALU_LSH:
      if (b >= width) return UNKNOWN;
      r = a << b;
      break;
    case ALU_RSH:
      if (b >= width) return UNKNOWN;
      r = a >> b;
      break;
    case ALU_ARSH:
      if (b >= width) return UNKNOWN;
      r = (is64 ? toSigned64(a) : toSigned32(a)) >> b;
      break;
    default:
      // DIV, MOD, NEG and END: the verifiers of the kernels we target give up on them.
      return UNKNOWN;
  }
  return konst(r & mask);
}

function loadValue(image: CodeImage, insn: Insn, s: State): Val {
  const mode = insn.code & 0xe0;
  if (mode !== BPF_MEM && mode !== BPF_MEMSX) return UNKNOWN;
  const base = s.regs[insn.src] ?? UNKNOWN;
  const size = accessSize(insn.code);
  if (base.k === 'fp') {
    // Only whole 8-byte spills are tracked (every kernel's verifier restores those exactly).
    if (size !== 8) return UNKNOWN;
    return s.stack.get(base.off + insn.off) ?? UNKNOWN;
  }
  if (base.k === 'ro') {
    const blob = image.blob(base.blob);
    const at = base.off + insn.off;
    if (!blob || at < 0 || at + size > blob.bytes.length) return UNKNOWN;
    const view = new DataView(blob.bytes.buffer, blob.bytes.byteOffset + at, size);
    let v: bigint;
    if (size === 1) v = BigInt(view.getUint8(0));
    else if (size === 2) v = BigInt(view.getUint16(0, blob.littleEndian));
    else if (size === 4) v = BigInt(view.getUint32(0, blob.littleEndian));
    else v = view.getBigUint64(0, blob.littleEndian);
    if (mode === BPF_MEMSX) v = BigInt.asIntN(size * 8, v);
    return konst(v);
  }
  return UNKNOWN;
}

function store(insn: Insn, s: State): void {
  const base = s.regs[insn.dst] ?? UNKNOWN;
  const mode = insn.code & 0xe0;
  if (insnClass(insn) === BPF_STX && mode === BPF_ATOMIC) {
    // Fetching atomics write the old value into src (r0 for cmpxchg).
    s.regs[insn.src] = UNKNOWN;
    s.regs[0] = UNKNOWN;
  }
  if (base.k !== 'fp') return;
  const size = accessSize(insn.code);
  const at = base.off + insn.off;
  // Forget every slot this store overlaps, then remember a whole 8-byte register spill.
  for (const slot of [...s.stack.keys()]) {
    if (slot < at + size && at < slot + 8) s.stack.delete(slot);
  }
  if (insnClass(insn) === BPF_STX && mode === BPF_MEM && size === 8) {
    s.stack.set(at, s.regs[insn.src] ?? UNKNOWN);
  }
}

/** true: always taken, false: never taken, undefined: the verifier must follow both ways. */
function branchDecision(insn: Insn, s: State): boolean | undefined {
  const is32 = insnClass(insn) === BPF_JMP32;
  const a = s.regs[insn.dst] ?? UNKNOWN;
  const b: Val = (insn.code & 0x08) === BPF_K ? konst(BigInt(insn.imm)) : (s.regs[insn.src] ?? UNKNOWN);
  if (a.k !== 'const' || b.k !== 'const') return undefined;
  const mask = is32 ? MASK32 : MASK64;
  const ua = a.v & mask;
  const ub = b.v & mask;
  const sa = is32 ? toSigned32(ua) : toSigned64(ua);
  const sb = is32 ? toSigned32(ub) : toSigned64(ub);
  switch (insnOp(insn)) {
    case JMP_JEQ:
      return ua === ub;
    case JMP_JNE:
      return ua !== ub;
    case JMP_JGT:
      return ua > ub;
    case JMP_JGE:
      return ua >= ub;
    case JMP_JLT:
      return ua < ub;
    case JMP_JLE:
      return ua <= ub;
    case JMP_JSET:
      return (ua & ub) !== 0n;
    case JMP_JSGT:
      return sa > sb;
    case JMP_JSGE:
      return sa >= sb;
    case JMP_JSLT:
      return sa < sb;
    case JMP_JSLE:
      return sa <= sb;
    default:
      return undefined;
  }
}
