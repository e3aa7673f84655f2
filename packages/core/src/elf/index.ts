export * from './elf.ts';
export * from './object.ts';
