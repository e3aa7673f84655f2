import type { Btf, TypeId } from '../btf/index.ts';

const UNDERSCORE = 0x5f;

/**
 * Length of a name's essential part: everything before the last flavor separator, where a
 * separator is exactly `___` with a non-underscore character on each side (`a___b` → 1,
 * `a___b___c` → 4, `a____b` → no separator). libbpf compares type names by this prefix so a
 * program can carry several "flavors" of one kernel type.
 */
export function essentialNameLength(name: string): number {
  const n = name.length;
  for (let i = n - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== UNDERSCORE &&
      name.charCodeAt(i + 1) === UNDERSCORE &&
      name.charCodeAt(i + 2) === UNDERSCORE &&
      name.charCodeAt(i + 3) === UNDERSCORE &&
      name.charCodeAt(i + 4) !== UNDERSCORE
    ) {
      return i + 1;
    }
  }
  return n;
}

/** The name without its flavor suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

/** Whether two names have the same essential part. */
export function essentialNamesEqual(a: string, b: string): boolean {
  const la = essentialNameLength(a);
  return la === essentialNameLength(b) && a.slice(0, la) === b.slice(0, la);
}

/**
 * Per-BTF index from essential name to type ids, built in one pass over the type records
 * hashing name bytes straight from the string section (no JS string per type: building it
 * for a 100k-type kernel costs a few milliseconds). Buckets are verified byte by byte on
 * lookup, so hash collisions cannot produce a wrong candidate.
 */
interface EssentialIndex {
  /** Bucket heads (type index + 1, 0 = empty), by hash & mask. */
  head: Int32Array;
  /** Next type index + 1 in the same bucket. */
  next: Int32Array;
  hash: Uint32Array;
  mask: number;
}

const INDEXES = new WeakMap<Btf, EssentialIndex>();
const encoder = new TextEncoder();

/**
 * Ids of every named type of `btf` (and its base) whose essential name is `name`, ascending:
 * the order in which libbpf's candidate scan would meet them. The index is built once per
 * BTF, so a lookup never walks the kernel's types.
 */
export function typesByEssentialName(btf: Btf, name: string): readonly TypeId[] {
  const own = lookup(btf, name);
  if (!btf.base) return own;
  const fromBase = typesByEssentialName(btf.base, name);
  if (fromBase.length === 0) return own;
  if (own.length === 0) return fromBase;
  return [...fromBase, ...own];
}

/** The BTF whose string section holds offset `off` (this one or an ancestor). */
function stringOwner(btf: Btf, off: number): Btf | undefined {
  let b: Btf | undefined = btf;
  while (b && off < b.startStrOff) b = b.base;
  return b && off - b.startStrOff < b.strings.length ? b : undefined;
}

/** Byte length of the essential part of the name in `s[start, end)`. */
function essentialByteLength(s: Uint8Array, start: number, end: number): number {
  for (let i = end - 5; i >= start; i--) {
    if (
      s[i] !== UNDERSCORE &&
      s[i + 1] === UNDERSCORE &&
      s[i + 2] === UNDERSCORE &&
      s[i + 3] === UNDERSCORE
    ) {
      if (s[i + 4] !== UNDERSCORE) return i + 1 - start;
    }
  }
  return end - start;
}

function fnv(s: Uint8Array, start: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + len; i++) h = Math.imul(h ^ (s[i] as number), 0x01000193);
  return h >>> 0;
}

function buildIndex(btf: Btf): EssentialIndex {
  const { types } = btf;
  const n = types.length;
  let size = 16;
  while (size < n * 2) size *= 2;
  const index: EssentialIndex = {
    head: new Int32Array(size),
    next: new Int32Array(n),
    hash: new Uint32Array(n),
    mask: size - 1,
  };
  for (let i = 0; i < n; i++) {
    const nameOff = (types[i] as { nameOff: number }).nameOff;
    if (nameOff === 0) continue;
    const owner = stringOwner(btf, nameOff);
    if (!owner) continue;
    const s = owner.strings;
    const start = nameOff - owner.startStrOff;
    let end = s.indexOf(0, start);
    if (end < 0) end = s.length;
    if (end === start) continue;
    const h = fnv(s, start, essentialByteLength(s, start, end));
    const b = h & index.mask;
    index.hash[i] = h;
    index.next[i] = index.head[b] as number;
    index.head[b] = i + 1;
  }
  return index;
}

function lookup(btf: Btf, name: string): readonly TypeId[] {
  let idx = INDEXES.get(btf);
  if (!idx) {
    idx = buildIndex(btf);
    INDEXES.set(btf, idx);
  }
  const want = encoder.encode(name);
  const h = fnv(want, 0, want.length);
  const out: TypeId[] = [];
  for (let e = idx.head[h & idx.mask] as number; e !== 0; e = idx.next[e - 1] as number) {
    const i = e - 1;
    if (idx.hash[i] !== h) continue;
    const nameOff = (btf.types[i] as { nameOff: number }).nameOff;
    const owner = stringOwner(btf, nameOff) as Btf;
    const s = owner.strings;
    const start = nameOff - owner.startStrOff;
    let end = s.indexOf(0, start);
    if (end < 0) end = s.length;
    if (essentialByteLength(s, start, end) !== want.length) continue;
    let same = true;
    for (let k = 0; k < want.length && same; k++) same = s[start + k] === want[k];
    if (same) out.push(btf.startId + i);
  }
  // Buckets chain newest first; candidates must come in id order.
  return out.length > 1 ? out.sort((a, b) => a - b) : out;
}
