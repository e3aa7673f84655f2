// AssemblyScript entry of the BTF WebAssembly module (scripts/build-wasm.mjs → 
// packages/core/src/btf/btf-wasm.ts): the type-section scan and the essential-name index
// builder in one module, so that the index is built over the words and record offsets the
// scan left in memory instead of a second copy of the kernel.
export { FAIL, funcProtosOk, maxNameOff, maxTypeRef, scan } from './type-scan';
export { build } from './name-index';
