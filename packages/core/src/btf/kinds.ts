import { BtfIntEncoding, BtfKind, BtfLinkage } from './wire.ts';

export { MAX_KNOWN_KIND } from './wire.ts';

/** A const enum member's type as the plain number literal it stands for. */
type NumberOf<E extends number> = `${E}` extends `${infer N extends number}` ? N : never;
/** An object of const enum members, typed with plain number literals. */
type Numbers<T extends Record<string, number>> = { readonly [K in keyof T]: NumberOf<T[K]> };

const KIND = {
  Unkn: BtfKind.Unkn,
  Int: BtfKind.Int,
  Ptr: BtfKind.Ptr,
  Array: BtfKind.Array,
  Struct: BtfKind.Struct,
  Union: BtfKind.Union,
  Enum: BtfKind.Enum,
  Fwd: BtfKind.Fwd,
  Typedef: BtfKind.Typedef,
  Volatile: BtfKind.Volatile,
  Const: BtfKind.Const,
  Restrict: BtfKind.Restrict,
  Func: BtfKind.Func,
  FuncProto: BtfKind.FuncProto,
  Var: BtfKind.Var,
  Datasec: BtfKind.Datasec,
  Float: BtfKind.Float,
  DeclTag: BtfKind.DeclTag,
  TypeTag: BtfKind.TypeTag,
  Enum64: BtfKind.Enum64,
} as const;

/**
 * BTF kind numbers by name, for code and users that pass kinds around as values: wire.ts's
 * `BtfKind` (which hot switches use, as literals) as a plain object with number types, so
 * the public types name no const enum.
 */
export const Kind: Numbers<typeof KIND> = KIND;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Names as bpftool prints them (`[1] INT 'int' ...`). */
export const KIND_NAMES: readonly string[] = [
  'UNKNOWN',
  'INT',
  'PTR',
  'ARRAY',
  'STRUCT',
  'UNION',
  'ENUM',
  'FWD',
  'TYPEDEF',
  'VOLATILE',
  'CONST',
  'RESTRICT',
  'FUNC',
  'FUNC_PROTO',
  'VAR',
  'DATASEC',
  'FLOAT',
  'DECL_TAG',
  'TYPE_TAG',
  'ENUM64',
];

const INT_ENCODING = {
  Signed: BtfIntEncoding.Signed,
  Char: BtfIntEncoding.Char,
  Bool: BtfIntEncoding.Bool,
} as const;
/** INT encoding bits (BTF_INT_SIGNED etc.). */
export const IntEncoding: Numbers<typeof INT_ENCODING> = INT_ENCODING;

/**
 * The spellings of `long` and `unsigned long` libbpf's btf__pointer_size() looks for: the
 * first 4- or 8-byte INT named so gives raw BTF its pointer size.
 */
export const LONG_INT_NAMES: ReadonlySet<string> = new Set([
  'long',
  'long int',
  'int long',
  'unsigned long',
  'long unsigned',
  'unsigned long int',
  'unsigned int long',
  'long unsigned int',
  'long int unsigned',
  'int unsigned long',
  'int long unsigned',
]);

const LINKAGE = {
  Static: BtfLinkage.Static,
  Global: BtfLinkage.Global,
  Extern: BtfLinkage.Extern,
} as const;
/** FUNC linkage (vlen of a FUNC) and VAR linkage. */
export const Linkage: Numbers<typeof LINKAGE> = LINKAGE;
