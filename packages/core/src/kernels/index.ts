export * from './list.ts';
export * from './running.ts';
export * from './source.ts';
export { readSingleBtfEntry, type TarEntry } from './tar.ts';
export { DEFAULT_MAX_DECOMPRESSED, isXz, xzDecompress, xzDecompressAsync, xzDecompressedSize } from './xz.ts';
