/**
 * `btfkit dump` against `bpftool btf dump file` (bpftool 7.1.0) on the largest corpus
 * kernel (6.12, raw BTF), in the same run: decode alone, decode+dump in-process, and the
 * CLI as a process (via tsx as `pnpm btfkit` runs it, and as transpiled JS as installed).
 * Goal: the dump ≤ 1.0× bpftool's wall time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchRow, median, ROOT, RUNS, timeProcess, transpileCore } from './lib.ts';

const RELEASE = '6.12.111+deb12-cloud-amd64';
const ARCHIVE = join(ROOT, 'test/corpus/kernels/debian/12/x86_64', `${RELEASE}.btf.tar.xz`);

export default async function benchDump(log: (line: string) => void = console.log): Promise<BenchRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-dump-'));
  try {
    execFileSync('tar', ['-xJf', ARCHIVE, '-C', tmp]);
    const raw = join(tmp, `${RELEASE}.btf`);
    log(`dump: ${RELEASE} (raw), ${RUNS} runs per case, medians; stdout to /dev/null unless noted`);

    const bpftool = timeProcess('bpftool', ['btf', 'dump', 'file', raw]);
    const inproc = JSON.parse(
      execFileSync(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'bench/dump-inprocess.ts'), raw, String(RUNS)],
        {
          cwd: ROOT,
        },
      ).toString(),
    ) as { decodeMs: number[]; dumpMs: number[]; maxRssKiB: number };
    const decode = median(inproc.decodeMs);
    const both = median(inproc.decodeMs.map((d, i) => d + (inproc.dumpMs[i] as number)));
    const inprocRss = inproc.maxRssKiB / 1024;

    const viaTsx = timeProcess(process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'packages/core/src/cli/main.ts'),
      'dump',
      raw,
    ]);
    const main = transpileCore(join(tmp, 'dist'));
    const viaJs = timeProcess(process.execPath, [main, 'dump', raw]);
    const nodeAlone = timeProcess(process.execPath, ['-e', '0']);
    // Output to a real file: bpftool's stdio writes 4 KiB blocks, btfkit 1 MiB chunks.
    const out = join(tmp, 'out.txt');
    const bpftoolFile = timeProcess('bpftool', ['btf', 'dump', 'file', raw], RUNS, { stdoutFile: out });
    const viaJsFile = timeProcess(process.execPath, [main, 'dump', raw], RUNS, { stdoutFile: out });

    const ref = { ref: 'bpftool btf dump file', refMs: bpftool.medianMs, refRssMiB: bpftool.rssMiB };
    return [
      {
        case: 'decode (in-process)',
        ms: decode,
        rssMiB: inprocRss,
        ...ref,
        note: 'bpftool column: its whole run',
      },
      { case: 'decode + dump (in-process)', ms: both, rssMiB: inprocRss, ...ref },
      {
        case: 'btfkit dump CLI (transpiled JS)',
        ms: viaJs.medianMs,
        rssMiB: viaJs.rssMiB,
        ...ref,
        note: `node startup alone ${nodeAlone.medianMs.toFixed(0)} ms`,
      },
      {
        case: 'btfkit dump CLI (node --import tsx)',
        ms: viaTsx.medianMs,
        rssMiB: viaTsx.rssMiB,
        ...ref,
        note: 'includes the tsx loader',
      },
      {
        case: 'btfkit dump CLI (JS) > file',
        ms: viaJsFile.medianMs,
        rssMiB: viaJsFile.rssMiB,
        ref: 'bpftool btf dump file > file',
        refMs: bpftoolFile.medianMs,
        refRssMiB: bpftoolFile.rssMiB,
        note: 'stdout to a file in the temp dir',
      },
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  for (const r of await benchDump()) console.log(r);
}
