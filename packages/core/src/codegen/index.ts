export { createCodecs } from './codec.js';
export { type ColumnArrayType, type ColumnSpec, columnLayout, columnTsType } from './columns.ts';
export { TypeDescriber } from './describe.ts';
export { skeletonDts } from './dts.ts';
export {
  buildSkeletonModel,
  type GlobalModel,
  type MapModel,
  type ProgramModel,
  type SkeletonModel,
  type SkeletonSource,
} from './model.ts';
export type { FieldDesc, NamedTypeDesc, RuntimeCodec, TypeDesc } from './runtime/codec.ts';

/** Absolute paths of the runtime files a generated module imports: JavaScript emitted from runtime/*.ts. */
export const CODEGEN_RUNTIME = {
  skeleton: new URL('./skeleton.js', import.meta.url),
  codec: new URL('./codec.js', import.meta.url),
};
