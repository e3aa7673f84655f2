/**
 * `btfkit min-core-btf` against `bpftool gen min_core_btf` (bpftool 7.1.0), side by side in
 * one run, CLI process against CLI process:
 *  1. one raw kernel (the largest corpus kernel, 6.12) × all 41 corpus objects; goal ≤ 1.0×;
 *  2. all 7 corpus kernels from .btf.tar.xz × all objects: the batch command against
 *     `tar -xJf` + bpftool for each kernel, one after the other; goal ≤ 0.5×;
 *  3. peak RSS of the batch with 1 and with 7 kernels (must not grow with the count);
 *  4. where the time goes (decompress, decode, relocate, emit), in-process medians.
 * btfkit runs as `pnpm btfkit` does (scripts/btfkit.cjs: a freshness check, then its esbuild
 * bundle main.cjs with its code cache); the single-kernel case also times the bare bundle.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Timings } from '../packages/core/src/minimize/protocol.ts';
import {
  type BenchRow,
  LAUNCHER,
  launcherBundle,
  median,
  ROOT,
  RUNS,
  type SideBySideTiming,
  timeSideBySide,
} from './lib.ts';

const CORPUS = join(ROOT, 'test/corpus');
const LARGEST = '6.12.111+deb12-cloud-amd64';

/** One command alone, with its CPU time (lib.ts timeSideBySide of one contender). */
function measure(cmd: string, args: string[], runs = RUNS): SideBySideTiming {
  return timeSideBySide([{ cmd, args }], runs)[0] as SideBySideTiming;
}

const cpuNote = (ours: { cpuMs: number }, ref: { cpuMs: number }) =>
  `CPU ${ours.cpuMs.toFixed(0)} vs ${ref.cpuMs.toFixed(0)} ms (${(ours.cpuMs / ref.cpuMs).toFixed(2)}×)`;

function walk(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export default async function benchMinimize(log: (line: string) => void = console.log): Promise<BenchRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-min-'));
  const rows: BenchRow[] = [];
  try {
    const objects = walk(join(CORPUS, 'objects'), '.bpf.o');
    const archives = walk(join(CORPUS, 'kernels'), '.btf.tar.xz');
    const largest = archives.find((a) => a.endsWith(`${LARGEST}.btf.tar.xz`)) as string;
    const raws = join(tmp, 'raw');
    mkdirSync(raws);
    execFileSync('tar', ['-xJf', largest, '-C', raws]);
    const raw = join(raws, `${LARGEST}.btf`);
    const bundle = launcherBundle();
    const main = LAUNCHER;
    const heavy = Math.max(1, Math.min(RUNS, 3));
    log(
      `min-core-btf: ${objects.length} objects; kernels: ${LARGEST} raw (${(statSync(raw).size / 2 ** 20).toFixed(1)} MiB), ` +
        `${archives.length} .btf.tar.xz; medians of ${RUNS} runs (${heavy} for batches); CLI: ${main} (bundle ${bundle})`,
    );

    // 1. One raw kernel, all objects.
    const out = join(tmp, 'out.btf');
    const [ref1, bundled, bare] = timeSideBySide([
      { cmd: 'bpftool', args: ['gen', 'min_core_btf', raw, join(tmp, 'ref.btf'), ...objects] },
      { cmd: process.execPath, args: [main, 'min-core-btf', '-q', raw, out, ...objects] },
      { cmd: process.execPath, args: [bundle, 'min-core-btf', '-q', raw, out, ...objects] },
    ]) as [SideBySideTiming, SideBySideTiming, SideBySideTiming];
    const refCols = { ref: 'bpftool gen min_core_btf', refMs: ref1.medianMs, refRssMiB: ref1.rssMiB };
    const startup = measure(process.execPath, [main, '--version']);
    rows.push(
      {
        case: `1 raw kernel × ${objects.length} objects (launcher)`,
        ms: bundled.medianMs,
        rssMiB: bundled.rssMiB,
        ...refCols,
        note: `goal ≤ 1.0×; ${cpuNote(bundled, ref1)}; start-up alone (--version) ${startup.medianMs.toFixed(0)} ms`,
      },
      {
        case: `1 raw kernel × ${objects.length} objects (bare bundle)`,
        ms: bare.medianMs,
        rssMiB: bare.rssMiB,
        ...refCols,
        note: `without the launcher's freshness check; ${cpuNote(bare, ref1)}`,
      },
    );

    // 2. All kernels from .btf.tar.xz: the batch (fresh OUT each run) vs tar + bpftool in turn.
    const refScript = archives
      .map((a) => {
        const r = a
          .split('/')
          .at(-1)
          ?.replace(/\.btf\.tar\.xz$/, '') as string;
        return `tar -xJf '${a}' -C '${tmp}/x' && bpftool gen min_core_btf '${tmp}/x/${r}.btf' '${tmp}/x/out.btf' ${objects.map((o) => `'${o}'`).join(' ')}`;
      })
      .join(' && ');
    mkdirSync(join(tmp, 'x'));
    const batchArgs = (cli: string[], kernels: string[], jobs?: number): string[] => {
      const dir = join(tmp, 'batch');
      const j = jobs === undefined ? [] : ['--jobs', String(jobs)];
      const args = [
        ...cli,
        'min-core-btf',
        '-q',
        ...j,
        '--kernels',
        ...kernels,
        '--out-dir',
        dir,
        ...objects,
      ];
      return ['-c', `rm -rf '${dir}' && exec "$@"`, 'sh', process.execPath, ...args];
    };
    const batch = (cli: string[], kernels: string[], runs: number, jobs?: number) =>
      measure('sh', batchArgs(cli, kernels, jobs), runs);
    // Peak RSS against the kernel count is measured at a fixed runner count (one), largest
    // kernel first; the 7-kernel case runs in the rounds with the reference.
    const ordered = [largest, ...archives.filter((a) => a !== largest)];
    const [ref2, batchJs, batchAllOneWorker] = timeSideBySide(
      [
        { cmd: 'sh', args: ['-c', refScript] },
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
        const dest = join(many, `${copy}${relative(join(CORPUS, 'kernels'), a)}`);
        mkdirSync(dirname(dest), { recursive: true });
        linkSync(a, dest);
      }
    const batchMany = batch([main], [many], 1, 1);
    rows.push(
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

    // 3. The batch's own account of its stages (worker time summed over kernels).
    const summary = spawnSync(
      process.execPath,
      [main, 'min-core-btf', '-q', '--kernels', ...archives, '--out-dir', join(tmp, 'summary'), ...objects],
      { encoding: 'utf8' },
    ).stderr.trim();
    log(`batch summary line: ${summary}`);

    // 4. In-process stage medians, one kernel: raw, and from .btf.tar.xz.
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
        ...(label === 'raw' ? refCols : {}),
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
