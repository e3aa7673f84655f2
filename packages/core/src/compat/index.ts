export {
  analyzeCompat,
  CompatAnalysis,
  type CompatKernel,
  type CompatOptions,
  engineRelocator,
  type Relocator,
} from './analyze.ts';
export { renderReport } from './html-report.ts';
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
export { builtWithoutBtf } from './without-btf.ts';
