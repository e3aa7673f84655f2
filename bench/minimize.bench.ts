/**
 * `btfkit min-core-btf` against `bpftool gen min_core_btf` (bpftool 7.1.0), side by side in
 * one run, CLI process against CLI process, on every kernel and object count, so that no
 * one case can stand for the rest:
 *  1. every corpus kernel (raw BTF, extracted once) and /sys/kernel/btf/vmlinux × the first
 *     1, 5, 20 and all 41 corpus objects; every ratio is a row, and the headline rows are
 *     the WORST ratios: goals ≤ 1.0× with ≥ 5 objects, ≤ 1.5× with one. Each output is
 *     checked byte-identical to bpftool's;
 *  2. the fixed cost: Node's own start (`node -e 0`), the launcher, the bare bundle and
 *     bpftool on the smallest kernel × 1 object, side by side;
 *  3. all 7 corpus kernels from .btf.tar.xz, the batch command against `tar -xJf` + bpftool
 *     for each kernel, with 1 and all objects; goal ≤ 0.5× wall, CPU ≤ 0.8×;
 *  4. peak RSS of the batch with 1, 7 and 28 kernels (must not grow with the count);
 *  5. where the time goes (decompress, decode, relocate, emit), in-process medians.
 * btfkit runs as `pnpm btfkit` does (scripts/btfkit.cjs: a freshness check, then its esbuild
 * bundle main.cjs with its code cache).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Timings } from '../packages/core/src/minimize/timings.ts';
import {
  type BenchRow,
  benchKernels,
  CORPUS_ARCHIVES,
  cpuNote,
  kernelLabel,
  LAUNCHER,
  launcherBundle,
  median,
  ROOT,
  RUNS,
  type SideBySideTiming,
  timeSideBySide,
  worstRow,
} from './lib.ts';

const CORPUS = join(ROOT, 'test/corpus');
const LARGEST = '6.12.111+deb12-cloud-amd64';

/** One command alone, with its CPU time (lib.ts timeSideBySide of one contender). */
function measure(cmd: string, args: string[], runs = RUNS): SideBySideTiming {
  return timeSideBySide([{ cmd, args }], runs)[0] as SideBySideTiming;
}

function walk(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** 1, 5, 20 and all of `n` objects (fewer when the corpus has fewer). */
const objectCounts = (n: number): number[] => [...new Set([1, 5, 20, n].filter((c) => c <= n))];

export default async function benchMinimize(log: (line: string) => void = console.log): Promise<BenchRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-min-'));
  const rows: BenchRow[] = [];
  try {
    const objects = walk(join(CORPUS, 'objects'), '.bpf.o');
    const archives = walk(CORPUS_ARCHIVES, '.btf.tar.xz');
    const largest = archives.find((a) => a.endsWith(`${LARGEST}.btf.tar.xz`)) as string;
    const raws = join(tmp, 'raw');
    mkdirSync(raws);
    const kernels = benchKernels(raws);
    const raw = join(raws, `${LARGEST}.btf`);
    const bundle = launcherBundle();
    const main = LAUNCHER;
    const heavy = Math.max(1, Math.min(RUNS, 3));
    const counts = objectCounts(objects.length);
    log(
      `min-core-btf: kernels ${kernels.map(kernelLabel).join(', ')}; the first ${counts.join(', ')} of ` +
        `${objects.length} objects; medians of ${RUNS} rounds (${heavy} for batches); CLI: ${main}`,
    );

    // 1. Every kernel × every object count, each output compared with bpftool's.
    const out = join(tmp, 'out.btf');
    const ref = join(tmp, 'ref.btf');
    // The first run of a command writes its code cache (run-bundle.cjs): not a round's.
    execFileSync(process.execPath, [main, 'min-core-btf', '-q', raw, out, ...objects]);
    const matrix: (BenchRow & { objects: number })[] = [];
    for (const k of kernels) {
      for (const n of counts) {
        const set = objects.slice(0, n);
        const [bpftool, ours] = timeSideBySide([
          { cmd: 'bpftool', args: ['gen', 'min_core_btf', k.raw, ref, ...set] },
          { cmd: process.execPath, args: [main, 'min-core-btf', '-q', k.raw, out, ...set] },
        ]) as [SideBySideTiming, SideBySideTiming];
        if (!readFileSync(out).equals(readFileSync(ref)))
          throw new Error(`min-core-btf ${k.raw} × ${n} objects: output differs from bpftool's`);
        matrix.push({
          objects: n,
          case: `${kernelLabel(k)} × ${n} object${n === 1 ? '' : 's'}`,
          ms: ours.medianMs,
          rssMiB: ours.rssMiB,
          ref: 'bpftool gen min_core_btf',
          refMs: bpftool.medianMs,
          refRssMiB: bpftool.rssMiB,
          note: `${cpuNote(ours, bpftool)}; output identical`,
        });
      }
    }
    const headlines = [
      worstRow(matrix, 'one kernel, any count', 'every kernel × 1, 5, 20, all objects'),
      worstRow(
        matrix.filter((r) => r.objects >= 5),
        'one kernel, ≥ 5 objects',
        'goal ≤ 1.0×',
      ),
      worstRow(
        matrix.filter((r) => r.objects === 1),
        'one kernel × 1 object',
        'goal ≤ 1.5×',
      ),
    ].filter((r) => r !== undefined);
    rows.push(...headlines, ...matrix.map(({ objects: _, ...r }) => r));
    for (const h of headlines) log(`${h.case}: ${(h.ms / (h.refMs as number)).toFixed(2)}× (${h.note})`);

    // 2. The fixed cost: what a process pays before and around its first relocation.
    const smallest = kernels[0] as (typeof kernels)[number];
    const one = [smallest.raw, out, objects[0] as string];
    const [fixedRef, fixedLauncher, fixedBare, nodeAlone] = timeSideBySide([
      { cmd: 'bpftool', args: ['gen', 'min_core_btf', smallest.raw, ref, objects[0] as string] },
      { cmd: process.execPath, args: [main, 'min-core-btf', '-q', ...one] },
      { cmd: process.execPath, args: [bundle, 'min-core-btf', '-q', ...one] },
      { cmd: process.execPath, args: ['-e', '0'] },
    ]) as [SideBySideTiming, SideBySideTiming, SideBySideTiming, SideBySideTiming];
    const fixedCols = {
      ref: 'bpftool gen min_core_btf',
      refMs: fixedRef.medianMs,
      refRssMiB: fixedRef.rssMiB,
    };
    rows.push(
      {
        case: `fixed cost: ${smallest.name} × 1 object (launcher)`,
        ms: fixedLauncher.medianMs,
        rssMiB: fixedLauncher.rssMiB,
        ...fixedCols,
        note: cpuNote(fixedLauncher, fixedRef),
      },
      {
        case: `fixed cost: ${smallest.name} × 1 object (bare bundle)`,
        ms: fixedBare.medianMs,
        rssMiB: fixedBare.rssMiB,
        ...fixedCols,
        note: `without the launcher's freshness check; ${cpuNote(fixedBare, fixedRef)}`,
      },
      {
        case: 'fixed cost: node -e 0 (Node alone)',
        ms: nodeAlone.medianMs,
        rssMiB: nodeAlone.rssMiB,
        ...fixedCols,
        note: `Node's own start and exit, the floor of any btfkit command; ${cpuNote(nodeAlone, fixedRef)}`,
      },
    );

    // 3. All kernels from .btf.tar.xz: the batch (fresh OUT each run) vs tar + bpftool in turn.
    const refScript = (set: string[]) =>
      archives
        .map((a) => {
          const r = a
            .split('/')
            .at(-1)
            ?.replace(/\.btf\.tar\.xz$/, '') as string;
          return `tar -xJf '${a}' -C '${tmp}/x' && bpftool gen min_core_btf '${tmp}/x/${r}.btf' '${tmp}/x/out.btf' ${set.map((o) => `'${o}'`).join(' ')}`;
        })
        .join(' && ');
    mkdirSync(join(tmp, 'x'));
    const batchArgs = (cli: string[], kernels: string[], jobs?: number, set = objects): string[] => {
      const dir = join(tmp, 'batch');
      const j = jobs === undefined ? [] : ['--jobs', String(jobs)];
      const args = [...cli, 'min-core-btf', '-q', ...j, '--kernels', ...kernels, '--out-dir', dir, ...set];
      return ['-c', `rm -rf '${dir}' && exec "$@"`, 'sh', process.execPath, ...args];
    };
    const batch = (cli: string[], kernels: string[], runs: number, jobs?: number) =>
      measure('sh', batchArgs(cli, kernels, jobs), runs);
    // One object: the batch's fixed costs (workers, xz helper) against seven bpftool runs.
    const oneObject = objects.slice(0, 1);
    const [refBatchOne, batchJsOne] = timeSideBySide(
      [
        { cmd: 'sh', args: ['-c', refScript(oneObject)] },
        { cmd: 'sh', args: batchArgs([main], archives, undefined, oneObject) },
      ],
      heavy,
    ) as [SideBySideTiming, SideBySideTiming];
    // Peak RSS against the kernel count is measured at a fixed runner count (one), largest
    // kernel first; the 7-kernel case runs in the rounds with the reference.
    const ordered = [largest, ...archives.filter((a) => a !== largest)];
    const [ref2, batchJs, batchAllOneWorker] = timeSideBySide(
      [
        { cmd: 'sh', args: ['-c', refScript(objects)] },
        { cmd: 'sh', args: batchArgs([main], archives) },
        { cmd: 'sh', args: batchArgs([main], ordered, 1) },
      ],
      heavy,
    ) as [SideBySideTiming, SideBySideTiming, SideBySideTiming];
    const refCols2 = { ref: 'tar -xJf + bpftool, each kernel', refMs: ref2.medianMs, refRssMiB: ref2.rssMiB };
    const batchOne = batch([main], [largest], heavy, 1);
    // A bigger tree: the 7 archives hard-linked under four distro names (28 kernels).
    const many = join(tmp, 'many');
    for (const copy of ['a', 'b', 'c', 'd'])
      for (const a of archives) {
        const dest = join(many, `${copy}${relative(CORPUS_ARCHIVES, a)}`);
        mkdirSync(dirname(dest), { recursive: true });
        linkSync(a, dest);
      }
    const batchMany = batch([main], [many], 1, 1);
    rows.push(
      {
        case: `${archives.length} .btf.tar.xz × 1 object, batch (launcher)`,
        ms: batchJsOne.medianMs,
        rssMiB: batchJsOne.rssMiB,
        ref: 'tar -xJf + bpftool, each kernel',
        refMs: refBatchOne.medianMs,
        refRssMiB: refBatchOne.rssMiB,
        note: `goal ≤ 0.5×; ${cpuNote(batchJsOne, refBatchOne)} (both include xz)`,
      },
      {
        case: `${archives.length} .btf.tar.xz × ${objects.length} objects, batch (launcher)`,
        ms: batchJs.medianMs,
        rssMiB: batchJs.rssMiB,
        ...refCols2,
        note: `goal ≤ 0.5×; default runners (half the cores; one = the main thread itself), archives inflated ahead by xz(1) (one per core, started by one helper shell); ${cpuNote(batchJs, ref2)} (both include xz)`,
      },
      {
        case: `1 .btf.tar.xz × ${objects.length} objects, batch --jobs 1 (launcher)`,
        ms: batchOne.medianMs,
        rssMiB: batchOne.rssMiB,
        note: 'peak RSS baseline: one runner, one kernel',
      },
      {
        case: `${archives.length} .btf.tar.xz × ${objects.length} objects, batch --jobs 1 (launcher)`,
        ms: batchAllOneWorker.medianMs,
        rssMiB: batchAllOneWorker.rssMiB,
        ...refCols2,
        note: `peak RSS, one runner: 1 kernel ${batchOne.rssMiB.toFixed(0)} MiB, ${archives.length} kernels ${batchAllOneWorker.rssMiB.toFixed(0)} MiB; ${cpuNote(batchAllOneWorker, ref2)}`,
      },
      {
        case: `${4 * archives.length} .btf.tar.xz (7 linked 4×) × ${objects.length} objects, batch --jobs 1 (launcher)`,
        ms: batchMany.medianMs,
        rssMiB: batchMany.rssMiB,
        note: `peak RSS bounded: ${batchMany.rssMiB.toFixed(0)} MiB; 1 run`,
      },
    );

    // 4. The batch's own account of its stages (worker time summed over kernels).
    const summary = spawnSync(
      process.execPath,
      [main, 'min-core-btf', '-q', '--kernels', ...archives, '--out-dir', join(tmp, 'summary'), ...objects],
      { encoding: 'utf8' },
    ).stderr.trim();
    log(`batch summary line: ${summary}`);

    // 5. In-process stage medians, one kernel: raw, and from .btf.tar.xz.
    const largestRow = matrix.find((r) => r.case.startsWith(LARGEST) && r.objects === objects.length);
    const largestAll = largestRow
      ? { ref: 'bpftool (CLI, whole run)', refMs: largestRow.refMs, refRssMiB: largestRow.refRssMiB }
      : {};
    for (const [label, kernel] of [
      ['raw', raw],
      ['.btf.tar.xz', largest],
    ] as const) {
      const res = JSON.parse(
        execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            join(ROOT, 'bench/minimize-inprocess.ts'),
            kernel,
            String(Math.max(RUNS, 3)),
            ...objects,
          ],
          { cwd: ROOT, maxBuffer: 1 << 24 },
        ).toString(),
      ) as { parseMs: number[]; stages: Timings[]; maxRssKiB: number };
      // The first run pays for JIT warm-up; a CLI process always does. Report both.
      const first = res.stages[0] as Timings;
      const stage = (k: keyof Timings) => median(res.stages.slice(1).map((s) => s[k]));
      const keys: (keyof Timings)[] = ['read', 'decompress', 'decode', 'relocate', 'emit'];
      const warm = keys.reduce((a, k) => a + stage(k), 0);
      log(
        `in-process, ${LARGEST} ${label} × ${objects.length} objects: ` +
          `warm medians ${keys.map((k) => `${k} ${stage(k).toFixed(0)}`).join(', ')} ms (sum ${warm.toFixed(0)}); ` +
          `parse objects ${median(res.parseMs.slice(1)).toFixed(0)} ms; first (cold) run ` +
          `${keys.map((k) => `${k} ${first[k].toFixed(0)}`).join(', ')}, parse ${res.parseMs[0]?.toFixed(0)} ms`,
      );
      rows.push({
        case: `in-process ${label}: read+decompress+decode+relocate+emit (warm)`,
        ms: warm,
        rssMiB: res.maxRssKiB / 1024,
        ...(label === 'raw' ? largestAll : {}),
        note: `decompress ${stage('decompress').toFixed(0)}, decode ${stage('decode').toFixed(0)}, relocate ${stage('relocate').toFixed(0)}, emit ${stage('emit').toFixed(0)} ms`,
      });
    }
    return rows;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  for (const r of await benchMinimize()) console.log(r);
}
