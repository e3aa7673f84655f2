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
  const compareHashes = shapeHasher(types, str);
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
    return compareHashes(a, b) || a - b;
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

const TWO32 = 0x1_0000_0000;

/**
 * 64-bit hashes as two uint32 halves (exact in doubles, no BigInt garbage in a sort over
 * ~100,000 types). `mixHi`/`mixLo` are (hi:lo) * 31 + (vhi:vlo) modulo 2^64.
 */
function mixLo(lo: number, vlo: number): number {
  return (lo * 31 + vlo) % TWO32;
}
function mixHi(hi: number, lo: number, vhi: number, vlo: number): number {
  const carry = Math.floor((lo * 31 + vlo) / TWO32);
  return (hi * 31 + vhi + carry) % TWO32;
}

/** libbpf's str_hash: h = h * 31 + c over the bytes as (x86, signed) chars, in size_t. */
function strHash(s: string, out: Uint32Array, at: number): void {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i) & 0xff;
    // A negative char is 2^64 - |c| as a size_t: high half all ones.
    let chi = 0;
    if (c >= 0x80) {
      c = TWO32 - (0x100 - c);
      chi = TWO32 - 1;
    }
    const nhi = mixHi(hi, lo, chi, c);
    lo = mixLo(lo, c);
    hi = nhi;
  }
  out[at] = hi;
  out[at + 1] = lo;
}

/**
 * A hash of a type's names and shape, for types that tie on rank and names (bpftool's
 * disambiguation hash): its name, its enumerators' names, its members' names and their types'
 * hashes (one level: members of members are not visited), through references and arrays (with
 * the element count). Memoized per string and per type: ties are many (every anonymous
 * pointer, array and prototype ties with the others) and share most of what they hash.
 * Returns a comparator of two ids' hashes.
 */
function shapeHasher(
  types: readonly BtfType[],
  str: (off: number) => string,
): (a: number, b: number) => number {
  const strHashes = new Map<number, Uint32Array>();
  const n = types.length;
  // [includeMembers][id] -> (hi, lo); done marks computed entries.
  const halves = [new Uint32Array(2 * n), new Uint32Array(2 * n)] as const;
  const done = [new Uint8Array(n), new Uint8Array(n)] as const;
  let hi = 0;
  let lo = 0;
  const addName = (off: number) => {
    if (off === 0) return;
    let sh = strHashes.get(off);
    if (sh === undefined) {
      sh = new Uint32Array(2);
      strHash(str(off), sh, 0);
      strHashes.set(off, sh);
    }
    add(sh[0] as number, sh[1] as number);
  };
  const add = (vhi: number, vlo: number) => {
    const nhi = mixHi(hi, lo, vhi, vlo);
    lo = mixLo(lo, vlo);
    hi = nhi;
  };
  const hash = (id: number, includeMembers: boolean, depth: number): void => {
    const k = includeMembers ? 1 : 0;
    const out = halves[k];
    if (done[k][id] === 1 || depth > MAX_DEPTH) {
      // Past the depth bound (a cycle, which real BTF has not), hash 0.
      if (done[k][id] !== 1) out[2 * id] = out[2 * id + 1] = 0;
      return;
    }
    const saveHi = hi;
    const saveLo = lo;
    hi = 0;
    lo = 0;
    const t = types[id] as BtfType;
    addName(t.nameOff);
    const sub = (child: number, inc: boolean) => {
      const h0 = hi;
      const l0 = lo;
      hash(child, inc, depth + 1);
      const c = halves[inc ? 1 : 0];
      hi = h0;
      lo = l0;
      add(c[2 * child] as number, c[2 * child + 1] as number);
    };
    switch (t.kind) {
      case Kind.Enum:
      case Kind.Enum64:
        for (const v of t.values as { nameOff: number }[]) addName(v.nameOff);
        break;
      case Kind.Struct:
      case Kind.Union:
        if (!includeMembers) break;
        for (const m of t.members) {
          addName(m.nameOff);
          sub(m.type, false);
        }
        break;
      case Kind.Array:
        add(0, t.nelems >>> 0);
        sub(t.type, includeMembers);
        break;
      default:
        if (isRef(t.kind) && id !== 0) sub((t as { type: number }).type, includeMembers);
    }
    out[2 * id] = hi;
    out[2 * id + 1] = lo;
    done[k][id] = 1;
    hi = saveHi;
    lo = saveLo;
  };
  const full = halves[1];
  return (a, b) => {
    hash(a, true, 0);
    hash(b, true, 0);
    const d = (full[2 * a] as number) - (full[2 * b] as number);
    return d !== 0 ? d : (full[2 * a + 1] as number) - (full[2 * b + 1] as number);
  };
}
