/**
 * libbpf's SEC() conventions, from @btfkit/core's one SEC() table (core/src/sections, held to
 * libbpf by its oracle test): a program's section name → program type, expected attach type
 * and flags passed at load, the kernel BTF target, and how attach() attaches it (the kinds the
 * runtime implements are listed in attach/dispatch.ts).
 */
export {
  type AttachKind,
  AttachType,
  ProgFlags,
  ProgType,
  type ResolvedSection,
  resolveSection,
  type SectionDef,
} from '../deps.ts';
