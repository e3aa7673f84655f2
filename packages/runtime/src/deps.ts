/**
 * Everything the runtime takes from @btfkit/core, in one place. Stages that @btfkit/core's
 * entry module does not export yet (codegen, kernels, core) come by source path inside the
 * workspace; when the entry exports them, only this file changes.
 */
export {
  type BpfObject,
  type BpfProgram,
  Btf,
  type BtfExt,
  BtfkitError,
  type BtfType,
  type DatasecType,
  decodeBtf,
  type Elf,
  type ElfSection,
  type ElfSymbol,
  encodeBtf,
  errors,
  extSectionName,
  Kind,
  Linkage,
  parseBpfObject,
  parseElf,
  SHN,
  SHT,
  STB,
  STT,
  type TypeId,
  type VarType,
} from '@btfkit/core';
export {
  createCodecs,
  type RuntimeCodec,
  type TypeDesc,
  TypeDescriber,
} from '../../core/src/codegen/index.ts';
export {
  isFailed,
  isPoisoned,
  type RelocateResult,
  type Relocation,
  relocateObject,
} from '../../core/src/core/index.ts';
export { RUNNING_KERNEL_BTF, readBtfSourceSync } from '../../core/src/kernels/index.ts';
