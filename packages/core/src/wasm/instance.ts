/**
 * What the WebAssembly helpers (dump/raw-wasm.ts, btf/btf-wasm-kit.ts) share:
 * compiling an embedded module once per process, and growing a memory. Each helper's module
 * is AssemblyScript under packages/core/assembly/, embedded as base64 by
 * scripts/build-wasm.mjs.
 */

/** The parts of the WebAssembly API used here (this project's TS libs do not declare them). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
const compiled = new Map<string, object>();

/** A new instance of the module in `base64` (compiled on first use), its exports as `T`. */
export function instantiate<T>(base64: string, imports: object = {}): T {
  let module = compiled.get(base64);
  if (module === undefined) {
    module = new wasm.Module(Buffer.from(base64, 'base64'));
    compiled.set(base64, module);
  }
  return new wasm.Instance(module, imports).exports as T;
}

/** A new memory of `pages` 64 KiB pages, for a module that imports its memory. */
export function newMemory(pages: number): WasmMemory {
  return new wasm.Memory({ initial: pages });
}

/**
 * A new memory, or undefined when the process cannot have one: V8 reserves each memory's
 * whole 32-bit range plus guard pages (~10 GB of address space), which an address-space limit
 * (`ulimit -v`) refuses. Callers then take their JavaScript path.
 */
export function tryNewMemory(pages: number): WasmMemory | undefined {
  try {
    return newMemory(pages);
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}

/**
 * A new instance as `instantiate` makes it, or undefined when its own memory cannot be had
 * (see tryNewMemory).
 */
export function tryInstantiate<T>(base64: string, imports: object = {}): T | undefined {
  try {
    return instantiate<T>(base64, imports);
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}

/**
 * Grows `memory` to at least `bytes` (views of its old buffer are detached then); false past
 * what a 32-bit memory holds or when the memory cannot grow (no memory left to commit).
 */
export function growTo(memory: WasmMemory, bytes: number): boolean {
  if (bytes > 2 ** 32) return false;
  const have = memory.buffer.byteLength;
  try {
    if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE));
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
  return true;
}
