export * from './btf/index.ts';
export * from './btfext/index.ts';
export {
  buildSkeletonModel,
  CODEGEN_RUNTIME,
  createCodecs,
  type RuntimeCodec,
  type SkeletonModel,
  skeletonDts,
  type TypeDesc,
  TypeDescriber,
} from './codegen/index.ts';
export * from './compat/index.ts';
export { isFailed, isPoisoned, type RelocateResult, type Relocation, relocateObject } from './core/index.ts';
export * from './elf/index.ts';
export * from './errors/index.ts';
export * from './kernels/index.ts';
export { type BatchKernel, type KernelOutcome, minimizeKernels, storePath } from './minimize/batch.ts';
export { type MinimizeOptions, minimizeBtf } from './minimize/minimize.ts';
export * from './sections/index.ts';
