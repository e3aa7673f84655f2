import {
  ALU_ADD,
  ALU_AND,
  ALU_ARSH,
  ALU_END,
  ALU_LSH,
  ALU_MOV,
  ALU_MUL,
  ALU_NEG,
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
  Pseudo,
} from '../insn/index.ts';
import { liveRegisters } from './liveness.ts';
import type { VerifierProfile } from './profile.ts';
import {
  type AluOp,
  alu,
  branchTaken,
  byteSwap,
  type CmpOp,
  constScalar,
  immScalar,
  isConst,
  low32,
  narrow,
  negate,
  type Scalar,
  signExtend,
  truncate,
  UNKNOWN_SCALAR,
  zeroExtended,
} from './scalar.ts';
import { copyState, type Frame, type State, stateWithin, top, UNKNOWN, type Val } from './values.ts';

/** An instruction address in the object: ELF section index and instruction index in it. */
export interface Loc {
  sec: number;
  idx: number;
}

/** What an LD_IMM64 with an ELF relocation loads, as far as the analysis cares. */
export type DataRef =
  | { kind: 'rodata'; blob: number; off: number }
  | { kind: 'kconfig'; name: string; off: number }
  | { kind: 'func'; target: Loc }
  | { kind: 'other' };

/**
 * The relocated code of one object, as libbpf hands it to the kernel: instructions per code
 * section (CO-RE patches and poison applied), plus the facts the ELF relocations give.
 */
export interface CodeImage {
  littleEndian: boolean;
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

/** What the walk knows of the target kernel beyond the relocated code. */
export interface ReachEnv {
  profile: VerifierProfile;
  /** A `.kconfig` extern's bytes in libbpf's map on that kernel, or why they are not known. */
  kconfig(name: string): { bytes: Uint8Array } | { unknown: string };
  /** Global subprograms the program calls somewhere (verified eagerly before 6.8). */
  globals: readonly Loc[];
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
  poisons: ReachedPoison[];
  /** The walk hit its step budget: what it did not walk is assumed reachable. */
  exhausted: boolean;
  /** Values the walk read without knowing them on this kernel (kconfig externs). */
  depends: Set<string>;
  /**
   * Conditional jumps the verifier always decides the same way (only one edge ever followed):
   * `taken` is that edge. The guards of poisoned instructions it never reaches are among them.
   */
  folded: PathStep[];
}

export const locKey = (l: Loc): string => `${l.sec}:${l.idx}`;

/**
 * An instruction address as one number, for the walk's own maps: a string key per step was
 * much of its cost (sections are ELF section indexes, far below 2^20; instructions below 2^32).
 */
const insnKey = (sec: number, idx: number): number => sec * 0x1_0000_0000 + idx;

/** The kernel's MAX_CALL_FRAMES. */
const MAX_CALL_DEPTH = 8;
/**
 * Instructions walked per program, over every path (the verifier's own limit is 1M; compat
 * stops earlier, and then treats what it did not rule out as reachable).
 */
export const MAX_STEPS = 200_000;
/** States remembered per instruction for pruning. */
const MAX_STATES_PER_INSN = 32;

const LIVENESS = new WeakMap<readonly Insn[], Uint16Array>();

/** A path through the program as a persistent list (paths share their prefixes). */
interface PathNode {
  step: PathStep;
  prev: PathNode | undefined;
}

/** One state waiting to be walked: where, with what, and how the walk got there. */
interface Pending {
  sec: number;
  pc: number;
  state: State;
  path: PathNode | undefined;
  /** Call sites of the frames above the first, outermost first. */
  chain: Loc[];
}

const CMP: Record<number, CmpOp> = {
  16: 'eq',
  32: 'gt',
  48: 'ge',
  64: 'set',
  80: 'ne',
  96: 'sgt',
  112: 'sge',
  160: 'lt',
  176: 'le',
  192: 'slt',
  208: 'sle',
};

const ALU: Record<number, AluOp> = {
  [ALU_ADD]: 'add',
  [ALU_SUB]: 'sub',
  [ALU_MUL]: 'mul',
  [ALU_OR]: 'or',
  [ALU_AND]: 'and',
  [ALU_LSH]: 'lsh',
  [ALU_RSH]: 'rsh',
  [ALU_ARSH]: 'arsh',
  [ALU_XOR]: 'xor',
};

/**
 * Walks a program as the verifier does: from its entry, path by path with the values the
 * verifier tracks (scalar bounds and known bits, spilled stack slots, frozen maps), following
 * only the branch edges those values allow and narrowing the compared register on each edge;
 * into static subprograms with the caller's registers (their frames see the caller's stack
 * through pointers); global subprograms on their own with unknown arguments (eagerly before
 * 6.8). Bounded loops run with exact values, as the verifier runs them; a state within one
 * already walked at the same instruction is pruned, as the verifier prunes it.
 */
export function reachProgram(image: CodeImage, entry: Loc, env: ReachEnv): ReachResult {
  const poisons = new Map<number, ReachedPoison>();
  const seen = new Map<number, State[]>();
  const depends = new Set<string>();
  const edgesSeen = new Map<number, { at: Loc; insn: Insn; mask: number }>();
  /** Liveness per code section of this image (one WeakMap look-up per section, not per state). */
  const liveBySec = new Map<number, Uint16Array | undefined>();
  const rootsDone = new Set<string>();
  const profile = env.profile;
  let steps = 0;
  let exhausted = false;

  const pending: Pending[] = [];
  const addRoot = (fn: Loc, chain: Loc[]) => {
    const key = locKey(fn);
    if (rootsDone.has(key)) return;
    rootsDone.add(key);
    const regs: Val[] = new Array(11).fill(UNKNOWN);
    regs[10] = { k: 'fp', frame: 0, off: 0 };
    const frame: Frame = { regs, stack: new Map(), entry: key };
    pending.push({ sec: fn.sec, pc: fn.idx, state: { frames: [frame] }, path: undefined, chain });
  };

  const pathOf = (p: PathNode | undefined): PathStep[] => {
    const out: PathStep[] = [];
    for (let n = p; n; n = n.prev) out.push(n.step);
    return out.reverse();
  };

  const walk = (start: Pending) => {
    let { sec, pc, state: s, path, chain } = start;
    // The section's code, looked up again only when a call or return changes the section.
    let codeSec = sec;
    let code = image.insns(sec);
    for (;;) {
      if (++steps > MAX_STEPS) {
        exhausted = true;
        return;
      }
      if (sec !== codeSec) {
        codeSec = sec;
        code = image.insns(sec);
      }
      const insn = code?.[pc];
      if (!code || !insn) return;
      if (isPoison(insn)) {
        const key = insnKey(sec, pc);
        if (!poisons.has(key))
          poisons.set(key, { at: { sec, idx: pc }, conditions: pathOf(path), callChain: chain });
        return; // the verifier stops here
      }
      const cls = insnClass(insn);
      const op = insnOp(insn);
      const f = top(s);

      if (cls === BPF_LD) {
        if (isLdImm64(insn)) {
          f.regs[insn.dst] = ldImm64Value(image, { sec, idx: pc }, insn, code[pc + 1], chain, addRoot);
          pc += 2;
        } else {
          // Legacy packet loads (ABS/IND) clobber r0 and the caller-saved registers.
          for (let r = 0; r <= 5; r++) f.regs[r] = UNKNOWN;
          pc += 1;
        }
        continue;
      }
      if (cls === BPF_ALU || cls === BPF_ALU64) {
        f.regs[insn.dst] = aluValue(insn, f, profile, image.littleEndian);
        pc += 1;
        continue;
      }
      if (cls === BPF_LDX) {
        f.regs[insn.dst] = loadValue(image, insn, s, profile, env, depends);
        pc += 1;
        continue;
      }
      if (cls === BPF_STX || cls === BPF_ST) {
        store(insn, s, profile);
        pc += 1;
        continue;
      }
      // JMP / JMP32
      if (op === JMP_EXIT && cls === BPF_JMP) {
        if (s.frames.length === 1) return;
        const callee = s.frames.pop() as Frame;
        const caller = top(s);
        caller.regs[0] = callee.regs[0] ?? UNKNOWN;
        for (let r = 1; r <= 5; r++) caller.regs[r] = UNKNOWN;
        // Pointers into the callee's frame are gone with it.
        const depth = s.frames.length;
        for (let r = 0; r <= 9; r++) {
          const v = caller.regs[r] as Val;
          if (v.k === 'fp' && v.frame >= depth) caller.regs[r] = UNKNOWN;
        }
        chain = chain.slice(0, -1);
        sec = callee.ret?.sec ?? sec;
        pc = callee.ret?.idx ?? pc;
        continue;
      }
      if (op === JMP_CALL && cls === BPF_JMP) {
        if (insn.src === Pseudo.CALL) {
          const at: Loc = { sec, idx: pc };
          const target = image.callTarget(at, insn);
          if (target && !image.isGlobalFunc(target) && s.frames.length < MAX_CALL_DEPTH) {
            if (s.frames.some((fr) => fr.entry === locKey(target))) {
              // Recursion: the verifier refuses it; treat the call as opaque.
            } else {
              const regs: Val[] = new Array(11).fill(UNKNOWN);
              for (let r = 1; r <= 5; r++) regs[r] = f.regs[r] ?? UNKNOWN;
              regs[10] = { k: 'fp', frame: s.frames.length, off: 0 };
              const frame: Frame = {
                regs,
                stack: new Map(),
                ret: { sec, idx: pc + 1 },
                entry: locKey(target),
              };
              s.frames.push(frame);
              chain = [...chain, at];
              sec = target.sec;
              pc = target.idx;
              continue;
            }
          }
          if (target && image.isGlobalFunc(target)) addRoot(target, [...chain, at]);
        }
        // A helper, kfunc or global subprogram: r0 comes back unknown, r1–r5 are gone, and
        // what it may write through a stack pointer it was given is unknown.
        for (let r = 1; r <= 5; r++) {
          const v = f.regs[r] as Val;
          if (v.k === 'fp') s.frames[v.frame]?.stack.clear();
        }
        const global = insn.src === Pseudo.CALL;
        for (let r = 1; r <= 5; r++) f.regs[r] = UNKNOWN;
        f.regs[0] = global ? UNKNOWN_SCALAR : UNKNOWN;
        pc += 1;
        continue;
      }
      if (op === JMP_JA) {
        // JMP32|JA is `gotol`: the 32-bit offset sits in imm.
        pc += 1 + (cls === BPF_JMP32 ? insn.imm : insn.off);
        if (pruned(sec, pc, s)) return;
        continue;
      }
      // A conditional jump: decide it, or follow both edges with the register narrowed.
      const edges = branchEdges(insn, f, profile);
      const nextPc = pc + 1;
      const targetPc = pc + 1 + insn.off;
      const undecided = edges.taken !== undefined && edges.fall !== undefined;
      const key = insnKey(sec, pc);
      const seenEdges = edgesSeen.get(key);
      const mask = (edges.taken ? 1 : 0) | (edges.fall ? 2 : 0);
      const at: Loc = seenEdges?.at ?? { sec, idx: pc };
      if (!seenEdges) edgesSeen.set(key, { at, insn, mask });
      else seenEdges.mask |= mask;
      if (edges.taken) {
        const t = undecided ? copyState(s) : s;
        top(t).regs = edges.taken;
        const p = undecided ? { step: { at, insn, taken: true }, prev: path } : path;
        if (undecided) {
          if (!pruned(sec, targetPc, t)) pending.push({ sec, pc: targetPc, state: t, path: p, chain });
        } else {
          pc = targetPc;
          if (pruned(sec, pc, s)) return;
          continue;
        }
      }
      if (edges.fall) {
        f.regs = edges.fall;
        if (undecided) path = { step: { at, insn, taken: false }, prev: path };
        // Pruning is checked at jump targets, which every loop passes through.
        pc = nextPc;
        continue;
      }
      return;
    }
  };

  const liveAt = (sec: number, pc: number): number => {
    let live = liveBySec.get(sec);
    if (live === undefined && !liveBySec.has(sec)) {
      const code = image.insns(sec);
      // Per code array: every walk over the same relocated code shares it.
      live = code && LIVENESS.get(code);
      if (code && !live) {
        live = liveRegisters(code);
        LIVENESS.set(code, live);
      }
      liveBySec.set(sec, live);
    }
    return live?.[pc] ?? 0x3ff;
  };

  /** Whether `s` at `sec:pc` is within a state walked there before; if not, remembers it. */
  const pruned = (sec: number, pc: number, s: State): boolean => {
    const key = insnKey(sec, pc);
    const list = seen.get(key);
    // Stored states have their dead registers forgotten already, so comparing the live state
    // against them needs no copy: a dead register is `unknown` there, which holds anything.
    if (list) for (const old of list) if (stateWithin(s, old)) return true;
    if (list && list.length >= MAX_STATES_PER_INSN) return false;
    // Registers no one reads again do not tell states apart (the verifier's liveness).
    const norm = copyState(s);
    for (let i = 0; i < norm.frames.length; i++) {
      const fr = norm.frames[i] as Frame;
      const next = norm.frames[i + 1];
      const live = next?.ret ? liveAt(next.ret.sec, next.ret.idx) : liveAt(sec, pc);
      for (let r = 0; r <= 9; r++) if ((live & (1 << r)) === 0) fr.regs[r] = UNKNOWN;
    }
    if (!list) seen.set(key, [norm]);
    else list.push(norm);
    return false;
  };

  const drain = () => {
    while (pending.length > 0 && !exhausted) walk(pending.pop() as Pending);
  };
  addRoot(entry, []);
  drain();
  // Before 6.8 the verifier checks every global subprogram of the program, called or not.
  if (profile.eagerGlobals) for (const g of env.globals) addRoot(g, []);
  drain();
  const folded = [...edgesSeen.values()]
    .filter((e) => e.mask === 1 || e.mask === 2)
    .map((e) => ({ at: e.at, insn: e.insn, taken: e.mask === 1 }));
  return { poisons: [...poisons.values()], exhausted, depends, folded };
}

function ldImm64Value(
  image: CodeImage,
  at: Loc,
  insn: Insn,
  next: Insn | undefined,
  chain: Loc[],
  addRoot: (fn: Loc, chain: Loc[]) => void,
): Val {
  const ref = image.dataRef(at);
  if (ref) {
    if (ref.kind === 'rodata') return { k: 'ro', blob: ref.blob, off: ref.off };
    if (ref.kind === 'kconfig') return { k: 'kcfg', name: ref.name, off: ref.off };
    // A callback (bpf_loop, timers, for_each_map_elem): the verifier checks it as called
    // from the helper, with arguments it does not know.
    if (ref.kind === 'func') addRoot(ref.target, [...chain, at]);
    return UNKNOWN;
  }
  // Pseudo loads (map fds, BTF ids, functions) are pointers or ids, not known scalars.
  if (insn.src !== 0) return UNKNOWN;
  const lo = BigInt(insn.imm >>> 0);
  const hi = BigInt((next?.imm ?? 0) >>> 0);
  return constScalar((hi << 32n) | lo);
}

const asScalar = (v: Val | undefined): Scalar | undefined => (v?.k === 'scalar' ? v : undefined);

/** The register value after an ALU instruction, as the target kernel's verifier tracks it. */
function aluValue(insn: Insn, f: Frame, profile: VerifierProfile, littleEndian: boolean): Val {
  const is64 = insnClass(insn) === BPF_ALU64;
  const bits = is64 ? 64 : 32;
  const op = insnOp(insn);
  const dst = f.regs[insn.dst] ?? UNKNOWN;
  const srcVal: Val = (insn.code & 0x08) === BPF_K ? immScalar(insn.imm) : (f.regs[insn.src] ?? UNKNOWN);
  if (op === ALU_MOV) {
    // MOVSX (off 8/16/32) sign-extends; plain MOV copies (and truncates for ALU32).
    if (insn.off !== 0) {
      const v = asScalar(srcVal);
      if (!v || (insn.code & 0x08) === BPF_K) return UNKNOWN_SCALAR;
      const ext = signExtend(v, insn.off);
      return is64 ? ext : low32(ext);
    }
    if (is64) return srcVal;
    // A 32-bit move zero-extends (and turns a pointer into an unknown scalar).
    const v = asScalar(srcVal);
    return low32(v ?? UNKNOWN_SCALAR);
  }
  if (op === ALU_NEG) {
    const v = asScalar(dst);
    return v && profile.foldNegEnd ? negate(v, bits) : UNKNOWN_SCALAR;
  }
  if (op === ALU_END) {
    const v = asScalar(dst);
    if (!v || !profile.foldNegEnd) return UNKNOWN_SCALAR;
    // imm is the width; BPF_ALU|END|TO_BE (0x08) swaps on little-endian hosts, TO_LE on big;
    // BPF_ALU64|END is an unconditional swap (v4 bswap).
    const toBe = (insn.code & 0x08) !== 0;
    const swap = is64 ? true : toBe === littleEndian;
    return byteSwap(v, insn.imm, swap);
  }
  // Pointer arithmetic: the stack pointer and read-only data pointers move by constants.
  const k = asScalar(srcVal);
  if (is64 && (op === ALU_ADD || op === ALU_SUB) && k && isConst(k)) {
    const delta = Number(BigInt.asIntN(64, k.tv)) * (op === ALU_SUB ? -1 : 1);
    if (dst.k === 'fp') return { k: 'fp', frame: dst.frame, off: dst.off + delta };
    if (dst.k === 'ro') return { k: 'ro', blob: dst.blob, off: dst.off + delta };
    if (dst.k === 'kcfg') return { k: 'kcfg', name: dst.name, off: dst.off + delta };
  }
  const aluOp = ALU[op];
  const a = asScalar(dst);
  // DIV and MOD: the verifiers compat targets give an unknown scalar.
  if (!aluOp) return UNKNOWN_SCALAR;
  // Anything on a value that may be a pointer, or with one: nothing known (and ADD/SUB of a
  // pointer stays a pointer, which `unknown` also covers).
  if (!a || !k) return aluOp === 'add' || aluOp === 'sub' || !a ? UNKNOWN : UNKNOWN_SCALAR;
  return alu(aluOp, a, k, bits);
}

function loadValue(
  image: CodeImage,
  insn: Insn,
  s: State,
  profile: VerifierProfile,
  env: ReachEnv,
  depends: Set<string>,
): Val {
  const mode = insn.code & 0xe0;
  const size = accessSize(insn.code);
  const signed = mode === BPF_MEMSX;
  // A narrow load zero-extends (or, MEMSX, sign-extends): the verifier bounds the result.
  const coerced = (v: Scalar): Val =>
    size >= 8 ? v : signed ? signExtend(truncate(v, size), size * 8) : truncate(v, size);
  const anyOfSize = (): Val =>
    size >= 8 ? UNKNOWN : signed ? signExtend(UNKNOWN_SCALAR, size * 8) : zeroExtended(size * 8);
  if (mode !== BPF_MEM && mode !== BPF_MEMSX) return anyOfSize();
  const base = top(s).regs[insn.src] ?? UNKNOWN;
  if (base.k === 'fp') {
    const frame = s.frames[base.frame];
    const at = base.off + insn.off;
    const slot = frame?.stack.get(at);
    if (slot && slot.size === size) {
      return slot.v.k === 'scalar' ? coerced(slot.v) : size === 8 ? slot.v : anyOfSize();
    }
    // A narrower fill of an 8-byte spilled scalar: its low bytes (6.8+), which sit at the
    // slot's start on little-endian and at its end on big-endian.
    const base8 = at - (((at % 8) + 8) % 8);
    const spill = frame?.stack.get(base8);
    if (profile.narrowFill && spill && spill.size === 8 && spill.v.k === 'scalar' && size < 8) {
      const lowAt = image.littleEndian ? base8 : base8 + 8 - size;
      if (at === lowAt) return coerced(spill.v);
    }
    return size >= 8 ? UNKNOWN_SCALAR : anyOfSize();
  }
  if (base.k === 'ro' || base.k === 'kcfg') {
    let bytes: Uint8Array | undefined;
    let littleEndian = image.littleEndian;
    if (base.k === 'ro') {
      const blob = image.blob(base.blob);
      bytes = blob?.bytes;
      littleEndian = blob?.littleEndian ?? littleEndian;
    } else {
      const v = env.kconfig(base.name);
      if ('unknown' in v) {
        depends.add(v.unknown);
        return anyOfSize();
      }
      bytes = v.bytes;
    }
    const at = base.off + insn.off;
    if (!bytes || at < 0 || at + size > bytes.length) return anyOfSize();
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, size);
    let v: bigint;
    if (size === 1) v = BigInt(view.getUint8(0));
    else if (size === 2) v = BigInt(view.getUint16(0, littleEndian));
    else if (size === 4) v = BigInt(view.getUint32(0, littleEndian));
    else v = view.getBigUint64(0, littleEndian);
    if (signed) v = BigInt.asIntN(size * 8, v);
    return constScalar(v);
  }
  return anyOfSize();
}

function store(insn: Insn, s: State, profile: VerifierProfile): void {
  const f = top(s);
  const base = f.regs[insn.dst] ?? UNKNOWN;
  const mode = insn.code & 0xe0;
  const isStx = insnClass(insn) === BPF_STX;
  if (isStx && mode === BPF_ATOMIC) {
    // Fetching atomics write the old value into src (r0 for cmpxchg).
    f.regs[insn.src] = UNKNOWN;
    f.regs[0] = UNKNOWN;
  }
  if (base.k !== 'fp') return;
  const frame = s.frames[base.frame];
  if (!frame) return;
  const size = accessSize(insn.code);
  const at = base.off + insn.off;
  // The verifier keeps spills per 8-byte slot: any write into a slot ends what it held.
  const first = Math.floor(at / 8);
  const last = Math.floor((at + size - 1) / 8);
  // (Deleting the entry being visited is safe in a Map's iteration.)
  for (const off of frame.stack.keys()) {
    const slot = Math.floor(off / 8);
    if (slot >= first && slot <= last) frame.stack.delete(off);
  }
  if (mode !== BPF_MEM) return;
  const aligned = at % 8 === 0;
  let v: Val | undefined;
  if (isStx) v = f.regs[insn.src] ?? UNKNOWN;
  else if (profile.storeImm) v = immScalar(insn.imm);
  if (!v) return;
  if (size === 8) {
    if (aligned) frame.stack.set(at, { v, size });
    return;
  }
  // 1/2/4-byte spills of a scalar at a slot's start (5.16+).
  if (profile.narrowSpill && aligned && v.k === 'scalar') frame.stack.set(at, { v: truncate(v, size), size });
}

/**
 * The registers on each edge of a conditional jump: undefined for an edge the verifier does
 * not take, the compared register narrowed on the edges it does.
 */
function branchEdges(insn: Insn, f: Frame, profile: VerifierProfile): { taken?: Val[]; fall?: Val[] } {
  const op = CMP[insnOp(insn)];
  const bits = insnClass(insn) === BPF_JMP32 ? 32 : 64;
  const both = () => ({ taken: f.regs.slice(), fall: f.regs.slice() });
  if (!op) return both();
  const srcK = (insn.code & 0x08) === BPF_K;
  const a = asScalar(f.regs[insn.dst]);
  const b = srcK ? immScalar(insn.imm) : asScalar(f.regs[insn.src]);
  if (!a || !b) return both();
  // Against a constant on either side (the verifier swaps the operands for the latter).
  let reg: number;
  let val: Scalar;
  let k: bigint;
  let cmp = op;
  if (isConst(b)) {
    reg = insn.dst;
    val = a;
    k = b.tv;
  } else if (isConst(a) && !srcK) {
    reg = insn.src;
    val = b;
    k = a.tv;
    cmp = SWAPPED[op];
  } else return both();
  // Kernels before 6.7 decide a branch only against a constant source: never when swapped.
  const decided = reg === insn.dst ? branchTaken(cmp, val, k, bits) : undefined;
  const edge = (holds: boolean): Val[] | undefined => {
    // Decided: the one edge followed keeps the frame's own registers (nothing to copy).
    if (decided !== undefined) return decided === holds ? f.regs : undefined;
    const withReg = (r: number, v: Scalar | undefined): Val[] => {
      const out = f.regs.slice();
      // Narrowing that contradicts itself: follow the edge unnarrowed rather than call it
      // impossible (older verifiers do not prune on that).
      if (v) out[r] = v;
      return out;
    };
    if (cmp === 'ne' && !holds) return withReg(reg, narrow('eq', val, k, bits, true));
    if (cmp === 'eq' && holds) return withReg(reg, narrow('eq', val, k, bits, true));
    if ((cmp === 'ne' || cmp === 'eq') && !profile.neNarrowsEnds) return f.regs.slice();
    return withReg(reg, narrow(cmp, val, k, bits, holds));
  };
  return { taken: edge(true), fall: edge(false) };
}

const SWAPPED: Record<CmpOp, CmpOp> = {
  eq: 'eq',
  ne: 'ne',
  set: 'set',
  gt: 'lt',
  ge: 'le',
  lt: 'gt',
  le: 'ge',
  sgt: 'slt',
  sge: 'sle',
  slt: 'sgt',
  sle: 'sge',
};
