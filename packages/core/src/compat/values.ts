/**
 * The abstract values the reachability analysis tracks: exactly what the verifier knows for
 * certain about a register or a spilled stack slot, no more. A scalar is either a known 64-bit
 * constant or unknown; a pointer is either into the current stack frame at a known offset, or
 * into a read-only data blob (frozen .rodata) at a known offset: loads from the latter give
 * constants, as the verifier's direct reads of frozen maps do.
 */
export type Val =
  | { readonly k: 'unknown' }
  | { readonly k: 'const'; readonly v: bigint }
  | { readonly k: 'fp'; readonly off: number }
  | { readonly k: 'ro'; readonly blob: number; readonly off: number };

export const UNKNOWN: Val = Object.freeze({ k: 'unknown' });
export const MASK64 = (1n << 64n) - 1n;
export const MASK32 = (1n << 32n) - 1n;

export const konst = (v: bigint): Val => ({ k: 'const', v: v & MASK64 });

export function sameVal(a: Val, b: Val): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'unknown':
      return true;
    case 'const':
      return a.v === (b as typeof a).v;
    case 'fp':
      return a.off === (b as typeof a).off;
    case 'ro':
      return a.blob === (b as typeof a).blob && a.off === (b as typeof a).off;
  }
}

/** Where two paths meet, only what both agree on stays known. */
export const joinVal = (a: Val, b: Val): Val => (sameVal(a, b) ? a : UNKNOWN);

export const toSigned64 = (v: bigint): bigint => BigInt.asIntN(64, v);
export const toSigned32 = (v: bigint): bigint => BigInt.asIntN(32, v);

/** Register state at one instruction: r0..r10 and the spilled 8-byte stack slots by fp offset. */
export interface State {
  regs: Val[];
  stack: Map<number, Val>;
}

export function copyState(s: State): State {
  return { regs: s.regs.slice(), stack: new Map(s.stack) };
}

/** Joins `incoming` into `into`; returns true when `into` lost information (must re-propagate). */
export function joinInto(into: State, incoming: State): boolean {
  let changed = false;
  for (let r = 0; r < into.regs.length; r++) {
    const a = into.regs[r] as Val;
    const j = joinVal(a, incoming.regs[r] as Val);
    if (j !== a) {
      into.regs[r] = j;
      changed = true;
    }
  }
  for (const [off, v] of into.stack) {
    const w = incoming.stack.get(off);
    if (w === undefined || !sameVal(v, w)) {
      into.stack.delete(off);
      changed = true;
    }
  }
  return changed;
}

export function stateKey(s: State): string {
  const parts = s.regs.map(valKey);
  const slots = [...s.stack.entries()].sort((a, b) => a[0] - b[0]);
  for (const [off, v] of slots) parts.push(`${off}=${valKey(v)}`);
  return parts.join(',');
}

export function valKey(v: Val): string {
  switch (v.k) {
    case 'unknown':
      return '?';
    case 'const':
      return v.v.toString(16);
    case 'fp':
      return `fp${v.off}`;
    case 'ro':
      return `ro${v.blob}+${v.off}`;
  }
}
