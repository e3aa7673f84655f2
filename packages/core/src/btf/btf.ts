import { errors } from '../errors/index.ts';
import { Kind } from './kinds.ts';
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

/** One record of the layout section: how to skip a kind (sizes in bytes). */
export interface LayoutEntry {
  infoSz: number;
  elemSz: number;
  flags: number;
}

export interface BtfInit {
  types: BtfType[];
  strings: Uint8Array;
  littleEndian: boolean;
  header?: BtfHeader;
  layout?: LayoutEntry[];
  base?: Btf;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * A BTF: its types by id, its string section, and (for split BTF) the base it extends.
 * Ids below `startId` and string offsets below `startStrOff` belong to the base.
 * Immutable after construction; the name index is built once, on first use.
 */
export class Btf {
  /** Types of this BTF only (not the base): `types[i]` has id `startId + i`. */
  readonly types: BtfType[];
  readonly strings: Uint8Array;
  readonly littleEndian: boolean;
  readonly header: BtfHeader | undefined;
  readonly layout: LayoutEntry[] | undefined;
  readonly base: Btf | undefined;
  readonly startId: TypeId;
  readonly startStrOff: number;
  private readonly strCache = new Map<number, string>();
  private nameIndex: Map<string, TypeId[]> | undefined;

  constructor(init: BtfInit) {
    this.types = init.types;
    this.strings = init.strings;
    this.littleEndian = init.littleEndian;
    this.header = init.header;
    this.layout = init.layout;
    this.base = init.base;
    this.startId = init.base ? init.base.typeCount : 1;
    this.startStrOff = init.base ? init.base.startStrOff + init.base.strings.length : 0;
  }

  /** Number of ids including void and the base's: valid ids are 0 .. typeCount-1. */
  get typeCount(): number {
    return this.startId + this.types.length;
  }

  /** The type with this id (void for 0), looking into the base for base ids. */
  type(id: TypeId): BtfType {
    if (id >= this.startId) {
      const t = this.types[id - this.startId];
      if (t === undefined) throw errors.badBtf(0, `type id ${id} out of range (max ${this.typeCount - 1})`);
      return t;
    }
    if (id === 0) return VOID;
    if (this.base) return this.base.type(id);
    throw errors.badBtf(0, `type id ${id} out of range`);
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
    const s = decodeAscii(this.strings, local, end);
    this.strCache.set(off, s);
    return s;
  }

  /** The name of a type ('' for anonymous types and void). */
  name(id: TypeId): string {
    return this.str(this.type(id).nameOff);
  }

  /**
   * Ids of all types of this BTF and its base with exactly this name, ascending.
   * The index is built once per BTF.
   */
  byName(name: string): readonly TypeId[] {
    const own = this.index().get(name) ?? EMPTY;
    if (!this.base) return own;
    const fromBase = this.base.byName(name);
    if (fromBase.length === 0) return own;
    if (own.length === 0) return fromBase;
    return [...fromBase, ...own];
  }

  /** Every (name, ids) pair of this BTF only (not the base). */
  names(): ReadonlyMap<string, readonly TypeId[]> {
    return this.index();
  }

  private index(): Map<string, TypeId[]> {
    if (this.nameIndex) return this.nameIndex;
    const idx = new Map<string, TypeId[]>();
    const { types, startId } = this;
    for (let i = 0; i < types.length; i++) {
      const t = types[i] as BtfType;
      if (t.nameOff === 0) continue;
      const n = this.str(t.nameOff);
      if (n === '') continue;
      const list = idx.get(n);
      if (list) list.push(startId + i);
      else idx.set(n, [startId + i]);
    }
    this.nameIndex = idx;
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
const MAX_CHAIN = 1024;

export function isMod(kind: number): boolean {
  return kind === Kind.Volatile || kind === Kind.Const || kind === Kind.Restrict || kind === Kind.TypeTag;
}

export function isModOrTypedef(kind: number): boolean {
  return isMod(kind) || kind === Kind.Typedef;
}

/** Fast path for the (almost always ASCII) identifiers of BTF; falls back to UTF-8. */
function decodeAscii(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return utf8.decode(bytes.subarray(start, end));
  let s = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    if (c >= 0x80) return utf8.decode(bytes.subarray(start, end));
    s += String.fromCharCode(c);
  }
  return s;
}
