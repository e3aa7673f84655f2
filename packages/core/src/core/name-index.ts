import type { Btf } from '../btf/btf.ts';
import { growTo, instantiate, type WasmMemory } from '../wasm/instance.ts';
import { NAME_INDEX_WASM } from './name-index-wasm.ts';

/**
 * names.ts buildIndex in WebAssembly (packages/core/assembly/name-index.ts) for a decoded,
 * non-split BTF: the same four arrays, computed before V8 would have optimized the
 * JavaScript loop (a CLI run builds one index over ~130k kernel records and exits).
 */
export interface IndexArrays {
  head: Int32Array;
  next: Int32Array;
  hash: Uint32Array;
  len: Uint32Array;
  mask: number;
}

interface IndexExports {
  memory: WasmMemory;
  build(
    words: number,
    offs: number,
    count: number,
    strs: number,
    strLen: number,
    declarations: number,
    head: number,
    size: number,
    next: number,
    hash: number,
    len: number,
  ): void;
}

/**
 * One instance for the process, its memory grown to the largest BTF indexed and reused: a
 * fresh instance per index paid for ~7 MB of new pages each time (a batch builds one per
 * kernel).
 */
let indexer: IndexExports | undefined;

/** The index of one group, or undefined for a BTF it does not take (split, built from objects). */
export function buildIndexWasm(btf: Btf, declarations: boolean): IndexArrays | undefined {
  const records = btf.rawRecords;
  if (records === undefined || btf.base !== undefined) return undefined;
  const n = records.count;
  let size = 16;
  while (size < n) size *= 2;
  const { words, offsets } = records;
  const strings = btf.strings;
  const align = (x: number) => Math.ceil(x / 8) * 8;
  indexer ??= instantiate<IndexExports>(NAME_INDEX_WASM);
  const ix = indexer;
  const wordsAt = 0;
  const offsAt = wordsAt + align(words.byteLength);
  const strsAt = offsAt + align(offsets.byteLength);
  const headAt = strsAt + align(strings.length);
  const nextAt = headAt + size * 4;
  const hashAt = nextAt + align(n * 4);
  const lenAt = hashAt + align(n * 4);
  if (!growTo(ix.memory, lenAt + align(n * 4))) return undefined;
  const mem = ix.memory.buffer;
  // The output arrays start zeroed (entries not indexed stay 0), as the JavaScript loop's do.
  new Uint8Array(mem, headAt, lenAt + align(n * 4) - headAt).fill(0);
  new Uint32Array(mem, wordsAt, words.length).set(words);
  new Uint32Array(mem, offsAt, offsets.length).set(offsets);
  new Uint8Array(mem, strsAt, strings.length).set(strings);
  ix.build(
    wordsAt,
    offsAt,
    n,
    strsAt,
    strings.length,
    declarations ? 1 : 0,
    headAt,
    size,
    nextAt,
    hashAt,
    lenAt,
  );
  return {
    head: new Int32Array(mem, headAt, size).slice(),
    next: new Int32Array(mem, nextAt, n).slice(),
    hash: new Uint32Array(mem, hashAt, n).slice(),
    len: new Uint32Array(mem, lenAt, n).slice(),
    mask: size - 1,
  };
}
