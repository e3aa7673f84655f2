import { Kind } from '../btf/kinds.ts';
import type { BtfType } from '../btf/types.ts';

/**
 * The order in which bpftool >= 7.5 `btf dump ... format c` asks libbpf's btf_dump for each
 * type (its default; `unsorted` keeps id order). Types are compared by a rank (anonymous enums,
 * named enums, scalars, structs/unions, function prototypes, then the rest), then a sort name
 * (the name found through typedefs, modifiers, pointers and arrays; an anonymous enum goes by
 * its first enumerator), then the type's own name, then a hash of its shape, then its id.
 * btf_dump still emits each type's dependencies first, so this only chooses who goes first.
 */

const MAX_RANK = 10;
/** Bound on reference chains followed (real BTF needs a handful; a cycle must not hang). */
const MAX_DEPTH = 64;
const U64 = (1n << 64n) - 1n;

/** A reference kind whose sort name and rank are those of the type it points to. */
function isRef(kind: number): boolean {
  return (
    kind === Kind.TypeTag ||
    kind === Kind.Const ||
    kind === Kind.Ptr ||
    kind === Kind.Volatile ||
    kind === Kind.Restrict ||
    kind === Kind.Typedef ||
    kind === Kind.DeclTag
  );
}

export interface SortInput {
  /** Every type by id, index 0 = void. */
  types: readonly BtfType[];
  /** The raw name at a string offset ('' for 0). */
  str(off: number): string;
}

/**
 * Type ids in bpftool's sorted order (all ids, void included). bpftool then dumps entries 1..n-1
 * of this list, so whichever type sorts first is never asked for (only emitted if another type
 * needs it); the caller reproduces that.
 */
export function sortedTypeIds({ types, str }: SortInput): number[] {
  const n = types.length;
  const rank = new Uint8Array(n);
  const sortName: string[] = new Array(n);
  const ownName: string[] = new Array(n);
  for (let id = 0; id < n; id++) {
    rank[id] = typeRank(types, id);
    sortName[id] = str(sortNameOff(types, id));
    ownName[id] = str((types[id] as BtfType).nameOff);
  }
  const hashes = new Map<number, bigint>();
  const hash = (id: number) => {
    let h = hashes.get(id);
    if (h === undefined) {
      h = disambigHash(types, str, id, true, 0);
      hashes.set(id, h);
    }
    return h;
  };
  const ids = Array.from({ length: n }, (_, i) => i);
  ids.sort((a, b) => {
    const r = (rank[a] as number) - (rank[b] as number);
    if (r !== 0) return r;
    const sa = sortName[a] as string;
    const sb = sortName[b] as string;
    if (sa !== sb) return sa < sb ? -1 : 1;
    const oa = ownName[a] as string;
    const ob = ownName[b] as string;
    if (oa !== ob) return oa < ob ? -1 : 1;
    // The hash only breaks ties of rank and names: computed for those alone.
    const ha = hash(a);
    const hb = hash(b);
    if (ha !== hb) return ha < hb ? -1 : 1;
    return a - b;
  });
  return ids;
}

function typeRank(types: readonly BtfType[], id: number): number {
  let hasName = false;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const t = types[id] as BtfType;
    if (t.nameOff !== 0) hasName = true;
    const k = t.kind;
    if (k === Kind.Enum || k === Kind.Enum64) return hasName ? 1 : 0;
    if (k === Kind.Int || k === Kind.Float) return 2;
    if (k === Kind.Struct || k === Kind.Union) return hasName ? 3 : MAX_RANK;
    if (k === Kind.FuncProto) return hasName ? 4 : MAX_RANK;
    if (!hasName) return MAX_RANK;
    if (k === Kind.Array) id = t.type;
    else if (isRef(k) && id !== 0) id = (t as { type: number }).type;
    else return MAX_RANK;
  }
  return MAX_RANK;
}

/** The string offset of the type's sort name. */
function sortNameOff(types: readonly BtfType[], id: number): number {
  let fromRef = false;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const t = types[id] as BtfType;
    const k = t.kind;
    if (k === Kind.Enum || k === Kind.Enum64) {
      if (!fromRef && t.nameOff === 0 && t.values.length > 0)
        return (t.values[0] as { nameOff: number }).nameOff;
      return t.nameOff;
    }
    if (k === Kind.Array) id = t.type;
    else if (isRef(k) && id !== 0) id = (t as { type: number }).type;
    else return t.nameOff;
    fromRef = true;
  }
  return 0;
}

/** libbpf's str_hash: h = h * 31 + c over the bytes as (x86, signed) chars, in size_t. */
function strHash(s: string): bigint {
  // 31^k grows past 2^64 quickly: fold in two 32-bit halves to stay in exact integers.
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i) & 0xff;
    if (c >= 0x80) c -= 0x100;
    // (hi:lo) * 31 + c, modulo 2^64.
    const l = lo * 31 + c;
    const carry = Math.floor(l / 0x1_0000_0000);
    lo = l - carry * 0x1_0000_0000;
    hi = (hi * 31 + carry) % 0x1_0000_0000;
    if (hi < 0) hi += 0x1_0000_0000;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function mix(hash: bigint, val: bigint): bigint {
  return (hash * 31n + val) & U64;
}

/** A hash of the type's names and shape, for types that tie on rank and names. */
function disambigHash(
  types: readonly BtfType[],
  str: (off: number) => string,
  id: number,
  includeMembers: boolean,
  depth: number,
): bigint {
  if (depth > MAX_DEPTH) return 0n;
  const t = types[id] as BtfType;
  const name = (h: bigint, off: number) => (off === 0 ? h : mix(h, strHash(str(off))));
  let h = name(0n, t.nameOff);
  switch (t.kind) {
    case Kind.Enum:
    case Kind.Enum64:
      for (const v of t.values as { nameOff: number }[]) h = name(h, v.nameOff);
      break;
    case Kind.Struct:
    case Kind.Union:
      if (!includeMembers) break;
      for (const m of t.members) {
        h = name(h, m.nameOff);
        h = mix(h, disambigHash(types, str, m.type, false, depth + 1));
      }
      break;
    case Kind.Array:
      h = mix(h, BigInt(t.nelems >>> 0));
      h = mix(h, disambigHash(types, str, t.type, includeMembers, depth + 1));
      break;
    default:
      if (isRef(t.kind) && id !== 0)
        h = mix(h, disambigHash(types, str, (t as { type: number }).type, includeMembers, depth + 1));
  }
  return h;
}
