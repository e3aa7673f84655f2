import { type Btf, type BtfType, IntEncoding, Kind, type TypeId } from '../btf/index.ts';
import { LONG_INT_NAMES } from '../btf/kinds.ts';
import { Errno } from './errno.ts';

/**
 * The BTF helpers the CO-RE engine needs, with libbpf 1.1's exact semantics (including
 * where those differ from the codec's own helpers: a bounded walk, null for bad ids).
 */

/** `btf__type_by_id`: undefined for an id past the end. */
export function typeById(btf: Btf, id: TypeId): BtfType | undefined {
  return id >= 0 && id < btf.typeCount ? btf.type(id) : undefined;
}

// Module constants, not `Kind.X` at each use: these helpers run for every step of every
// candidate match, and a module-local constant costs nothing under any loader.
const VOLATILE = Kind.Volatile;
const CONST = Kind.Const;
const RESTRICT = Kind.Restrict;
const TYPE_TAG = Kind.TypeTag;
const TYPEDEF = Kind.Typedef;
const STRUCT = Kind.Struct;
const UNION = Kind.Union;
const ENUM = Kind.Enum;
const ENUM64 = Kind.Enum64;

export function isModOrTypedefKind(kind: number): boolean {
  return kind === VOLATILE || kind === CONST || kind === RESTRICT || kind === TYPE_TAG || kind === TYPEDEF;
}

/**
 * `skip_mods_and_typedefs`: the id reached after following const/volatile/restrict/type tags
 * and typedefs, or -1 for a dangling id. libbpf would loop forever on a cycle; we stop.
 */
export function skipModsAndTypedefs(btf: Btf, id: TypeId): TypeId {
  for (let depth = 0; depth < 4096; depth++) {
    if (id < 0 || id >= btf.typeCount) return -1;
    const t = btf.type(id);
    const k = t.kind;
    if (k !== VOLATILE && k !== CONST && k !== RESTRICT && k !== TYPE_TAG && k !== TYPEDEF) return id;
    id = (t as { type: TypeId }).type;
  }
  return -1;
}

export function isComposite(t: BtfType): boolean {
  return t.kind === STRUCT || t.kind === UNION;
}

export function isAnyEnum(t: BtfType): boolean {
  return t.kind === ENUM || t.kind === ENUM64;
}

/** `btf_kind_core_compat`: same kind, or enum vs enum64. */
export function kindsCoreCompat(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** `vlen` of a type as libbpf reads it from the info word. */
export function vlen(t: BtfType): number {
  switch (t.kind) {
    case Kind.Struct:
    case Kind.Union:
      return t.members.length;
    case Kind.Enum:
    case Kind.Enum64:
      return t.values.length;
    case Kind.FuncProto:
      return t.params.length;
    case Kind.Datasec:
      return t.vars.length;
    case Kind.Func:
      return t.linkage;
    default:
      return t.rawVlen ?? 0;
  }
}

/** The `size` half of the size/type union (0 for kinds that keep a type id there). */
export function sizeField(t: BtfType): number {
  return 'size' in t ? t.size : 0;
}

/** The INT encoding bits of a real INT. */
export function intEncoding(t: BtfType): number {
  return t.kind === Kind.Int ? t.encoding : 0;
}

export function intOffset(t: BtfType): number {
  return t.kind === Kind.Int ? t.bitOffset : 0;
}

const POINTER_SIZES = new WeakMap<Btf, number>();

/**
 * libbpf's pointer-size guess: the size of the first 4- or 8-byte INT spelled like `long`,
 * else the host's (8). Objects opened by libbpf are forced to 8; kernels always carry `long`.
 */
export function pointerSize(btf: Btf): number {
  const known = POINTER_SIZES.get(btf);
  if (known !== undefined) return known;
  let size = btf.base ? pointerSize(btf.base) : -1;
  if (!btf.base) {
    for (let id = 1; id < btf.typeCount; id++) {
      const t = btf.type(id);
      if (t.kind !== Kind.Int || (t.size !== 4 && t.size !== 8)) continue;
      if (LONG_INT_NAMES.has(btf.str(t.nameOff))) {
        size = t.size;
        break;
      }
    }
  }
  if (size < 0) size = 8;
  POINTER_SIZES.set(btf, size);
  return size;
}

const MAX_RESOLVE_DEPTH = 32;
const U32_MAX = 0xffffffff;

/**
 * `btf__resolve_size`: byte size of a type, multiplying through arrays; a negative errno for
 * types without a size (void, FWD, FUNC_PROTO, chains deeper than 32) or u32 overflow.
 */
export function resolveSize(btf: Btf, id: TypeId): number {
  let nelems = 1;
  let size = -1;
  let t = typeById(btf, id);
  for (let i = 0; i < MAX_RESOLVE_DEPTH && t !== undefined && t.kind !== Kind.Unkn; i++) {
    switch (t.kind) {
      case Kind.Int:
      case Kind.Struct:
      case Kind.Union:
      case Kind.Enum:
      case Kind.Enum64:
      case Kind.Datasec:
      case Kind.Float:
        size = t.size;
        break;
      case Kind.Ptr:
        size = pointerSize(btf);
        break;
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.Var:
      case Kind.DeclTag:
      case Kind.TypeTag:
        id = t.type;
        break;
      case Kind.Array:
        if (nelems !== 0 && t.nelems > Math.floor(U32_MAX / nelems)) return Errno.E2BIG;
        nelems *= t.nelems;
        id = t.type;
        break;
      default:
        return Errno.EINVAL;
    }
    if (size >= 0) break;
    t = typeById(btf, id);
  }
  if (size < 0) return Errno.EINVAL;
  if (nelems !== 0 && size > Math.floor(U32_MAX / nelems)) return Errno.E2BIG;
  return nelems * size;
}

/**
 * The u32 that follows a type's 12-byte common part in libbpf's memory image of the BTF.
 * libbpf 1.1's FIELD_SIGNED reads it as an INT encoding word whatever the kind is; for kinds
 * without trailing data it is the next record's name offset (or, after the last record, the
 * start of the string section).
 */
export function wordAfterCommon(btf: Btf, id: TypeId): number {
  if (id < btf.startId && btf.base) return wordAfterCommon(btf.base, id);
  const t = typeById(btf, id);
  if (!t || id === 0) return 0;
  switch (t.kind) {
    case Kind.Int:
      return (
        t.rawEncoding ?? (((t.encoding & 0x0f) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff)) >>> 0
      );
    case Kind.Array:
      return t.type;
    case Kind.Var:
      return t.linkage >>> 0;
    case Kind.DeclTag:
      return t.componentIdx >>> 0;
    case Kind.Struct:
    case Kind.Union:
      if (t.members[0]) return t.members[0].nameOff;
      break;
    case Kind.Enum:
    case Kind.Enum64:
      if (t.values[0]) return t.values[0].nameOff;
      break;
    case Kind.FuncProto:
      if (t.params[0]) return t.params[0].nameOff;
      break;
    case Kind.Datasec:
      if (t.vars[0]) return t.vars[0].type;
      break;
  }
  const next = id + 1 < btf.typeCount ? btf.type(id + 1) : undefined;
  if (next) return next.nameOff;
  // Past the last record: the type section is followed by the string section in the files
  // libbpf reads (type_off + type_len == str_off), so the word is its first four bytes.
  const s = btf.strings;
  const b = (i: number) => s[i] ?? 0;
  return btf.littleEndian
    ? (b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24)) >>> 0
    : ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
}

/** libbpf 1.1's `btf_int_encoding(mt) & BTF_INT_SIGNED` on a type of any kind. */
export function signedBitQuirk(btf: Btf, id: TypeId): boolean {
  return (((wordAfterCommon(btf, id) & 0x0f000000) >>> 24) & IntEncoding.Signed) !== 0;
}
