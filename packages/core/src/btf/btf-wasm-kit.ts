import { growTo, instantiate, type WasmMemory } from '../wasm/instance.ts';
import { BTF_WASM } from './btf-wasm.ts';

/**
 * The BTF WebAssembly module (packages/core/assembly/btf.ts): scanTypes' fast path and the
 * essential-name index builder, which a CLI run each executes once over a kernel's ~130k
 * records before V8 would have optimized the JavaScript versions. One instance for the
 * process; its memory grows to the largest BTF seen and is reused. The index of a BTF just
 * scanned is built over the words and offsets the scan left in memory.
 */

/** What the scan found: record offsets, largest name offset and referenced type id. */
export interface FastScan {
  offs: Uint32Array;
  maxNameOff: number;
  maxTypeRef: number;
}

/** names.ts's index arrays (see EssentialIndex there). */
export interface IndexArrays {
  head: Int32Array;
  next: Int32Array;
  hash: Uint32Array;
  len: Uint32Array;
  mask: number;
}

interface BtfExports {
  memory: WasmMemory;
  scan(words: number, bytes: number, offs: number): number;
  maxNameOff(): number;
  maxTypeRef(): number;
  FAIL: { value: number };
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

let kit: BtfExports | undefined;
/** Where the last scan left its section: still valid until the next scan. */
let lastScan:
  | { words: WeakRef<Uint32Array>; wordsAt: number; offsAt: number; count: number; end: number }
  | undefined;

const WORDS_AT = 4096;
const align = (n: number) => Math.ceil(n / 8) * 8;

function instance(): BtfExports {
  kit ??= instantiate<BtfExports>(BTF_WASM);
  return kit;
}

/**
 * scanTypes' fast path (assembly/type-scan.ts): the answer for a type section given as
 * host-order `words` (`byteLength` bytes), or undefined when it does not take the section;
 * then scanTypes scans in JavaScript, which words errors and reads layout-described kinds.
 * It accepts only what the JavaScript scan accepts.
 */
export function scanTypesFast(words: Uint32Array, byteLength: number): FastScan | undefined {
  if (byteLength > 2 ** 30) return undefined;
  const k = instance();
  lastScan = undefined;
  const offsAt = WORDS_AT + align(byteLength);
  const end = offsAt + (Math.floor(byteLength / 12) + 1) * 4;
  growTo(k.memory, end);
  new Uint32Array(k.memory.buffer, WORDS_AT, words.length).set(words);
  const count = k.scan(WORDS_AT, byteLength, offsAt);
  if (count === k.FAIL.value) return undefined;
  lastScan = { words: new WeakRef(words), wordsAt: WORDS_AT, offsAt, count, end: align(end) };
  return {
    offs: new Uint32Array(k.memory.buffer, offsAt, count).slice(),
    // u32 results arrive as signed i32.
    maxNameOff: k.maxNameOff() >>> 0,
    maxTypeRef: k.maxTypeRef() >>> 0,
  };
}

/**
 * names.ts buildIndex for a decoded non-split BTF (assembly/name-index.ts): records given by
 * `words` and `offsets`, names in `strings`. Over the last scan's memory when `words` is the
 * section it scanned (the usual case: a kernel is decoded, then indexed), else over a copy.
 */
export function buildIndexFast(
  words: Uint32Array,
  offsets: Uint32Array,
  strings: Uint8Array,
  declarations: boolean,
): IndexArrays | undefined {
  const k = instance();
  const n = offsets.length;
  let size = 16;
  while (size < n) size *= 2;
  const scanned = lastScan !== undefined && lastScan.words.deref() === words && lastScan.count === n;
  let wordsAt: number;
  let offsAt: number;
  let strsAt: number;
  if (scanned && lastScan !== undefined) {
    ({ wordsAt, offsAt } = lastScan);
    strsAt = lastScan.end;
  } else {
    lastScan = undefined;
    wordsAt = WORDS_AT;
    offsAt = wordsAt + align(words.byteLength);
    strsAt = offsAt + align(offsets.byteLength);
  }
  const headAt = strsAt + align(strings.length);
  const nextAt = headAt + size * 4;
  const hashAt = nextAt + align(n * 4);
  const lenAt = hashAt + align(n * 4);
  const end = lenAt + align(n * 4);
  if (!growTo(k.memory, end)) return undefined;
  const mem = k.memory.buffer;
  if (!scanned) {
    new Uint32Array(mem, wordsAt, words.length).set(words);
    new Uint32Array(mem, offsAt, n).set(offsets);
  }
  new Uint8Array(mem, strsAt, strings.length).set(strings);
  // The output arrays start zeroed (entries not indexed stay 0), as the JavaScript loop's do.
  new Uint8Array(mem, headAt, end - headAt).fill(0);
  k.build(
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
