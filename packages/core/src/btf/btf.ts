import { decodeName } from '../bytes/text.ts';
import { errors } from '../errors/index.ts';
import { Kind } from './kinds.ts';
import { type LayoutEntry, TypeRecords } from './records.ts';

export type { LayoutEntry } from './records.ts';

import { type BtfType, type TypeId, VOID } from './types.ts';

/** The decoded header, as found in the file. */
export interface BtfHeader {
  version: number;
  flags: number;
  /** 24 (classic) or 32 (with the layout section fields); larger values are kept as read. */
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
  /** Present only when hdrLen >= 32. */
  layoutOff?: number;
  layoutLen?: number;
  /** Header bytes past the fields we know (hdrLen > 32), verbatim, for exact re-encoding. */
  extra?: Uint8Array;
}

export interface BtfInit {
  /** The types in id order, or (from decodeBtf) the scanned records to build them from on demand. */
  types: BtfType[] | TypeRecords;
  strings: Uint8Array;
  littleEndian: boolean;
  header?: BtfHeader;
  layout?: LayoutEntry[];
  base?: Btf;
}

const utf8Encoder = new TextEncoder();

/**
 * A BTF: its types by id, its string section, and (for split BTF) the base it extends.
 * Ids below `startId` and string offsets below `startStrOff` belong to the base.
 * Immutable after construction. A decoded BTF builds each type object on first `type(id)`
 * (or all of them on first `types`); the name index is built once, on first use, from the
 * string bytes.
 */
export class Btf {
  readonly strings: Uint8Array;
  readonly littleEndian: boolean;
  readonly header: BtfHeader | undefined;
  readonly layout: LayoutEntry[] | undefined;
  readonly base: Btf | undefined;
  /**
   * Where the bytes came from, when decoded from a named file: errors later stages find in
   * these types (the C printer, the minimizer, candidate matching) name it, with record
   * offsets shifted by `fileOffset` (the BTF's position in that file).
   */
  source: { file: string; fileOffset: number } | undefined;
  readonly startId: TypeId;
  readonly startStrOff: number;
  /** Own types built so far, by index (holes not yet built); complete when `records` is unset. */
  private own: BtfType[];
  private records: TypeRecords | undefined;
  /** The decoded records, kept after `types` has built everything (undefined if built from objects). */
  private readonly scanned: TypeRecords | undefined;
  private readonly count: number;
  private readonly strCache = new Map<number, string>();
  private nameHash: NameHash | undefined;
  private readonly byNameCache = new Map<string, readonly TypeId[]>();
  private nameMap: Map<string, TypeId[]> | undefined;

  constructor(init: BtfInit) {
    if (init.types instanceof TypeRecords) {
      this.records = init.types;
      this.scanned = init.types;
      this.count = init.types.count;
      this.own = new Array(this.count);
    } else {
      this.records = undefined;
      this.scanned = undefined;
      this.count = init.types.length;
      this.own = init.types;
    }
    this.strings = init.strings;
    this.littleEndian = init.littleEndian;
    this.header = init.header;
    this.layout = init.layout;
    this.base = init.base;
    this.startId = init.base ? init.base.typeCount : 1;
    this.startStrOff = init.base ? init.base.startStrOff + init.base.strings.length : 0;
  }

  /** Types of this BTF only (not the base): `types[i]` has id `startId + i`. Builds all on first use. */
  get types(): BtfType[] {
    const records = this.records;
    if (records) {
      const own = this.own;
      for (let i = 0; i < this.count; i++) if (own[i] === undefined) own[i] = records.materialize(i);
      this.records = undefined;
    }
    return this.own;
  }

  /**
   * The own types' records as decoded (read-only), for printers that walk every type and
   * need no objects; undefined for a BTF built from type objects.
   */
  get rawRecords(): TypeRecords | undefined {
    return this.scanned;
  }

  /** Number of ids including void and the base's: valid ids are 0 .. typeCount-1. */
  get typeCount(): number {
    return this.startId + this.count;
  }

  /** The type with this id (void for 0), looking into the base for base ids. */
  type(id: TypeId): BtfType {
    const i = id - this.startId;
    if (i >= 0) {
      const t = this.own[i];
      if (t !== undefined) return t;
      if (i < this.count && this.records) {
        const built = this.records.materialize(i);
        this.own[i] = built;
        return built;
      }
      throw errors.badBtf(0, `type id ${id} out of range (max ${this.typeCount - 1})`);
    }
    if (id === 0) return VOID;
    if (this.base) return this.base.type(id);
    throw errors.badBtf(0, `type id ${id} out of range`);
  }

  /** `type(id).kind` without building the type object (UNKNOWN_KIND for layout-described kinds). */
  kindOf(id: TypeId): number {
    const i = id - this.startId;
    if (i >= 0 && i < this.count) return this.records ? this.records.kind(i) : (this.own[i] as BtfType).kind;
    return this.type(id).kind;
  }

  /** `type(id).nameOff` without building the type object. */
  nameOffOf(id: TypeId): number {
    const i = id - this.startId;
    if (i >= 0 && i < this.count)
      return this.records ? this.records.nameOff(i) : (this.own[i] as BtfType).nameOff;
    return this.type(id).nameOff;
  }

  /** Whether `id` names a type of this BTF or its base. */
  has(id: TypeId): boolean {
    return id >= 0 && id < this.typeCount;
  }

  /** Whether a string offset is valid (inside this BTF's or the base's string section). */
  hasString(off: number): boolean {
    if (off < this.startStrOff) return this.base ? this.base.hasString(off) : off === 0;
    return off - this.startStrOff < this.strings.length;
  }

  /** The NUL-terminated string at `off` (split BTF: base offsets go to the base). */
  str(off: number): string {
    if (off < this.startStrOff) {
      if (this.base) return this.base.str(off);
      return '';
    }
    const cached = this.strCache.get(off);
    if (cached !== undefined) return cached;
    const local = off - this.startStrOff;
    if (local >= this.strings.length)
      throw errors.badString(0, `string offset ${off} is past the string section`);
    let end = this.strings.indexOf(0, local);
    if (end < 0) end = this.strings.length;
    const s = decodeName(this.strings, local, end);
    this.strCache.set(off, s);
    return s;
  }

  /** The name of a type ('' for anonymous types and void). */
  name(id: TypeId): string {
    return this.str(this.nameOffOf(id));
  }

  /**
   * Ids of all types of this BTF and its base with exactly this name, ascending.
   * The index is built once per BTF (hashes of the name bytes; no string per type).
   */
  byName(name: string): readonly TypeId[] {
    let own = this.byNameCache.get(name);
    if (own === undefined) {
      own = this.lookupOwn(name);
      this.byNameCache.set(name, own);
    }
    if (!this.base) return own;
    const fromBase = this.base.byName(name);
    if (fromBase.length === 0) return own;
    if (own.length === 0) return fromBase;
    return [...fromBase, ...own];
  }

  /** Every (name, ids) pair of this BTF only (not the base). Decodes every name: for listings. */
  names(): ReadonlyMap<string, readonly TypeId[]> {
    if (this.nameMap) return this.nameMap;
    const idx = new Map<string, TypeId[]>();
    for (let i = 0; i < this.count; i++) {
      const off = this.nameOffOf(this.startId + i);
      if (off === 0) continue;
      const n = this.str(off);
      if (n === '') continue;
      const list = idx.get(n);
      if (list) list.push(this.startId + i);
      else idx.set(n, [this.startId + i]);
    }
    this.nameMap = idx;
    return idx;
  }

  /** Where the string at `off` lives: the section holding it and the index there (-1: nowhere). */
  private stringAt(off: number): [Uint8Array, number] {
    let b: Btf | undefined = this;
    while (b && off < b.startStrOff) b = b.base;
    if (!b) return [this.strings, -1];
    const local = off - b.startStrOff;
    return local < b.strings.length ? [b.strings, local] : [this.strings, -1];
  }

  private lookupOwn(name: string): readonly TypeId[] {
    if (name === '' || this.count === 0) return EMPTY;
    const want = utf8Encoder.encode(name);
    const h = fnv1a(want, 0, want.length);
    if (!this.nameHash) this.nameHash = this.buildNameHash();
    const idx = this.nameHash;
    const out: TypeId[] = [];
    for (let e = idx.head[h & idx.mask] as number; e !== 0; e = idx.next[e - 1] as number) {
      const i = e - 1;
      if (idx.hash[i] !== h) continue;
      const [s, at] = this.stringAt(this.nameOffOf(this.startId + i));
      if (s[at + want.length] !== 0 && at + want.length !== s.length) continue;
      let same = true;
      for (let k = 0; k < want.length && same; k++) same = s[at + k] === want[k];
      if (same) out.push(this.startId + i);
    }
    return out.length === 0 ? EMPTY : out;
  }

  /** Chained hash of every own named type, by FNV-1a of its name bytes; chains in id order. */
  private buildNameHash(): NameHash {
    const n = this.count;
    let size = 16;
    while (size < n) size *= 2;
    const idx: NameHash = {
      head: new Int32Array(size),
      next: new Int32Array(n),
      hash: new Uint32Array(n),
      mask: size - 1,
    };
    // Backwards, so that each chain lists ids ascending.
    for (let i = n - 1; i >= 0; i--) {
      const off = this.nameOffOf(this.startId + i);
      if (off === 0) continue;
      const [s, at] = off >= this.startStrOff ? [this.strings, off - this.startStrOff] : this.stringAt(off);
      if (at < 0 || at >= s.length || s[at] === 0) continue;
      let end = s.indexOf(0, at);
      if (end < 0) end = s.length;
      const h = fnv1a(s, at, end);
      const b = h & idx.mask;
      idx.hash[i] = h;
      idx.next[i] = idx.head[b] as number;
      idx.head[b] = i + 1;
    }
    return idx;
  }

  /** Follows typedefs and modifiers (const, volatile, restrict, type tag) to the underlying id. */
  skipModsAndTypedefs(id: TypeId): TypeId {
    let t = this.type(id);
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      if (!isModOrTypedef(t.kind)) return id;
      id = (t as { type: TypeId }).type;
      t = this.type(id);
    }
    return id;
  }

  /** Follows modifiers (not typedefs). */
  skipMods(id: TypeId): TypeId {
    let t = this.type(id);
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      if (!isMod(t.kind)) return id;
      id = (t as { type: TypeId }).type;
      t = this.type(id);
    }
    return id;
  }
}

const EMPTY: readonly TypeId[] = Object.freeze([]);

/** Bucket heads (own type index + 1, 0 = empty) by hash & mask; `next` chains; `hash` per type. */
interface NameHash {
  head: Int32Array;
  next: Int32Array;
  hash: Uint32Array;
  mask: number;
}

function fnv1a(s: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (s[i] as number), 0x01000193);
  return h >>> 0;
}
const MAX_CHAIN = 1024;

export function isMod(kind: number): boolean {
  return kind === Kind.Volatile || kind === Kind.Const || kind === Kind.Restrict || kind === Kind.TypeTag;
}

export function isModOrTypedef(kind: number): boolean {
  return isMod(kind) || kind === Kind.Typedef;
}
