import { type Btf, Kind, type TypeId } from '../btf/index.ts';
import { buildIndexWasm } from './name-index.ts';

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
 * hashing name bytes straight from the string section (no JS string per type). Buckets are
 * verified byte by byte on lookup, so hash collisions cannot produce a wrong candidate.
 *
 * Two groups are indexed separately: data types (what a CO-RE relocation's local root can
 * be) and declarations (FUNC, VAR, DATASEC, DECL_TAG). A kernel holds about four times more
 * FUNCs than named data types, so the declarations are only hashed if someone asks for them.
 */
export interface EssentialIndex {
  /** Bucket heads (type index + 1, 0 = empty), by hash & mask. */
  head: Int32Array;
  /** Next type index + 1 in the same bucket. */
  next: Int32Array;
  hash: Uint32Array;
  /** Byte length of each indexed type's essential name. */
  len: Uint32Array;
  mask: number;
}

export type NameGroup = 'types' | 'declarations';

const INDEXES: Record<NameGroup, WeakMap<Btf, EssentialIndex>> = {
  types: new WeakMap(),
  declarations: new WeakMap(),
};
const encoder = new TextEncoder();

// Kind numbers as module constants: the index loop below runs once per kernel type.
const FUNC = Kind.Func;
const VAR = Kind.Var;
const DATASEC = Kind.Datasec;
const DECL_TAG = Kind.DeclTag;

/** Kinds that name a declaration rather than a type. */
export function isDeclarationKind(kind: number): boolean {
  return kind === FUNC || kind === VAR || kind === DATASEC || kind === DECL_TAG;
}

/**
 * Ids of every named type of `btf` (and its base) whose essential name is `name`, ascending:
 * the order in which libbpf's candidate scan would meet them. `group` limits the answer to
 * data types or to declarations (default: both). Each index is built once per BTF, so a
 * lookup never walks the kernel's types.
 */
export function typesByEssentialName(btf: Btf, name: string, group?: NameGroup): readonly TypeId[] {
  if (group === undefined) {
    const a = typesByEssentialName(btf, name, 'types');
    const b = typesByEssentialName(btf, name, 'declarations');
    return b.length === 0 ? a : a.length === 0 ? b : [...a, ...b].sort((x, y) => x - y);
  }
  const own = lookup(btf, name, group);
  if (!btf.base) return own;
  const fromBase = typesByEssentialName(btf.base, name, group);
  if (fromBase.length === 0) return own;
  if (own.length === 0) return fromBase;
  return [...fromBase, ...own];
}

/**
 * libbpf's btf__find_by_name_kind: the lowest id of kind `kind` named exactly `name`, or
 * undefined. Answered from the essential-name index of the kind's group (the one CO-RE's
 * candidate search builds and keeps), so that one lookup in a kernel's BTF costs no second
 * index of every name (Btf.byName's hashes all ~130k names in JavaScript, several times the
 * cost of this one). A name that carries a flavor itself is not indexed as such: byName.
 */
export function findByNameKind(btf: Btf, name: string, kind: number): TypeId | undefined {
  const ids =
    essentialNameLength(name) === name.length
      ? typesByEssentialName(btf, name, isDeclarationKind(kind) ? 'declarations' : 'types')
      : btf.byName(name);
  return ids.find((id) => btf.kindOf(id) === kind && btf.name(id) === name);
}

/** The BTF whose string section holds offset `off` (this one or an ancestor). */
function stringOwner(btf: Btf, off: number): Btf | undefined {
  let b: Btf | undefined = btf;
  while (b && off < b.startStrOff) b = b.base;
  return b && off - b.startStrOff < b.strings.length ? b : undefined;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Result slots of `hashEssential` (no allocation per name). */
let hashOut = 0;
let lenOut = 0;

/**
 * One forward pass over the NUL-terminated name at `s[start]`: FNV-1a of its essential part
 * into `hashOut`, that part's byte length into `lenOut`. The hash is remembered after each
 * byte that precedes a flavor separator (`x___y`); the last such point wins.
 */
function hashEssential(s: Uint8Array, start: number): void {
  const n = s.length;
  let h = FNV_OFFSET;
  let essH = 0;
  let essEnd = -1;
  let i = start;
  for (; i < n; i++) {
    const c = s[i] as number;
    if (c === 0) break;
    h = Math.imul(h ^ c, FNV_PRIME);
    if (
      c !== UNDERSCORE &&
      s[i + 1] === UNDERSCORE &&
      s[i + 2] === UNDERSCORE &&
      s[i + 3] === UNDERSCORE &&
      i + 4 < n &&
      s[i + 4] !== UNDERSCORE &&
      s[i + 4] !== 0
    ) {
      essH = h;
      essEnd = i + 1;
    }
  }
  if (essEnd < 0) {
    hashOut = h >>> 0;
    lenOut = i - start;
  } else {
    hashOut = essH >>> 0;
    lenOut = essEnd - start;
  }
}

function buildIndex(btf: Btf, group: NameGroup): EssentialIndex {
  // WebAssembly for a decoded non-split BTF (core/name-index.ts); JavaScript for the rest.
  return buildIndexWasm(btf, group === 'declarations') ?? buildIndexJs(btf, group);
}

/** buildIndex in JavaScript alone (exported for the test that holds the WebAssembly one to it). */
export function buildIndexJs(btf: Btf, group: NameGroup): EssentialIndex {
  const { startId } = btf;
  const n = btf.typeCount - startId;
  const wantDecl = group === 'declarations';
  let size = 16;
  while (size < n) size *= 2;
  const index: EssentialIndex = {
    head: new Int32Array(size),
    next: new Int32Array(n),
    hash: new Uint32Array(n),
    len: new Uint32Array(n),
    mask: size - 1,
  };
  for (let i = 0; i < n; i++) {
    // Kind and name offset straight from the record: no type object is built for the index.
    const nameOff = btf.nameOffOf(startId + i);
    if (nameOff === 0) continue;
    const k = btf.kindOf(startId + i);
    if ((k === FUNC || k === VAR || k === DATASEC || k === DECL_TAG) !== wantDecl) continue;
    const owner = nameOff >= btf.startStrOff ? btf : stringOwner(btf, nameOff);
    if (!owner || nameOff - owner.startStrOff >= owner.strings.length) continue;
    hashEssential(owner.strings, nameOff - owner.startStrOff);
    if (lenOut === 0) continue;
    const b = hashOut & index.mask;
    index.hash[i] = hashOut;
    index.len[i] = lenOut;
    index.next[i] = index.head[b] as number;
    index.head[b] = i + 1;
  }
  return index;
}

function lookup(btf: Btf, name: string, group: NameGroup): readonly TypeId[] {
  const indexes = INDEXES[group];
  let idx = indexes.get(btf);
  if (!idx) {
    idx = buildIndex(btf, group);
    indexes.set(btf, idx);
  }
  const want = encoder.encode(name);
  let h = FNV_OFFSET;
  for (let k = 0; k < want.length; k++) h = Math.imul(h ^ (want[k] as number), FNV_PRIME);
  h >>>= 0;
  const out: TypeId[] = [];
  for (let e = idx.head[h & idx.mask] as number; e !== 0; e = idx.next[e - 1] as number) {
    const i = e - 1;
    if (idx.hash[i] !== h || idx.len[i] !== want.length) continue;
    const nameOff = btf.nameOffOf(btf.startId + i);
    const owner = stringOwner(btf, nameOff) as Btf;
    const s = owner.strings;
    const start = nameOff - owner.startStrOff;
    let same = true;
    for (let k = 0; k < want.length && same; k++) same = s[start + k] === want[k];
    if (same) out.push(btf.startId + i);
  }
  // Buckets chain newest first; candidates must come in id order.
  return out.length > 1 ? out.sort((a, b) => a - b) : out;
}
