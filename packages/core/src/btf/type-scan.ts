import { growTo, instantiate, type WasmMemory } from '../wasm/instance.ts';
import { TYPE_SCAN_WASM } from './type-scan-wasm.ts';

/**
 * scanTypes' fast path in WebAssembly (packages/core/assembly/type-scan.ts): record offsets,
 * largest name offset and referenced id of a type section, or undefined when it does not
 * take the section (then scanTypes scans in JavaScript, which words errors and reads
 * layout-described kinds). It accepts only what the JavaScript scan accepts.
 */
export interface FastScan {
  offs: Uint32Array;
  maxNameOff: number;
  maxTypeRef: number;
}

interface ScanExports {
  memory: WasmMemory;
  scan(words: number, bytes: number, offs: number): number;
  maxNameOff(): number;
  maxTypeRef(): number;
  FAIL: { value: number };
}

/** One instance for the process: its memory grows to the largest section scanned, no more. */
let scanner: ScanExports | undefined;

/** `words`: the section in host order; `byteLength`: its length in bytes. */
export function scanTypesFast(words: Uint32Array, byteLength: number): FastScan | undefined {
  if (byteLength > 2 ** 30) return undefined;
  scanner ??= instantiate<ScanExports>(TYPE_SCAN_WASM);
  const { memory } = scanner;
  const base = 4096;
  const offsAt = base + Math.ceil(byteLength / 8) * 8;
  const end = offsAt + (Math.floor(byteLength / 12) + 1) * 4;
  growTo(memory, end);
  new Uint32Array(memory.buffer, base, words.length).set(words);
  const count = scanner.scan(base, byteLength, offsAt);
  if (count === scanner.FAIL.value) return undefined;
  return {
    offs: new Uint32Array(memory.buffer, offsAt, count).slice(),
    // u32 results arrive as signed i32.
    maxNameOff: scanner.maxNameOff() >>> 0,
    maxTypeRef: scanner.maxTypeRef() >>> 0,
  };
}
