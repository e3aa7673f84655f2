/**
 * The verifier's knowledge of a scalar register, as `struct bpf_reg_state` keeps it: a tnum
 * (bits known to be 0 or 1, the rest unknown), unsigned and signed 64-bit bounds, and unsigned
 * and signed bounds of the low 32-bit sub-register. All fields are bigints; every view is kept
 * consistent by `sync` (the verifier's reg_bounds_sync), so a constant is the case where the
 * tnum has no unknown bits.
 *
 * The operations below are never more precise than the verifier of the kernels compat targets:
 * where a kernel version gives up (an operand that is not a constant, a division) they give an
 * unknown scalar, so a branch this module decides is one the verifier decides too.
 */
export interface Scalar {
  readonly k: 'scalar';
  /** tnum: known bits' values, and the mask of unknown bits. */
  readonly tv: bigint;
  readonly tm: bigint;
  readonly umin: bigint;
  readonly umax: bigint;
  readonly smin: bigint;
  readonly smax: bigint;
  readonly u32min: bigint;
  readonly u32max: bigint;
  readonly s32min: bigint;
  readonly s32max: bigint;
}

export const MASK64 = (1n << 64n) - 1n;
export const MASK32 = (1n << 32n) - 1n;
const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;
const S32_MIN = -(1n << 31n);
const S32_MAX = (1n << 31n) - 1n;

export const toSigned64 = (v: bigint): bigint => BigInt.asIntN(64, v);
export const toSigned32 = (v: bigint): bigint => BigInt.asIntN(32, v);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

type Mutable = { -readonly [K in keyof Scalar]: Scalar[K] };

export const UNKNOWN_SCALAR: Scalar = Object.freeze({
  k: 'scalar',
  tv: 0n,
  tm: MASK64,
  umin: 0n,
  umax: MASK64,
  smin: S64_MIN,
  smax: S64_MAX,
  u32min: 0n,
  u32max: MASK32,
  s32min: S32_MIN,
  s32max: S32_MAX,
});

export function constScalar(v: bigint): Scalar {
  const u = v & MASK64;
  // Programs use few distinct constants, over and over: share their (frozen) scalars.
  const hit = CONSTANTS.get(u);
  if (hit) return hit;
  const made = Object.freeze(makeConst(u));
  if (CONSTANTS.size >= MAX_SHARED_CONSTANTS) CONSTANTS.clear();
  CONSTANTS.set(u, made);
  return made;
}

const CONSTANTS = new Map<bigint, Scalar>();

/**
 * The constant of an instruction's 32-bit immediate, sign-extended to 64 bits as the ISA
 * does: looked up by the number itself, without making a BigInt on every ALU or jump step.
 */
export function immScalar(imm: number): Scalar {
  let hit = IMMEDIATES.get(imm);
  if (!hit) {
    hit = constScalar(BigInt(imm));
    if (IMMEDIATES.size >= MAX_SHARED_CONSTANTS) IMMEDIATES.clear();
    IMMEDIATES.set(imm, hit);
  }
  return hit;
}
const IMMEDIATES = new Map<number, Scalar>();
const MAX_SHARED_CONSTANTS = 1 << 14;

function makeConst(u: bigint): Scalar {
  const lo = u & MASK32;
  return {
    k: 'scalar',
    tv: u,
    tm: 0n,
    umin: u,
    umax: u,
    smin: toSigned64(u),
    smax: toSigned64(u),
    u32min: lo,
    u32max: lo,
    s32min: toSigned32(lo),
    s32max: toSigned32(lo),
  };
}

export const isConst = (s: Scalar): boolean => s.tm === 0n;

/** A scalar in [0, 2^bits - 1]: what a zero-extending load of `bits` bits gives. */
export function zeroExtended(bits: number): Scalar {
  let s = ZERO_EXTENDED.get(bits);
  if (!s) {
    const top = (1n << BigInt(bits)) - 1n;
    s = Object.freeze(sync({ ...UNKNOWN_SCALAR, tm: top, umax: top }) ?? UNKNOWN_SCALAR);
    ZERO_EXTENDED.set(bits, s);
  }
  return s;
}
const ZERO_EXTENDED = new Map<number, Scalar>();

/** The smallest tnum holding every value in [lo, hi] (tnum_range). */
function tnumRange(lo: bigint, hi: bigint): { tv: bigint; tm: bigint } {
  const chi = lo ^ hi;
  if (chi === 0n) return { tv: lo, tm: 0n };
  const bits = bitLength(chi);
  if (bits >= 64) return { tv: 0n, tm: MASK64 };
  const delta = (1n << BigInt(bits)) - 1n;
  return { tv: lo & ~delta & MASK64, tm: delta };
}

/**
 * Bits in the binary form of `v` (0 <= v < 2^64; both ends are unsigned bounds): from two
 * 32-bit halves, not `v.toString(2)`, which built a string in the walk's hottest path.
 */
function bitLength(v: bigint): number {
  const hi = Number(v >> 32n);
  if (hi !== 0) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(Number(v & MASK32));
}

/** tnum_intersect: bits known in either are known. */
function tnumIntersect(a: { tv: bigint; tm: bigint }, b: { tv: bigint; tm: bigint }) {
  const v = a.tv | b.tv;
  const mu = a.tm & b.tm;
  return { tv: v & ~mu & MASK64, tm: mu };
}

/**
 * Makes every view agree with the others (reg_bounds_sync). Returns undefined when they
 * contradict each other: the state is impossible (a branch edge the verifier does not take).
 */
export function sync(input: Mutable | Scalar): Scalar | undefined {
  // Nothing known, or a constant: already consistent (most results are one or the other).
  if (input.tm === MASK64 && isFull(input)) return UNKNOWN_SCALAR;
  if (input.tm === 0n && isFull(input)) return constScalar(input.tv);
  const s = mutableCopy(input);
  for (let round = 0; round < 2; round++) {
    // A round that changes nothing would change nothing the second time either.
    const { tv, tm, umin, umax, smin, smax, u32min, u32max, s32min, s32max } = s;
    // tnum -> ranges.
    s.umin = max(s.umin, s.tv);
    s.umax = min(s.umax, (s.tv | s.tm) & MASK64);
    const lo = { tv: s.tv & MASK32, tm: s.tm & MASK32 };
    s.u32min = max(s.u32min, lo.tv);
    s.u32max = min(s.u32max, lo.tv | lo.tm);
    // The low 32 bits follow the 64-bit range when the upper 32 bits cannot change.
    if (s.umin >> 32n === s.umax >> 32n) {
      s.u32min = max(s.u32min, s.umin & MASK32);
      s.u32max = min(s.u32max, s.umax & MASK32);
    }
    if (s.smin >> 32n === s.smax >> 32n && toSigned32(s.smin) <= toSigned32(s.smax)) {
      s.s32min = max(s.s32min, toSigned32(s.smin & MASK32));
      s.s32max = min(s.s32max, toSigned32(s.smax & MASK32));
    }
    // unsigned <-> signed, where the range does not cross the sign boundary.
    if (s.u32max <= BigInt(S32_MAX) || s.u32min > BigInt(S32_MAX)) {
      s.s32min = max(s.s32min, toSigned32(s.u32min));
      s.s32max = min(s.s32max, toSigned32(s.u32max));
    }
    if (s.s32min >= 0n || s.s32max < 0n) {
      s.u32min = max(s.u32min, s.s32min & MASK32);
      s.u32max = min(s.u32max, s.s32max & MASK32);
    }
    if (s.umax <= S64_MAX || s.umin > S64_MAX) {
      s.smin = max(s.smin, toSigned64(s.umin));
      s.smax = min(s.smax, toSigned64(s.umax));
    }
    if (s.smin >= 0n || s.smax < 0n) {
      s.umin = max(s.umin, s.smin & MASK64);
      s.umax = min(s.umax, s.smax & MASK64);
    }
    // The 64-bit range follows the low 32 bits when the upper 32 bits are known to be zero.
    if (s.tv >> 32n === 0n && s.tm >> 32n === 0n) {
      s.umin = max(s.umin, s.u32min);
      s.umax = min(s.umax, s.u32max);
    }
    if (s.umin > s.umax || s.smin > s.smax || s.u32min > s.u32max || s.s32min > s.s32max) return undefined;
    // ranges -> tnum.
    const t64 = tnumIntersect(s, tnumRange(s.umin, s.umax));
    const t32 = tnumRange(s.u32min, s.u32max);
    const t = tnumIntersect(t64, { tv: (t64.tv & ~MASK32) | t32.tv, tm: (t64.tm & ~MASK32) | t32.tm });
    if ((t.tv & t.tm) !== 0n) return undefined;
    // Known bits that disagree with the tnum are a contradiction too.
    if ((s.tv & ~t.tm & ~s.tm) !== (t.tv & ~t.tm & ~s.tm)) return undefined;
    s.tv = t.tv;
    s.tm = t.tm;
    if (
      s.tv === tv &&
      s.tm === tm &&
      s.umin === umin &&
      s.umax === umax &&
      s.smin === smin &&
      s.smax === smax &&
      s.u32min === u32min &&
      s.u32max === u32max &&
      s.s32min === s32min &&
      s.s32max === s32max
    )
      break;
  }
  if (s.tm === 0n) {
    const c = constScalar(s.tv);
    if (s.umin > c.umin || s.umax < c.umax || s.smin > c.smin || s.smax < c.smax) return undefined;
    if (s.u32min > c.u32min || s.u32max < c.u32max || s.s32min > c.s32min || s.s32max < c.s32max)
      return undefined;
    return c;
  }
  return s;
}

const full = (s: Scalar | undefined): Scalar => s ?? UNKNOWN_SCALAR;

/** A copy to tighten: one literal of the scalar's shape (a spread was slower, cold or not). */
function mutableCopy(s: Scalar | Mutable): Mutable {
  return {
    k: 'scalar',
    tv: s.tv,
    tm: s.tm,
    umin: s.umin,
    umax: s.umax,
    smin: s.smin,
    smax: s.smax,
    u32min: s.u32min,
    u32max: s.u32max,
    s32min: s.s32min,
    s32max: s.s32max,
  };
}

/** Whether every range of `s` is the widest (only its tnum says anything). */
function isFull(s: Scalar | Mutable): boolean {
  return (
    s.umin === 0n &&
    s.umax === MASK64 &&
    s.smin === S64_MIN &&
    s.smax === S64_MAX &&
    s.u32min === 0n &&
    s.u32max === MASK32 &&
    s.s32min === S32_MIN &&
    s.s32max === S32_MAX
  );
}

/** The low 32 bits, zero-extended: what every ALU32 result and 32-bit MOV gives. */
export function low32(s: Scalar): Scalar {
  if (isConst(s)) return constScalar(s.tv & MASK32);
  if (s === UNKNOWN_SCALAR) return zeroExtended(32);
  return full(
    sync({
      ...UNKNOWN_SCALAR,
      tv: s.tv & MASK32,
      tm: s.tm & MASK32,
      umin: s.u32min,
      umax: s.u32max,
      u32min: s.u32min,
      u32max: s.u32max,
      s32min: s.s32min,
      s32max: s.s32max,
    }),
  );
}

/** Truncation to `bytes` bytes, zero-extended (coerce_reg_to_size). */
export function truncate(s: Scalar, bytes: number): Scalar {
  if (bytes >= 8) return s;
  const mask = (1n << BigInt(bytes * 8)) - 1n;
  if (isConst(s)) return constScalar(s.tv & mask);
  const lo = { ...UNKNOWN_SCALAR, tv: s.tv & mask, tm: s.tm & mask, umax: mask };
  // The range survives when the value already fits.
  if (s.umax <= mask) return full(sync({ ...lo, umin: s.umin, umax: s.umax }));
  return full(sync(lo));
}

/** Sign extension from `bits` bits (MOVSX, LDX MEMSX): exact for constants only. */
export function signExtend(s: Scalar, bits: number): Scalar {
  if (isConst(s)) return constScalar(BigInt.asIntN(bits, s.tv));
  let out = SIGN_EXTENDED.get(bits);
  if (!out) {
    const half = 1n << BigInt(bits - 1);
    out = Object.freeze(full(sync({ ...UNKNOWN_SCALAR, smin: -half, smax: half - 1n })));
    SIGN_EXTENDED.set(bits, out);
  }
  return out;
}
const SIGN_EXTENDED = new Map<number, Scalar>();

/** Where two paths meet: everything either may hold. */
export function joinScalar(a: Scalar, b: Scalar): Scalar {
  if (sameScalar(a, b)) return a;
  const mu = a.tm | b.tm | (a.tv ^ b.tv);
  return full(
    sync({
      k: 'scalar',
      tv: a.tv & ~mu & MASK64,
      tm: mu,
      umin: min(a.umin, b.umin),
      umax: max(a.umax, b.umax),
      smin: min(a.smin, b.smin),
      smax: max(a.smax, b.smax),
      u32min: min(a.u32min, b.u32min),
      u32max: max(a.u32max, b.u32max),
      s32min: min(a.s32min, b.s32min),
      s32max: max(a.s32max, b.s32max),
    }),
  );
}

/** Whether every value `inner` may hold, `outer` may hold too (state pruning). */
export function scalarWithin(inner: Scalar, outer: Scalar): boolean {
  return (
    (inner.tm & ~outer.tm) === 0n &&
    (inner.tv & ~outer.tm) === (outer.tv & ~outer.tm) &&
    inner.umin >= outer.umin &&
    inner.umax <= outer.umax &&
    inner.smin >= outer.smin &&
    inner.smax <= outer.smax &&
    inner.u32min >= outer.u32min &&
    inner.u32max <= outer.u32max &&
    inner.s32min >= outer.s32min &&
    inner.s32max <= outer.s32max
  );
}

export function sameScalar(a: Scalar, b: Scalar): boolean {
  return (
    a.tv === b.tv &&
    a.tm === b.tm &&
    a.umin === b.umin &&
    a.umax === b.umax &&
    a.smin === b.smin &&
    a.smax === b.smax &&
    a.u32min === b.u32min &&
    a.u32max === b.u32max &&
    a.s32min === b.s32min &&
    a.s32max === b.s32max
  );
}

export function scalarKey(s: Scalar): string {
  if (isConst(s)) return s.tv.toString(16);
  if (s.tm === MASK64 && s.umin === 0n && s.umax === MASK64 && s.smin === S64_MIN && s.smax === S64_MAX)
    return '?';
  return `${s.tv.toString(16)}/${s.tm.toString(16)}[${s.umin},${s.umax}|${s.smin},${s.smax}|${s.u32min},${s.u32max}|${s.s32min},${s.s32max}]`;
}

// --- ALU ----------------------------------------------------------------------------------

export type AluOp = 'add' | 'sub' | 'mul' | 'and' | 'or' | 'xor' | 'lsh' | 'rsh' | 'arsh';

/**
 * `dst op src` on `bits`-bit operands (64: ALU64, 32: ALU32, whose result is zero-extended).
 * As every kernel compat targets does: with a source that is not a constant, only ADD, SUB and
 * AND keep anything (the others give an unknown scalar); shifts by the width or more, too.
 */
export function alu(op: AluOp, dst: Scalar, src: Scalar, bits: 32 | 64): Scalar {
  const a = bits === 32 ? low32(dst) : dst;
  const b = bits === 32 ? low32(src) : src;
  const mask = bits === 32 ? MASK32 : MASK64;
  if (isConst(a) && isConst(b)) {
    const r = foldConst(op, a.tv, b.tv, bits);
    return r === undefined ? UNKNOWN_SCALAR : constScalar(r & mask);
  }
  if (!isConst(b) && op !== 'add' && op !== 'sub' && op !== 'and') return UNKNOWN_SCALAR;
  const width = BigInt(bits);
  // An object literal of UNKNOWN_SCALAR's shape (a spread of it was slower, cold or not).
  const t = (tv: bigint, tm: bigint): Mutable => ({
    k: 'scalar',
    tv: tv & mask & ~tm,
    tm: tm & mask,
    umin: 0n,
    umax: mask,
    smin: S64_MIN,
    smax: S64_MAX,
    u32min: 0n,
    u32max: MASK32,
    s32min: S32_MIN,
    s32max: S32_MAX,
  });
  let r: Mutable;
  switch (op) {
    case 'add': {
      const sm = a.tm + b.tm;
      const sv = a.tv + b.tv;
      const sigma = sm + sv;
      const chi = sigma ^ sv;
      const mu = chi | a.tm | b.tm;
      r = t(sv, mu);
      if (a.umax + b.umax <= mask) {
        r.umin = a.umin + b.umin;
        r.umax = a.umax + b.umax;
      }
      break;
    }
    case 'sub': {
      const dv = a.tv - b.tv;
      const alpha = dv + a.tm;
      const beta = dv - b.tm;
      const chi = alpha ^ beta;
      const mu = chi | a.tm | b.tm;
      r = t(dv & mask, mu);
      if (a.umin >= b.umax) {
        r.umin = a.umin - b.umax;
        r.umax = a.umax - b.umin;
      }
      break;
    }
    case 'and': {
      const alpha = a.tv | a.tm;
      const beta = b.tv | b.tm;
      const v = a.tv & b.tv;
      r = t(v, alpha & beta & ~v);
      r.umax = min(a.umax, b.umax);
      break;
    }
    case 'or': {
      // tnum_or: a bit set in either value is known set.
      const v = a.tv | b.tv;
      const mu = (a.tm | b.tm) & ~v;
      r = t(v, mu);
      r.umin = max(a.umin, b.umin);
      break;
    }
    case 'xor': {
      const v = a.tv ^ b.tv;
      const mu = a.tm | b.tm;
      r = t(v, mu);
      break;
    }
    case 'mul': {
      // Products of small non-negative ranges (the verifier's scalar_min_max_mul, which gives
      // up past 32 bits).
      r = t(0n, mask);
      if (a.umax <= MASK32 && b.umax <= MASK32 && a.umax * b.umax <= mask) {
        r.umin = a.umin * b.umin;
        r.umax = a.umax * b.umax;
      }
      break;
    }
    case 'lsh':
    case 'rsh':
    case 'arsh': {
      const sh = b.tv;
      if (sh >= width) return UNKNOWN_SCALAR;
      if (op === 'lsh') {
        r = t(a.tv << sh, a.tm << sh);
        if (a.umax << sh <= mask) {
          r.umin = a.umin << sh;
          r.umax = a.umax << sh;
        }
      } else if (op === 'rsh') {
        r = t(a.tv >> sh, a.tm >> sh);
        r.umin = a.umin >> sh;
        r.umax = a.umax >> sh;
      } else {
        // Arithmetic shift: the sign bit's knowledge is copied into the vacated bits.
        const sv = bits === 32 ? toSigned32(a.tv | 0n) : toSigned64(a.tv);
        const sm = bits === 32 ? toSigned32(a.tm) : toSigned64(a.tm);
        r = t((sv >> sh) & mask, (sm >> sh) & mask);
      }
      break;
    }
  }
  const res = full(sync(r));
  return bits === 32 ? low32(res) : res;
}

function foldConst(op: AluOp, a: bigint, b: bigint, bits: number): bigint | undefined {
  const width = BigInt(bits);
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'and':
      return a & b;
    case 'or':
      return a | b;
    case 'xor':
      return a ^ b;
    case 'lsh':
      return b >= width ? undefined : a << b;
    case 'rsh':
      return b >= width ? undefined : a >> b;
    case 'arsh':
      return b >= width ? undefined : BigInt.asIntN(bits, a) >> b;
  }
}

/** NEG of a constant (0 - x), on `bits` bits. */
export function negate(s: Scalar, bits: 32 | 64): Scalar {
  const a = bits === 32 ? low32(s) : s;
  if (!isConst(a)) return UNKNOWN_SCALAR;
  return constScalar(-a.tv & (bits === 32 ? MASK32 : MASK64));
}

/**
 * BPF_END of a constant: `toLittle` (imm 16/32/64 conversions to/from the given byte order);
 * the host order of the object decides whether a conversion swaps. `swap`: BPF_ALU64 BSWAP.
 */
export function byteSwap(s: Scalar, bits: number, swap: boolean): Scalar {
  if (!isConst(s)) return UNKNOWN_SCALAR;
  const mask = (1n << BigInt(bits)) - 1n;
  let v = s.tv & mask;
  if (swap) {
    let out = 0n;
    for (let i = 0; i < bits / 8; i++) {
      out = (out << 8n) | (v & 0xffn);
      v >>= 8n;
    }
    v = out;
  }
  return constScalar(v);
}

// --- conditional jumps ----------------------------------------------------------------------

export type CmpOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sgt' | 'sge' | 'slt' | 'sle' | 'set';

const NEGATED: Record<CmpOp, CmpOp | undefined> = {
  eq: 'ne',
  ne: 'eq',
  gt: 'le',
  ge: 'lt',
  lt: 'ge',
  le: 'gt',
  sgt: 'sle',
  sge: 'slt',
  slt: 'sge',
  sle: 'sgt',
  set: undefined,
};

/** The bounds of one view (64 or 32 bits) of a scalar. */
function view(s: Scalar, bits: 32 | 64) {
  return bits === 64
    ? { umin: s.umin, umax: s.umax, smin: s.smin, smax: s.smax, tv: s.tv, tm: s.tm }
    : {
        umin: s.u32min,
        umax: s.u32max,
        smin: s.s32min,
        smax: s.s32max,
        tv: s.tv & MASK32,
        tm: s.tm & MASK32,
      };
}

/**
 * Whether `dst op k` holds for every value (true), none (false) or some (undefined), with `k`
 * a constant (is_branch_taken: the kernels compat targets decide a branch against a constant).
 */
export function branchTaken(op: CmpOp, dst: Scalar, k: bigint, bits: 32 | 64): boolean | undefined {
  const mask = bits === 32 ? MASK32 : MASK64;
  const uk = k & mask;
  const sk = bits === 32 ? toSigned32(uk) : toSigned64(uk);
  const v = view(dst, bits);
  switch (op) {
    case 'eq':
    case 'ne': {
      let r: boolean | undefined;
      if (v.tm === 0n) r = v.tv === uk;
      else if ((v.tv & ~v.tm) !== (uk & ~v.tm) || uk < v.umin || uk > v.umax || sk < v.smin || sk > v.smax)
        r = false;
      if (r === undefined) return undefined;
      return op === 'eq' ? r : !r;
    }
    case 'set':
      if ((v.tv & uk) !== 0n) return true;
      if (((v.tv | v.tm) & uk) === 0n) return false;
      return undefined;
    case 'gt':
      return v.umin > uk ? true : v.umax <= uk ? false : undefined;
    case 'ge':
      return v.umin >= uk ? true : v.umax < uk ? false : undefined;
    case 'lt':
      return v.umax < uk ? true : v.umin >= uk ? false : undefined;
    case 'le':
      return v.umax <= uk ? true : v.umin > uk ? false : undefined;
    case 'sgt':
      return v.smin > sk ? true : v.smax <= sk ? false : undefined;
    case 'sge':
      return v.smin >= sk ? true : v.smax < sk ? false : undefined;
    case 'slt':
      return v.smax < sk ? true : v.smin >= sk ? false : undefined;
    case 'sle':
      return v.smax <= sk ? true : v.smin > sk ? false : undefined;
  }
}

/**
 * `dst` on the edge where `dst op k` is `holds` (reg_set_min_max against a constant); undefined
 * when that edge is impossible.
 */
export function narrow(op: CmpOp, dst: Scalar, k: bigint, bits: 32 | 64, holds: boolean): Scalar | undefined {
  const eff = holds ? op : NEGATED[op];
  if (eff === undefined) {
    // JSET not taken: the tested bits are all zero.
    const mask = bits === 32 ? MASK32 : MASK64;
    const uk = k & mask;
    return sync({ ...dst, tv: dst.tv & ~uk, tm: dst.tm & ~uk });
  }
  const mask = bits === 32 ? MASK32 : MASK64;
  const uk = k & mask;
  const sk = bits === 32 ? toSigned32(uk) : toSigned64(uk);
  const s = mutableCopy(dst);
  const setU = (lo: bigint, hi: bigint) => {
    if (bits === 64) {
      s.umin = max(s.umin, lo);
      s.umax = min(s.umax, hi);
    } else {
      s.u32min = max(s.u32min, lo);
      s.u32max = min(s.u32max, hi);
    }
  };
  const setS = (lo: bigint, hi: bigint) => {
    if (bits === 64) {
      s.smin = max(s.smin, lo);
      s.smax = min(s.smax, hi);
    } else {
      s.s32min = max(s.s32min, lo);
      s.s32max = min(s.s32max, hi);
    }
  };
  const smaxAll = bits === 64 ? S64_MAX : S32_MAX;
  const sminAll = bits === 64 ? S64_MIN : S32_MIN;
  switch (eff) {
    case 'eq':
      if (bits === 64) return intersectConst(dst, uk);
      s.tv = (s.tv & ~MASK32) | uk;
      s.tm &= ~MASK32;
      setU(uk, uk);
      break;
    case 'ne':
      // Only an end of the range can move (the verifier does the same).
      {
        const v = view(dst, bits);
        if (v.umin === uk) setU(uk + 1n, mask);
        if (v.umax === uk) setU(0n, uk - 1n);
        if (v.smin === sk) setS(sk + 1n, smaxAll);
        if (v.smax === sk) setS(sminAll, sk - 1n);
        if (v.tm === 0n && v.tv === uk) return undefined;
      }
      break;
    case 'set':
      // Taken JSET: some tested bit is set; with a single bit tested, that bit is known.
      if (uk !== 0n && (uk & (uk - 1n)) === 0n) {
        s.tv |= uk;
        s.tm &= ~uk;
      }
      break;
    case 'gt':
      if (uk === mask) return undefined;
      setU(uk + 1n, mask);
      break;
    case 'ge':
      setU(uk, mask);
      break;
    case 'lt':
      if (uk === 0n) return undefined;
      setU(0n, uk - 1n);
      break;
    case 'le':
      setU(0n, uk);
      break;
    case 'sgt':
      if (sk === smaxAll) return undefined;
      setS(sk + 1n, smaxAll);
      break;
    case 'sge':
      setS(sk, smaxAll);
      break;
    case 'slt':
      if (sk === sminAll) return undefined;
      setS(sminAll, sk - 1n);
      break;
    case 'sle':
      setS(sminAll, sk);
      break;
  }
  return sync(s);
}

function intersectConst(dst: Scalar, k: bigint): Scalar | undefined {
  const c = constScalar(k);
  return scalarWithin(c, dst) ? c : undefined;
}
