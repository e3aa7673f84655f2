/**
 * The root entry: all of `@btfkit/core/load` (what loading an object takes, load.ts), plus
 * the minimizer, compat analysis, skeleton codegen and kernel archives.
 */

export { buildSkeletonModel, CODEGEN_RUNTIME, type SkeletonModel, skeletonDts } from './codegen/index.ts';
export * from './compat/index.ts';
export * from './kernels/index.ts';
export * from './load.ts';
export { minimizeKernels } from './minimize/batch/driver.ts';
export { storePath } from './minimize/batch/store.ts';
export type { BatchKernel, KernelOutcome } from './minimize/batch/types.ts';
export { type MinimizeOptions, minimizeBtf } from './minimize/minimize.ts';
