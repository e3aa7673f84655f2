/**
 * Milliseconds since an arbitrary start, for stage timings. Not performance.now(): the
 * global `performance` loads perf_hooks and ten internal modules on its first use, ~1.2 ms
 * of a ~60 ms single-kernel CLI run, where process.hrtime is there from Node's start.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
