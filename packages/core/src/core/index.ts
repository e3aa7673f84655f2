export { type Candidate, findCandidates } from './candidates.ts';
export { cPath, cTypeName } from './describe.ts';
export { isEnumvalBased, isFieldBased, isTypeBased, RelocationKind, relocationKindName } from './kinds.ts';
export { matchCandidate } from './match.ts';
export {
  essentialName,
  essentialNameLength,
  essentialNamesEqual,
  findByNameKind,
  typesByEssentialName,
} from './names.ts';
export { oracleLines } from './oracle.ts';
export { Insns, POISON_IMM, patchInsn } from './patch.ts';
export {
  DEFAULT_LIBBPF,
  isLibbpfVersion,
  LIBBPF_VERSIONS,
  type LibbpfRules,
  type LibbpfVersion,
  libbpfRules,
} from './profile.ts';
export {
  type Calculated,
  type CoreRelo as CoreReloRecord,
  type DecideResult,
  type Decision,
  type Failed,
  isFailed,
  isPoisoned,
  type Outcome,
  type Patched,
  type Poisoned,
  type ProgramInsns,
  type RelocatableObject,
  type RelocateOptions,
  type RelocateResult,
  type Relocation,
  relocateObject,
} from './relocate.ts';
export { type Accessor, parseAccessString, parseSpec, type Spec, type SpecFailure } from './spec.ts';
export { fieldsAreCompat, typesAreCompat, typesMatch } from './type-compat.ts';
export { calcRelocation, type RelocationResult } from './value.ts';
