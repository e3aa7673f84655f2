export { Btf, type BtfHeader, type LayoutEntry, isMod, isModOrTypedef } from './btf.ts';
export { decodeBtf, isBtf, recordSize, BTF_MAGIC, type DecodeOptions } from './decode.ts';
export { encodeBtf, encodeTypes, StringTableBuilder, type EncodeOptions } from './encode.ts';
export { Kind, KIND_NAMES, IntEncoding, Linkage, MAX_KNOWN_KIND } from './kinds.ts';
export * from './types.ts';
