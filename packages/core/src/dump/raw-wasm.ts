import type { Btf } from '../btf/btf.ts';
import { growTo, tryInstantiate, type WasmMemory } from '../wasm/instance.ts';
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
  ): void;
  print(from: number, to: number): number;
  written(): number;
  pending(): number;
  pendingOut(): number;
}

/** Whether `dumpRawWasm` prints this BTF. */
export function wasmPrints(btf: Btf): boolean {
  return btf.base === undefined && btf.rawRecords !== undefined;
}

/**
 * Prints `btf` (see wasmPrints) to `sink` in chunks of about 1 MiB and returns how many of
 * its records it printed: all of them, or none for a BTF it does not take, or those before
 * a record whose own output passes 64 MiB (the JavaScript printer, which can end chunks
 * inside a record, goes on from there). With `reuseChunks` the sink is handed views of the
 * printer's memory, overwritten after it returns; otherwise copies.
 */
export function dumpRawWasm(btf: Btf, sink: ByteSink, opts: { reuseChunks?: boolean } = {}): number {
  const records = btf.rawRecords;
  if (records === undefined || !wasmPrints(btf)) return 0;
  // No memory to be had (an address-space limit): the JavaScript printer prints it all.
  const printer = tryInstantiate<PrinterExports>(RAW_PRINTER_WASM);
  if (printer === undefined) return 0;
  const { memory } = printer;
  const { words } = records;
  const offsets = records.offsets;
  const strings = btf.strings;
  // Our data goes above the module's own (its static strings), each part 8-aligned; the
  // output follows and the printer grows the memory for it.
  const align = (n: number) => Math.ceil(n / 8) * 8;
  const wordsAt = align(memory.buffer.byteLength);
  const offsAt = wordsAt + align(words.byteLength);
  const strsAt = offsAt + align(offsets.byteLength);
  const outAt = strsAt + align(strings.length);
  // Room for the input and the printer's 64 MiB output bound, within a 32-bit memory.
  if (outAt + (80 << 20) > 2 ** 32) return 0;
  if (!growTo(memory, outAt + (2 << 20))) return 0;
  new Uint32Array(memory.buffer, wordsAt, words.length).set(words);
  new Uint32Array(memory.buffer, offsAt, offsets.length).set(offsets);
  new Uint8Array(memory.buffer, strsAt, strings.length).set(strings);
  printer.setup(wordsAt, offsAt, records.count, strsAt, strings.length, btf.startId, outAt);
  const emit = (n: number) => {
    // After print(), whose output may have grown the memory (a new buffer).
    const chunk = new Uint8Array(memory.buffer, outAt, n);
    sink(opts.reuseChunks === true ? chunk : chunk.slice());
  };
  for (let next = 0; next < records.count; ) {
    try {
      next = printer.print(next, records.count);
    } catch {
      // The trap of a record past the output bound: what came before it is whole.
      emit(printer.pendingOut());
      return printer.pending();
    }
    emit(printer.written());
  }
  return records.count;
}
