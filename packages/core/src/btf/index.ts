export { Btf, type BtfHeader, isMod, isModOrTypedef, type LayoutEntry } from './btf.ts';
export { BTF_MAGIC, type DecodeOptions, decodeBtf, isBtf, recordSize } from './decode.ts';
export { type EncodeOptions, encodeBtf, encodeTypes, StringTableBuilder } from './encode.ts';
export { IntEncoding, KIND_NAMES, Kind, Linkage, MAX_KNOWN_KIND } from './kinds.ts';
export * from './types.ts';
