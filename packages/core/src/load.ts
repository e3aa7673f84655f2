/**
 * `@btfkit/core/load`: what loading a BPF object takes (@btfkit/runtime's whole use of core):
 * ELF objects, BTF and .BTF.ext, the CO-RE engine, the SEC() table, instructions, value codecs.
 * Without the minimizer, compat analysis, dump, the CLI and kernel archives, whose modules (a
 * native xz addon, worker pools) the root entry also loads: importing @btfkit/runtime took
 * ~155 ms of CPU through the root entry, ~105 through this one (built package, Node 20). The
 * root entry (index.ts) re-exports all of this one, so the two cannot disagree.
 */
export * from './btf/index.ts';
export * from './btfext/index.ts';
export { createCodecs } from './codegen/codec.js';
export { type ColumnArrayType, type ColumnSpec, columnLayout } from './codegen/columns.ts';
export { TypeDescriber } from './codegen/describe.ts';
export type { FieldDesc, NamedTypeDesc, RuntimeCodec, TypeDesc } from './codegen/runtime/codec.ts';
export {
  DEFAULT_LIBBPF,
  findByNameKind,
  isFailed,
  isLibbpfVersion,
  isPoisoned,
  LIBBPF_VERSIONS,
  type LibbpfVersion,
  type RelocateResult,
  type Relocation,
  relocateObject,
} from './core/index.ts';
export * from './elf/index.ts';
export * from './errors/index.ts';
export * from './insn/index.ts';
export { RUNNING_KERNEL_BTF } from './kernels/running.ts';
export * from './sections/index.ts';
