/**
 * Everything the runtime takes from @btfkit/core, in one place, by source path inside the
 * workspace: plain `node --import tsx` runs (pnpm bench, examples) do not resolve the
 * `@btfkit/source` export condition, and the entry module does not export every stage yet.
 * When @btfkit/core is built and exports them, only this file changes.
 */

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
  inFile,
  Kind,
  Linkage,
  parseBpfObject,
  parseElf,
  SHN,
  SHT,
  STB,
  STT,
  StringTableBuilder,
  type TypeId,
  type VarType,
} from '../../core/src/index.ts';
export { RUNNING_KERNEL_BTF, readBtfSourceSync } from '../../core/src/kernels/index.ts';
