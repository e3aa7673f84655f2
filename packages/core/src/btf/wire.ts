// The numbers of BTF's wire format (the kernel's uapi btf.h), written in the subset of
// TypeScript that AssemblyScript compiles too: btf/kinds.ts, the JavaScript scan and
// printers, and their WebAssembly twins under packages/core/assembly/ (which import this
// file by relative path) all take them from here, so the two can never disagree.
//
// Why const enums and not `export const`: whatever ships inlines a const enum's members as
// literals (esbuild in the CLI bundle, tsc in dist/ through tsconfig.build.json, asc), and
// V8 turns a switch over literal cases into a jump table but one over named constants,
// imported or local, into a chain of compares: ~3x the dispatch time on Node 20 (20M
// dispatches over 19 kinds: ~57 ms against ~175 ms CPU). The hot switches are per record.
// Tests and tsx run the sources file by file, where the enum is a plain object: same
// values, slower switches.

/** BTF_KIND_*: the kind field of a record's info word. */
// biome-ignore lint/suspicious/noConstEnum: inlined as literals by every build (see above)
export const enum BtfKind {
  Unkn = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

/** The last kind this codec knows; later ones are read only through a layout section. */
export const MAX_KNOWN_KIND = BtfKind.Enum64;

/*
 * Sizes in bytes of a type record's parts: the common head (struct btf_type), the single
 * item some kinds append, and the item each vlen counts for the others. Plain constants
 * (no switch reads them; several are equal, which an enum's lint refuses).
 */
/** struct btf_type: name_off, info, size/type. */
export const RECORD_HEAD_BYTES = 12;
/** INT's encoding word. */
export const INT_ENCODING_BYTES = 4;
/** struct btf_array: type, index_type, nelems. */
export const ARRAY_BYTES = 12;
/** struct btf_member, one per vlen of STRUCT and UNION: name_off, type, offset. */
export const MEMBER_BYTES = 12;
/** struct btf_enum, one per vlen of ENUM: name_off, val. */
export const ENUM_VALUE_BYTES = 8;
/** struct btf_enum64, one per vlen of ENUM64: name_off, val_lo32, val_hi32. */
export const ENUM64_VALUE_BYTES = 12;
/** struct btf_param, one per vlen of FUNC_PROTO: name_off, type. */
export const PARAM_BYTES = 8;
/** struct btf_var: linkage. */
export const VAR_BYTES = 4;
/** struct btf_var_secinfo, one per vlen of DATASEC: type, offset, size. */
export const VAR_SECINFO_BYTES = 12;
/** struct btf_decl_tag: component_idx. */
export const DECL_TAG_BYTES = 4;

/** FUNC linkage (the vlen of a FUNC) and VAR linkage (btf_var.linkage). */
// biome-ignore lint/suspicious/noConstEnum: inlined as literals by every build (see above)
export const enum BtfLinkage {
  Static = 0,
  Global = 1,
  Extern = 2,
}

/** INT encoding bits (BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL). */
// biome-ignore lint/suspicious/noConstEnum: inlined as literals by every build (see above)
export const enum BtfIntEncoding {
  Signed = 1,
  Char = 2,
  Bool = 4,
}
