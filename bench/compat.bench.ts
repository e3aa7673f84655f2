/**
 * `btfkit compat` against `btfkit min-core-btf --kernels` on the same inputs (all 41 corpus
 * objects × all 7 corpus kernels, .btf.tar.xz), in one run. Goal: compat costs < 25% more
 * than minimization, i.e. ratio ≤ 1.25.
 *  1. the CLIs as processes (decompress + decode of every kernel included), compat also with
 *     its judging thread forced on (BTFKIT_COMPAT_THREAD=1; by default only with 4+ cores),
 *     in the same rounds;
 *  2. in-process, kernels already decoded: the analysis (relocation + reachability) vs the
 *     minimizer (relocation + marking + emitting), to see what compat itself adds.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompatAnalysis } from '../packages/core/src/compat/analyze.ts';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { listKernels, readBtfSource } from '../packages/core/src/kernels/index.ts';
import { minimizeBtf } from '../packages/core/src/minimize/minimize.ts';
import { type BenchRow, LAUNCHER, median, ROOT, RUNS, type SideBySideTiming, timeSideBySide } from './lib.ts';

const corpus = join(ROOT, 'test/corpus');
const objectPaths = readdirSync(join(corpus, 'objects'))
  .filter((f) => f.endsWith('.bpf.o'))
  .sort()
  .map((f) => join(corpus, 'objects', f));
const kernelsDir = join(corpus, 'kernels');

export default async function benchCompat(log: (line: string) => void = console.log): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const runs = Math.max(1, Math.min(RUNS, 5));
  // The CLI as `pnpm btfkit` runs it.
  const cli = [LAUNCHER];
  const out = join(tmpdir(), `btfkit-bench-compat-${process.pid}`);
  log(`compat vs min-core-btf: ${objectPaths.length} objects × 7 kernels, ${runs} runs per case, medians`);

  // compat exits 1 when some program fails somewhere (the corpus has such programs).
  // The third contender judges in a thread of its own whatever the cores.
  const compatRun = (env: string) =>
    `${env}node ${cli.join(' ')} compat --json --kernels ${kernelsDir} ${objectPaths.join(' ')} >/dev/null; test $? -le 1`;
  const [compat, minimize, threaded] = timeSideBySide(
    [
      { cmd: 'sh', args: ['-c', compatRun('')] },
      {
        cmd: 'sh',
        args: [
          '-c',
          `rm -rf ${out} && node ${cli.join(' ')} min-core-btf -q --kernels ${kernelsDir} --out-dir ${out} ${objectPaths.join(' ')}`,
        ],
      },
      { cmd: 'sh', args: ['-c', compatRun('BTFKIT_COMPAT_THREAD=1 ')] },
    ],
    runs,
  ) as [SideBySideTiming, SideBySideTiming, SideBySideTiming];
  rmSync(out, { recursive: true, force: true });
  rows.push({
    case: 'CLI, 41 objects × 7 kernels (.tar.xz)',
    ms: compat.medianMs,
    rssMiB: compat.rssMiB,
    ref: 'btfkit min-core-btf --kernels',
    refMs: minimize.medianMs,
    refRssMiB: minimize.rssMiB,
    note: `goal ≤ 1.25×; CPU ${compat.cpuMs.toFixed(0)} vs ${minimize.cpuMs.toFixed(0)} ms`,
  });
  rows.push({
    case: 'CLI, 41 objects × 7 kernels, judging thread forced on',
    ms: threaded.medianMs,
    rssMiB: threaded.rssMiB,
    ref: 'btfkit min-core-btf --kernels',
    refMs: minimize.medianMs,
    refRssMiB: minimize.rssMiB,
    note: `BTFKIT_COMPAT_THREAD=1: what a judging thread does here; CPU ${threaded.cpuMs.toFixed(0)} ms`,
  });
  log(
    `CLI: compat ${compat.medianMs.toFixed(0)} ms, min-core-btf ${minimize.medianMs.toFixed(0)} ms (${(compat.medianMs / minimize.medianMs).toFixed(2)}×)`,
  );

  // In-process: kernels decoded once, then each side's own work.
  const objects = objectPaths.map((p) => parseBpfObject(readFileSync(p), p));
  const kernels = await Promise.all(
    listKernels([kernelsDir]).map(async (e) => ({ e, btf: (await readBtfSource(e.path)).btf })),
  );
  const analysisMs: number[] = [];
  const minimizeMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    const a = new CompatAnalysis(objects);
    for (const { e, btf } of kernels) a.addKernel({ btf, release: e.release, path: e.path });
    a.result();
    analysisMs.push(performance.now() - t0);
    t0 = performance.now();
    for (const { e, btf } of kernels) minimizeBtf(btf, objects, { release: e.release });
    minimizeMs.push(performance.now() - t0);
  }
  rows.push({
    case: 'in-process, kernels decoded',
    ms: median(analysisMs),
    ref: 'minimizeBtf ×7',
    refMs: median(minimizeMs),
  });
  log(
    `in-process: analysis ${median(analysisMs).toFixed(0)} ms, minimization ${median(minimizeMs).toFixed(0)} ms`,
  );
  return rows;
}
