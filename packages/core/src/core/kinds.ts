/**
 * CO-RE relocation kinds (`enum bpf_core_relo_kind` in libbpf), with the names libbpf prints
 * in its log and core-oracle copies into its `kind` field.
 */
export const RelocationKind = {
  FieldByteOffset: 0,
  FieldByteSize: 1,
  FieldExists: 2,
  FieldSigned: 3,
  FieldLshiftU64: 4,
  FieldRshiftU64: 5,
  TypeIdLocal: 6,
  TypeIdTarget: 7,
  TypeExists: 8,
  TypeSize: 9,
  EnumvalExists: 10,
  EnumvalValue: 11,
  TypeMatches: 12,
} as const;
export type RelocationKind = (typeof RelocationKind)[keyof typeof RelocationKind];

const KIND_NAMES: readonly string[] = [
  'byte_off',
  'byte_sz',
  'field_exists',
  'signed',
  'lshift_u64',
  'rshift_u64',
  'local_type_id',
  'target_type_id',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
];

/** libbpf's `core_relo_kind_str`: "unknown" for numbers it does not know. */
export function relocationKindName(kind: number): string {
  return KIND_NAMES[kind] ?? 'unknown';
}

export function isFieldBased(kind: number): boolean {
  return kind >= RelocationKind.FieldByteOffset && kind <= RelocationKind.FieldRshiftU64;
}

export function isTypeBased(kind: number): boolean {
  return (
    (kind >= RelocationKind.TypeIdLocal && kind <= RelocationKind.TypeSize) ||
    kind === RelocationKind.TypeMatches
  );
}

export function isEnumvalBased(kind: number): boolean {
  return kind === RelocationKind.EnumvalExists || kind === RelocationKind.EnumvalValue;
}
