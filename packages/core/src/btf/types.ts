import type { Kind } from './kinds.ts';

/** A type id: 0 is void, base types start at 1, split BTF continues at its base's count. */
export type TypeId = number;

/**
 * One decoded BTF type record. Fields mirror the wire format (string offsets, not strings)
 * so that decode → encode is exact; `Btf.name()` resolves them. `kflag` is the info word's
 * bit 31. Variable-length parts live in the kind-specific arrays.
 */
export type BtfType =
  | IntType
  | RefType
  | ArrayType
  | CompositeType
  | EnumType
  | Enum64Type
  | FwdType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType
  | VoidType
  | UnknownType;

interface Common {
  /** Offset of the name in the (possibly base-inherited) string section; 0 = anonymous. */
  nameOff: number;
  kflag: boolean;
  /** Non-zero vlen bits on a kind that has no vlen, kept only so odd input re-encodes exactly. */
  rawVlen?: number;
  /** Non-zero size/type word on a kind that has none (FWD, ARRAY), kept for exact re-encoding. */
  rawSizeOrType?: number;
}

export interface IntType extends Common {
  kind: typeof Kind.Int;
  size: number;
  /** BTF_INT_ENCODING: IntEncoding bits. */
  encoding: number;
  /** BTF_INT_OFFSET (legacy bitfield encoding; 0 from modern producers). */
  bitOffset: number;
  /** BTF_INT_BITS. */
  bits: number;
  /** The whole encoding word when it has bits outside the three fields (exact re-encoding). */
  rawEncoding?: number;
}

/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG: a name (typedef/tag) and a referenced type. */
export interface RefType extends Common {
  kind:
    | typeof Kind.Ptr
    | typeof Kind.Typedef
    | typeof Kind.Volatile
    | typeof Kind.Const
    | typeof Kind.Restrict
    | typeof Kind.TypeTag;
  type: TypeId;
}

export interface ArrayType extends Common {
  kind: typeof Kind.Array;
  type: TypeId;
  indexType: TypeId;
  nelems: number;
}

export interface Member {
  nameOff: number;
  type: TypeId;
  /** Bit offset of the member (kflag structs: low 24 bits of the wire offset). */
  bitOffset: number;
  /** Bitfield size from the wire offset's top 8 bits (kflag structs only); 0 = not a bitfield. */
  bitfieldSize: number;
}

export interface CompositeType extends Common {
  kind: typeof Kind.Struct | typeof Kind.Union;
  size: number;
  members: Member[];
}

export interface EnumValue {
  nameOff: number;
  /** The raw 32-bit value as stored (interpret as signed when the enum's kflag is set). */
  value: number;
}

export interface EnumType extends Common {
  kind: typeof Kind.Enum;
  size: number;
  values: EnumValue[];
}

export interface Enum64Value {
  nameOff: number;
  lo: number;
  hi: number;
}

export interface Enum64Type extends Common {
  kind: typeof Kind.Enum64;
  size: number;
  values: Enum64Value[];
}

/** FWD: kflag set = union, clear = struct. */
export interface FwdType extends Common {
  kind: typeof Kind.Fwd;
}

export interface FuncType extends Common {
  kind: typeof Kind.Func;
  type: TypeId;
  /** Linkage (the vlen field of a FUNC). */
  linkage: number;
}

export interface Param {
  nameOff: number;
  type: TypeId;
}

export interface FuncProtoType extends Common {
  kind: typeof Kind.FuncProto;
  /** Return type. */
  type: TypeId;
  params: Param[];
}

export interface VarType extends Common {
  kind: typeof Kind.Var;
  type: TypeId;
  linkage: number;
}

export interface DatasecVar {
  type: TypeId;
  offset: number;
  size: number;
}

export interface DatasecType extends Common {
  kind: typeof Kind.Datasec;
  size: number;
  vars: DatasecVar[];
}

export interface FloatType extends Common {
  kind: typeof Kind.Float;
  size: number;
}

export interface DeclTagType extends Common {
  kind: typeof Kind.DeclTag;
  type: TypeId;
  /** -1 = the whole declaration, else member/parameter index. */
  componentIdx: number;
}

/** Type id 0. Never encoded; `Btf.type(0)` returns the shared VOID. */
export interface VoidType extends Common {
  kind: typeof Kind.Unkn;
}

export const VOID: VoidType = Object.freeze({ kind: 0, nameOff: 0, kflag: false }) as VoidType;

/** Marker kind for records of a kind this codec does not know. */
export const UNKNOWN_KIND = -1;

/**
 * A kind this codec does not know, skipped using the 32-byte header's layout section.
 * Kept verbatim so encoding reproduces it.
 */
export interface UnknownType extends Common {
  kind: typeof UNKNOWN_KIND;
  /** The kind number from the info word. */
  rawKind: number;
  vlen: number;
  /** The u32 after info (size/type union). */
  sizeOrType: number;
  /** Trailing bytes after the 12-byte common part, as in the file's byte order. */
  trailing: Uint8Array;
}
