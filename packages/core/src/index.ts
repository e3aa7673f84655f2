export * from './btf/index.ts';
export * from './btfext/index.ts';
export {
  buildSkeletonModel,
  CODEGEN_RUNTIME,
  type SkeletonModel,
  skeletonDts,
} from './codegen/index.ts';
export * from './compat/index.ts';
export * from './elf/index.ts';
export * from './errors/index.ts';
export * from './kernels/index.ts';
export { type MinimizeOptions, minimizeBtf } from './minimize/minimize.ts';
