export * from './btf/index.ts';
export * from './btfext/index.ts';
export * from './compat/index.ts';
export * from './elf/index.ts';
export * from './errors/index.ts';
export * from './kernels/index.ts';
