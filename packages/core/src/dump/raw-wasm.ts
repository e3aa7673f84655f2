import type { Btf } from '../btf/btf.ts';
import { RAW_PRINTER_WASM } from './raw-printer-wasm.ts';
import type { ByteSink } from './text-out.ts';

/**
 * The raw dump of a decoded, non-split BTF printed by WebAssembly (packages/core/assembly/
 * raw-printer.ts, the same lines as dump/raw.ts's printer). A CLI run prints a kernel's
 * ~10 MB once and exits; JavaScript spends much of such a run unoptimized (the JS printer
 * took ~60 ms cold for ~35 ms warm), while WebAssembly is compiled before it runs. The JS
 * printer stays for split BTF and BTFs built from type objects, which this one does not
 * take.
 */

/** The parts of the WebAssembly API used here (this project's TS libs do not declare them). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface PrinterExports {
  memory: WasmMemory;
  setup(
    words: number,
    offs: number,
    count: number,
    strs: number,
    strLen: number,
    startId: number,
    out: number,
    outCap: number,
  ): void;
  maxRecordBytes(): number;
  print(from: number, to: number): number;
  written(): number;
}

/** Output chunk: what one print() call fills before the sink gets it. */
const OUT_CHUNK = 1 << 20;
const PAGE = 65536;

let compiled: object | undefined;

/** Whether `dumpRawWasm` prints this BTF. */
export function wasmPrints(btf: Btf): boolean {
  return btf.base === undefined && btf.rawRecords !== undefined;
}

/**
 * Prints `btf` (see wasmPrints) to `sink` in chunks of about 1 MiB. With `reuseChunks` the
 * sink is handed views of the printer's memory, overwritten after it returns; otherwise
 * copies. Returns false, having printed nothing, for input it cannot lay out (over 2 GiB).
 */
export function dumpRawWasm(btf: Btf, sink: ByteSink, opts: { reuseChunks?: boolean } = {}): boolean {
  const records = btf.rawRecords;
  if (records === undefined || btf.base !== undefined) return false;
  compiled ??= new wasm.Module(Buffer.from(RAW_PRINTER_WASM, 'base64'));
  const printer = new wasm.Instance(compiled, {}).exports as PrinterExports;
  const { memory } = printer;
  const { words } = records;
  const offsets = records.offsets;
  const strings = btf.strings;
  // Our data goes above the module's own (its static strings), each part 8-aligned.
  const align = (n: number) => Math.ceil(n / 8) * 8;
  const wordsAt = align(memory.buffer.byteLength);
  const offsAt = wordsAt + align(words.byteLength);
  const strsAt = offsAt + align(offsets.byteLength);
  const dataEnd = strsAt + align(strings.length);
  if (!grow(memory, dataEnd)) return false;
  new Uint32Array(memory.buffer, wordsAt, words.length).set(words);
  new Uint32Array(memory.buffer, offsAt, offsets.length).set(offsets);
  new Uint8Array(memory.buffer, strsAt, strings.length).set(strings);
  printer.setup(wordsAt, offsAt, records.count, strsAt, strings.length, btf.startId, 0, 0);
  const cap = Math.max(OUT_CHUNK, printer.maxRecordBytes());
  if (!grow(memory, dataEnd + cap)) return false;
  printer.setup(wordsAt, offsAt, records.count, strsAt, strings.length, btf.startId, dataEnd, cap);
  const out = new Uint8Array(memory.buffer, dataEnd, cap);
  for (let next = 0; next < records.count; ) {
    next = printer.print(next, records.count);
    const chunk = out.subarray(0, printer.written());
    sink(opts.reuseChunks === true ? chunk : chunk.slice());
  }
  return true;
}

/** Grows `memory` to at least `bytes`; false past what a 32-bit memory can hold. */
function grow(memory: WasmMemory, bytes: number): boolean {
  if (bytes > 2 ** 31) return false;
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE));
  return true;
}
