export {
  type AttachKind,
  type LibbpfRelease,
  type ResolvedSection,
  resolveSection,
  SECTION_DEFS,
  type SectionDef,
} from './table.ts';
export { AttachType, MAP_TYPE_NAMES, MapType, PROG_TYPE_NAMES, ProgFlags, ProgType } from './uapi.ts';
