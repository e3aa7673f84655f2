import { growTo, instantiate, tryNewMemory, type WasmMemory } from '../wasm/instance.ts';
import { BTF_WASM } from './btf-wasm.ts';

/**
 * The BTF WebAssembly module (packages/core/assembly/btf.ts): scanTypes' fast path and the
 * essential-name index builder, which a CLI run each executes once over a kernel's ~130k
 * records before V8 would have optimized the JavaScript versions.
 *
 * Two ways in. A kernel file read with `residentBytes` lies in a memory of its own (an
 * arena) with room after it for its scan and its indexes: the module works on it where it
 * lies and hands back views, so nothing of the kernel is copied (on this kind of VM each
 * 5 MB copy costs a few milliseconds). Anything else goes through one shared instance whose
 * memory grows to the largest BTF seen: copied in, results copied out; the index of a BTF
 * just scanned there is built over the words and offsets the scan left in memory.
 */

/** What the scan found: record offsets, largest name offset and referenced type id. */
export interface FastScan {
  offs: Uint32Array;
  maxNameOff: number;
  maxTypeRef: number;
  /** Every FUNC refers to a FUNC_PROTO among these records (false: not shown, see type-scan.ts). */
  funcProtosOk: boolean;
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
  scan(words: number, bytes: number, offs: number): number;
  funcProtosOk(words: number, offs: number, count: number, firstId: number): number;
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

/** An instance and the memory it works in. */
interface Kit {
  exports: BtfExports;
  memory: WasmMemory;
}

/**
 * A kernel file's own memory: the file at ARENA_FILE_AT, then what the module writes (record
 * offsets, then up to two indexes) bump-allocated from `top`. Sized for the worst case when
 * made and never grown, so the views handed out (the file's bytes, which the decoded BTF
 * keeps) stay valid; fresh memory is zeroed, so index arrays need no clearing.
 */
interface Arena extends Kit {
  top: number;
}

const PAGE = 65536;
/**
 * Where the shared instance copies BTF data. An arena's file starts at 0 instead (the module
 * has no data segment: test/btf-resident checks), so that a tar read into one starts at its
 * buffer's start, where the tar reader (nanotar) reads.
 */
const FILE_AT = 4096;
const ARENA_FILE_AT = 0;
const align = (n: number) => Math.ceil(n / 8) * 8;
/** Records are at least 12 bytes: a bound on the record count of `bytes` of types. */
const maxRecords = (bytes: number) => Math.floor(bytes / 12) + 1;
const hashSize = (n: number) => {
  let size = 16;
  while (size < n) size *= 2;
  return size;
};
const indexBytes = (n: number) => hashSize(n) * 4 + 3 * align(n * 4);

function newKit(memory: WasmMemory): Kit {
  return { exports: instantiate<BtfExports>(BTF_WASM, { env: { memory } }), memory };
}

let shared: Kit | undefined;
/** Where the last scan in the shared memory left its section: valid until the next one. */
let lastScan:
  | { words: WeakRef<Uint32Array>; wordsAt: number; offsAt: number; count: number; end: number }
  | undefined;
/** Arenas by their memory's buffer (which never changes: arenas do not grow). */
const arenas = new WeakMap<ArrayBuffer, Arena>();

/**
 * `size` zeroed bytes in an arena of their own, for a kernel file to be read into (then
 * decoded without copies); undefined when a 32-bit memory could not hold the file with its
 * scan and indexes, or when no memory can be had (the caller reads into ordinary memory).
 */
export function residentBytes(size: number): Uint8Array | undefined {
  const records = maxRecords(size);
  const total = ARENA_FILE_AT + align(size) + align(records * 4) + 2 * indexBytes(records);
  if (total > 2 ** 32) return undefined;
  // Out of address space for one more memory (V8 reserves each one's full 32-bit range).
  const memory = tryNewMemory(Math.ceil(total / PAGE));
  if (memory === undefined) return undefined;
  const arena: Arena = { ...newKit(memory), top: ARENA_FILE_AT + align(size) };
  arenas.set(memory.buffer, arena);
  return new Uint8Array(memory.buffer, ARENA_FILE_AT, size);
}

/**
 * Whether `bytes` is a whole file read with residentBytes and nothing has been written after
 * it yet: its buffer holds only zeros past its end.
 */
export function isUntouchedResidentFile(bytes: Uint8Array): boolean {
  const arena = arenas.get(bytes.buffer as ArrayBuffer);
  return (
    arena !== undefined &&
    bytes.byteOffset === ARENA_FILE_AT &&
    arena.top === ARENA_FILE_AT + align(bytes.length)
  );
}

/** The arena all of `views` lie in, if they share one. */
function arenaOf(...views: ArrayBufferView[]): Arena | undefined {
  const arena = arenas.get(views[0]?.buffer as ArrayBuffer);
  return arena && views.every((v) => v.buffer === arena.memory.buffer) ? arena : undefined;
}

/**
 * Bump-allocates `bytes` in an arena; undefined once its room is used (one scan and two
 * indexes are planned for: a second decode of the same bytes goes the shared way).
 */
function take(arena: Arena, bytes: number): number | undefined {
  const at = arena.top;
  if (at + bytes > arena.memory.buffer.byteLength) return undefined;
  arena.top = at + align(bytes);
  return at;
}

/** The shared instance; undefined when no memory can be had (the JavaScript paths run). */
function sharedKit(): Kit | undefined {
  if (shared === undefined) {
    const memory = tryNewMemory(1);
    if (memory !== undefined) shared = newKit(memory);
  }
  return shared;
}

/**
 * scanTypes' fast path (assembly/type-scan.ts): the answer for a type section given as
 * host-order `words` (`byteLength` bytes) whose first record has id `firstId`, or undefined
 * when it does not take the section; then scanTypes scans in JavaScript, which words errors
 * and reads layout-described kinds. It accepts only what the JavaScript scan accepts.
 */
export function scanTypesFast(words: Uint32Array, byteLength: number, firstId = 1): FastScan | undefined {
  if (byteLength > 2 ** 30) return undefined;
  const arena = arenaOf(words);
  const offsAt = arena && take(arena, maxRecords(byteLength) * 4);
  if (arena !== undefined && offsAt !== undefined) {
    const count = arena.exports.scan(words.byteOffset, byteLength, offsAt);
    const found = scanned(arena, words.byteOffset, offsAt, count, firstId);
    return found && { ...found, offs: new Uint32Array(arena.memory.buffer, offsAt, count) };
  }
  const kit = sharedKit();
  lastScan = undefined;
  if (kit === undefined) return undefined;
  const wordsAt = FILE_AT;
  const sharedOffsAt = wordsAt + align(byteLength);
  const end = sharedOffsAt + maxRecords(byteLength) * 4;
  if (!growTo(kit.memory, end)) return undefined;
  new Uint32Array(kit.memory.buffer, wordsAt, words.length).set(words);
  const count = kit.exports.scan(wordsAt, byteLength, sharedOffsAt);
  const found = scanned(kit, wordsAt, sharedOffsAt, count, firstId);
  if (!found) return undefined;
  lastScan = { words: new WeakRef(words), wordsAt, offsAt: sharedOffsAt, count, end: align(end) };
  // The shared memory is reused by the next BTF: the caller gets a copy.
  return { ...found, offs: new Uint32Array(kit.memory.buffer, sharedOffsAt, count).slice() };
}

/** What a scan that returned `count` found besides its offsets; undefined if it failed. */
function scanned(
  kit: Kit,
  wordsAt: number,
  offsAt: number,
  count: number,
  firstId: number,
): Omit<FastScan, 'offs'> | undefined {
  const k = kit.exports;
  if (count === k.FAIL.value) return undefined;
  return {
    // u32 results arrive as signed i32.
    maxNameOff: k.maxNameOff() >>> 0,
    maxTypeRef: k.maxTypeRef() >>> 0,
    funcProtosOk: k.funcProtosOk(wordsAt, offsAt, count, firstId) === 1,
  };
}

/**
 * names.ts buildIndex for a decoded non-split BTF (assembly/name-index.ts): records given by
 * `words` and `offsets`, names in `strings`. In place when all three lie in one arena; else
 * over the last scan's memory when `words` is the section it scanned (a BTF decoded, then
 * indexed), else over a copy.
 */
export function buildIndexFast(
  words: Uint32Array,
  offsets: Uint32Array,
  strings: Uint8Array,
  declarations: boolean,
): IndexArrays | undefined {
  const n = offsets.length;
  const size = hashSize(n);
  const arena = arenaOf(words, offsets, strings);
  const headAt = arena && take(arena, indexBytes(n));
  if (arena !== undefined && headAt !== undefined) {
    return runBuild(
      arena,
      words.byteOffset,
      offsets.byteOffset,
      n,
      strings,
      strings.byteOffset,
      declarations,
      headAt,
      size,
    );
  }

  const kit = sharedKit();
  if (kit === undefined) return undefined;
  const scanned = lastScan !== undefined && lastScan.words.deref() === words && lastScan.count === n;
  let wordsAt: number;
  let offsAt: number;
  let strsAt: number;
  if (scanned && lastScan !== undefined) {
    ({ wordsAt, offsAt } = lastScan);
    strsAt = lastScan.end;
  } else {
    lastScan = undefined;
    wordsAt = FILE_AT;
    offsAt = wordsAt + align(words.byteLength);
    strsAt = offsAt + align(offsets.byteLength);
  }
  const sharedHeadAt = strsAt + align(strings.length);
  const end = sharedHeadAt + indexBytes(n);
  if (!growTo(kit.memory, end)) return undefined;
  const mem = kit.memory.buffer;
  if (!scanned) {
    new Uint32Array(mem, wordsAt, words.length).set(words);
    new Uint32Array(mem, offsAt, n).set(offsets);
  }
  new Uint8Array(mem, strsAt, strings.length).set(strings);
  // The output arrays start zeroed (entries not indexed stay 0), as the JavaScript loop's do.
  new Uint8Array(mem, sharedHeadAt, end - sharedHeadAt).fill(0);
  const out = runBuild(kit, wordsAt, offsAt, n, strings, strsAt, declarations, sharedHeadAt, size);
  // The shared memory is reused by the next BTF: the caller gets copies.
  return {
    head: out.head.slice(),
    next: out.next.slice(),
    hash: out.hash.slice(),
    len: out.len.slice(),
    mask: out.mask,
  };
}

/** Runs the builder with its four output arrays laid out from `headAt`; views of them. */
function runBuild(
  kit: Kit,
  wordsAt: number,
  offsAt: number,
  n: number,
  strings: Uint8Array,
  strsAt: number,
  declarations: boolean,
  headAt: number,
  size: number,
): IndexArrays {
  const nextAt = headAt + size * 4;
  const hashAt = nextAt + align(n * 4);
  const lenAt = hashAt + align(n * 4);
  kit.exports.build(
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
  const mem = kit.memory.buffer;
  return {
    head: new Int32Array(mem, headAt, size),
    next: new Int32Array(mem, nextAt, n),
    hash: new Uint32Array(mem, hashAt, n),
    len: new Uint32Array(mem, lenAt, n),
    mask: size - 1,
  };
}
