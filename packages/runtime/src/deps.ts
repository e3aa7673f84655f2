/**
 * Everything the runtime takes from @btfkit/core, in one place, through the package's public
 * entry: in the workspace (vitest, `node --conditions=@btfkit/source`, tsc's customConditions)
 * the `@btfkit/source` export condition resolves it to core's TypeScript sources; installed or
 * bundled, to core's built dist/.
 */

export {
  type BpfObject,
  type BpfProgram,
  Btf,
  type BtfExt,
  BtfkitError,
  type BtfType,
  createCodecs,
  type DatasecType,
  decodeBtf,
  type Elf,
  type ElfSection,
  type ElfSymbol,
  encodeBtf,
  errors,
  extInfoSectionName,
  extSectionName,
  inFile,
  isFailed,
  isPoisoned,
  Kind,
  Linkage,
  parseBpfObject,
  parseElf,
  type RelocateResult,
  type Relocation,
  RUNNING_KERNEL_BTF,
  type RuntimeCodec,
  readBtfSourceSync,
  relocateObject,
  SHN,
  SHT,
  STB,
  STT,
  StringTableBuilder,
  type TypeDesc,
  TypeDescriber,
  type TypeId,
  type VarType,
} from '@btfkit/core';
