/**
 * Child process of minimize.bench.ts: minimizes one kernel source for the given objects N
 * times in-process and prints, as JSON, each run's stage times (read, decompress, decode,
 * relocate, emit; parsing the objects apart) and the process's peak RSS.
 */
import { minimizeKernelFile } from '../packages/core/src/minimize/kernel-job.ts';
import { parseObjects, readObjectFiles } from '../packages/core/src/minimize/objects.ts';
import type { Timings } from '../packages/core/src/minimize/timings.ts';

const [kernel, runsArg, ...objectPaths] = process.argv.slice(2);
if (!kernel || objectPaths.length === 0)
  throw new Error('usage: minimize-inprocess.ts KERNEL RUNS OBJECT...');
const runs = Number.parseInt(runsArg ?? '5', 10);
const parseMs: number[] = [];
const stages: Timings[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const objects = parseObjects(readObjectFiles(objectPaths));
  parseMs.push(performance.now() - t0);
  stages.push(minimizeKernelFile(kernel, objects).timings);
}
process.stdout.write(`${JSON.stringify({ parseMs, stages, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
