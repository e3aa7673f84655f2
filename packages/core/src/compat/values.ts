import { type Scalar, sameScalar, scalarKey, scalarWithin } from './scalar.ts';

/**
 * The abstract values the reachability analysis tracks: what the verifier knows for certain
 * about a register or a spilled stack slot, no more. A scalar carries the verifier's bounds
 * (scalar.ts); a pointer is either into a stack frame at a known offset, into a read-only
 * data blob (frozen .rodata) at a known offset, or into the `.kconfig` map at a known extern:
 * loads from the last two give constants, as the verifier's direct reads of frozen maps do.
 * `unknown` is anything else (a pointer of another kind, or a scalar that may be one).
 */
export type Val =
  | { readonly k: 'unknown' }
  | Scalar
  | { readonly k: 'fp'; readonly frame: number; readonly off: number }
  | { readonly k: 'ro'; readonly blob: number; readonly off: number }
  | { readonly k: 'kcfg'; readonly name: string; readonly off: number };

export const UNKNOWN: Val = Object.freeze({ k: 'unknown' });

/**
 * A spilled register in the stack: `size` bytes stored at the slot's offset. Bytes the
 * analysis holds no spill for are unknown to it (the verifier's STACK_MISC).
 */
export interface Slot {
  readonly v: Val;
  readonly size: number;
}

/** One function's frame: its registers and spilled stack slots by (negative) fp offset. */
export interface Frame {
  regs: Val[];
  stack: Map<number, Slot>;
  /** Where the caller resumes (its section and instruction), for every frame but the first. */
  ret?: { sec: number; idx: number };
  /** `sec:idx` of the function's first instruction (recursion is refused by the verifier). */
  entry?: string;
}

/** The verifier state at one instruction: the call stack, innermost frame last. */
export interface State {
  frames: Frame[];
}

export const top = (s: State): Frame => s.frames[s.frames.length - 1] as Frame;

export function copyState(s: State): State {
  return {
    frames: s.frames.map((f) => ({
      regs: f.regs.slice(),
      stack: new Map(f.stack),
      ret: f.ret,
      entry: f.entry,
    })),
  };
}

export function sameVal(a: Val, b: Val): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'unknown':
      return true;
    case 'scalar':
      return sameScalar(a, b as Scalar);
    case 'fp':
      return a.frame === (b as typeof a).frame && a.off === (b as typeof a).off;
    case 'ro':
      return a.blob === (b as typeof a).blob && a.off === (b as typeof a).off;
    case 'kcfg':
      return a.name === (b as typeof a).name && a.off === (b as typeof a).off;
  }
}

/** Whether every value `inner` may be, `outer` may be too. */
export function valWithin(inner: Val, outer: Val): boolean {
  if (outer.k === 'unknown') return true;
  if (outer.k === 'scalar') return inner.k === 'scalar' && scalarWithin(inner, outer);
  return sameVal(inner, outer);
}

/**
 * Whether `inner` is a state the verifier would prune against `outer` (every register and slot
 * of `inner` is within `outer`'s): anything reachable from `inner` is reachable from `outer`.
 */
export function stateWithin(inner: State, outer: State): boolean {
  if (inner.frames.length !== outer.frames.length) return false;
  for (let i = 0; i < outer.frames.length; i++) {
    const a = inner.frames[i] as Frame;
    const b = outer.frames[i] as Frame;
    if (a.ret?.sec !== b.ret?.sec || a.ret?.idx !== b.ret?.idx || a.entry !== b.entry) return false;
    for (let r = 0; r < b.regs.length; r++) if (!valWithin(a.regs[r] as Val, b.regs[r] as Val)) return false;
    for (const [off, slot] of b.stack) {
      const mine = a.stack.get(off);
      if (!mine || mine.size !== slot.size || !valWithin(mine.v, slot.v)) return false;
    }
  }
  return true;
}

export function valKey(v: Val): string {
  switch (v.k) {
    case 'unknown':
      return '?';
    case 'scalar':
      return scalarKey(v);
    case 'fp':
      return `fp${v.frame}${v.off}`;
    case 'ro':
      return `ro${v.blob}+${v.off}`;
    case 'kcfg':
      return `kcfg:${v.name}+${v.off}`;
  }
}
