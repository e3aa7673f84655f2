/** BTF kind numbers, as in the kernel's uapi btf.h (BTF_KIND_*). */
export const Kind = {
  Unkn: 0,
  Int: 1,
  Ptr: 2,
  Array: 3,
  Struct: 4,
  Union: 5,
  Enum: 6,
  Fwd: 7,
  Typedef: 8,
  Volatile: 9,
  Const: 10,
  Restrict: 11,
  Func: 12,
  FuncProto: 13,
  Var: 14,
  Datasec: 15,
  Float: 16,
  DeclTag: 17,
  TypeTag: 18,
  Enum64: 19,
} as const;
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

export const MAX_KNOWN_KIND = 19;

/** INT encoding bits (BTF_INT_SIGNED etc.). */
export const IntEncoding = { Signed: 1, Char: 2, Bool: 4 } as const;

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

/** FUNC linkage (vlen of a FUNC) and VAR linkage. */
export const Linkage = { Static: 0, Global: 1, Extern: 2 } as const;
