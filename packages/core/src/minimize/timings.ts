// Where one kernel's minimization spends its time, stage by stage: the single-kernel command,
// the batch (per kernel and in total) and compat's kernel stream all report it.

/** Milliseconds per stage of one kernel. */
export interface Timings {
  read: number;
  decompress: number;
  decode: number;
  relocate: number;
  emit: number;
}

/** A fresh record of no time spent yet, for the stages to add to. */
export function noTimings(): Timings {
  return { read: 0, decompress: 0, decode: 0, relocate: 0, emit: 0 };
}

/** Adds each stage of `from` into `into` (a batch's totals). */
export function addTimings(into: Timings, from: Timings): void {
  for (const key of Object.keys(into) as (keyof Timings)[]) into[key] += from[key];
}
