export * from './btf/index.ts';
export * from './btfext/index.ts';
export {
  buildSkeletonModel,
  CODEGEN_RUNTIME,
  type ColumnArrayType,
  type ColumnSpec,
  columnLayout,
  createCodecs,
  type RuntimeCodec,
  type SkeletonModel,
  skeletonDts,
  type TypeDesc,
  TypeDescriber,
} from './codegen/index.ts';
export * from './compat/index.ts';
export {
  DEFAULT_LIBBPF,
  findByNameKind,
  isFailed,
  isLibbpfVersion,
  isPoisoned,
  LIBBPF_VERSIONS,
  type LibbpfVersion,
  type RelocateResult,
  type Relocation,
  relocateObject,
} from './core/index.ts';
export * from './elf/index.ts';
export * from './errors/index.ts';
export * from './insn/index.ts';
export * from './kernels/index.ts';
export { minimizeKernels } from './minimize/batch/driver.ts';
export { storePath } from './minimize/batch/store.ts';
export type { BatchKernel, KernelOutcome } from './minimize/batch/types.ts';
export { type MinimizeOptions, minimizeBtf } from './minimize/minimize.ts';
export * from './sections/index.ts';
