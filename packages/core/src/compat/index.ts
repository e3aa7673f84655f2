export {
  analyzeCompat,
  CompatAnalysis,
  type CompatKernel,
  type CompatOptions,
  engineRelocator,
  type Relocator,
} from './analyze.ts';
export type {
  CompatCell,
  CompatKernelInfo,
  CompatObjectInfo,
  CompatProgramInfo,
  CompatResult,
  Finding,
  PathCondition,
  RelocDecision,
  SourceLine,
  Verdict,
} from './model.ts';
export { VERDICTS } from './model.ts';
export { renderReport } from './report.ts';
export { builtWithoutBtf } from './without-btf.ts';
