/**
 * `btfkit dump` against `bpftool btf dump file` (bpftool 7.1.0) on the largest corpus
 * kernel (6.12, raw BTF), in the same run: decode alone, decode+dump in-process, and the
 * CLI as a process: scripts/btfkit.cjs as `pnpm btfkit` runs it (the launcher's freshness
 * check plus its esbuild bundle and code cache), the bare bundle, and `pnpm --silent btfkit`
 * itself; and, when the environment sets NODE_EXTRA_CA_CERTS (bench/run.ts unsets it for
 * every measured process), the launcher with it, to show what it costs Node's start.
 * Then every corpus kernel and /sys/kernel/btf/vmlinux, launcher against bpftool, each a row,
 * with the worst ratio as the headline. Goal: the dump ≤ 0.7× bpftool's wall time on each.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BenchRow,
  benchKernels,
  cpuNote,
  EXTRA_CA_CERTS,
  kernelLabel,
  LAUNCHER,
  launcherBundle,
  median,
  ROOT,
  RUNS,
  type SideBySideTiming,
  timeProcess,
  timeSideBySide,
  worstRow,
} from './lib.ts';

const RELEASE = '6.12.111+deb12-cloud-amd64';
const ARCHIVE = join(ROOT, 'test/corpus/kernels/debian/12/x86_64', `${RELEASE}.btf.tar.xz`);

export default async function benchDump(log: (line: string) => void = console.log): Promise<BenchRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-dump-'));
  try {
    execFileSync('tar', ['-xJf', ARCHIVE, '-C', tmp]);
    const raw = join(tmp, `${RELEASE}.btf`);
    log(`dump: ${RELEASE} (raw), ${RUNS} runs per case, medians; stdout to /dev/null unless noted`);

    const inproc = JSON.parse(
      execFileSync(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'bench/dump-inprocess.ts'), raw, String(RUNS)],
        {
          cwd: ROOT,
        },
      ).toString(),
    ) as { decodeMs: number[]; typesMs: number[]; dumpMs: number[]; maxRssKiB: number };
    const decode = median(inproc.decodeMs);
    const types = median(inproc.typesMs);
    const both = median(
      inproc.decodeMs.map((d, i) => d + (inproc.typesMs[i] as number) + (inproc.dumpMs[i] as number)),
    );
    const cold =
      (inproc.decodeMs[0] as number) + (inproc.typesMs[0] as number) + (inproc.dumpMs[0] as number);
    const inprocRss = inproc.maxRssKiB / 1024;

    const bundle = launcherBundle();
    const [bpftool, viaLauncher, viaBundle] = timeSideBySide([
      { cmd: 'bpftool', args: ['btf', 'dump', 'file', raw] },
      { cmd: process.execPath, args: [LAUNCHER, 'dump', raw] },
      { cmd: process.execPath, args: [bundle, 'dump', raw] },
    ]) as [SideBySideTiming, SideBySideTiming, SideBySideTiming];
    const viaPnpm = timeProcess('pnpm', ['--silent', 'btfkit', 'dump', raw]);
    const nodeAlone = timeProcess(process.execPath, ['-e', '0']);
    // Output to a real file: bpftool's stdio writes 4 KiB blocks, btfkit 1 MiB chunks.
    const out = join(tmp, 'out.txt');
    const bpftoolFile = timeProcess('bpftool', ['btf', 'dump', 'file', raw], RUNS, { stdoutFile: out });
    const launcherFile = timeProcess(process.execPath, [LAUNCHER, 'dump', raw], RUNS, { stdoutFile: out });
    const withCerts =
      EXTRA_CA_CERTS === undefined
        ? undefined
        : timeProcess(process.execPath, [LAUNCHER, 'dump', raw], RUNS, {
            env: { ...process.env, NODE_EXTRA_CA_CERTS: EXTRA_CA_CERTS },
          });

    const ref = { ref: 'bpftool btf dump file', refMs: bpftool.medianMs, refRssMiB: bpftool.rssMiB };
    const certRows: BenchRow[] = withCerts
      ? [
          {
            case: 'btfkit dump CLI (launcher), NODE_EXTRA_CA_CERTS set',
            ms: withCerts.medianMs,
            rssMiB: withCerts.rssMiB,
            ...ref,
            note: `the environment's own NODE_EXTRA_CA_CERTS: Node loads it at start (${(withCerts.medianMs - viaLauncher.medianMs).toFixed(0)} ms here); not btfkit's doing`,
          },
        ]
      : [];
    // Every kernel, the smallest first: no one kernel's size stands for the rest.
    const all = join(tmp, 'all');
    mkdirSync(all);
    const perKernel = benchKernels(all).map((k): BenchRow => {
      const [b, ours] = timeSideBySide([
        { cmd: 'bpftool', args: ['btf', 'dump', 'file', k.raw] },
        { cmd: process.execPath, args: [LAUNCHER, 'dump', k.raw] },
      ]) as [SideBySideTiming, SideBySideTiming];
      return {
        case: `btfkit dump CLI (launcher), ${kernelLabel(k)}`,
        ms: ours.medianMs,
        rssMiB: ours.rssMiB,
        ref: 'bpftool btf dump file',
        refMs: b.medianMs,
        refRssMiB: b.rssMiB,
        note: cpuNote(ours, b),
      };
    });
    const headline = worstRow(perKernel, 'dump, every kernel', 'goal ≤ 0.7×');
    if (headline)
      log(`${headline.case}: ${(headline.ms / (headline.refMs as number)).toFixed(2)}× (${headline.note})`);

    return [
      ...(headline ? [headline] : []),
      {
        case: 'decode: validating scan (in-process)',
        ms: decode,
        rssMiB: inprocRss,
        ...ref,
        note: `bpftool column: its whole run; then all type objects built: ${types.toFixed(1)} ms`,
      },
      {
        case: 'decode + all types + dump (in-process)',
        ms: both,
        rssMiB: inprocRss,
        ...ref,
        note: `warm median; first (cold) run ${cold.toFixed(0)} ms, as a CLI process pays`,
      },
      {
        case: 'btfkit dump CLI (node scripts/btfkit.cjs)',
        ms: viaLauncher.medianMs,
        rssMiB: viaLauncher.rssMiB,
        ...ref,
        note: `what pnpm btfkit runs; goal ≤ 1.0×; node startup alone ${nodeAlone.medianMs.toFixed(0)} ms`,
      },
      {
        case: 'btfkit dump CLI (bare bundle)',
        ms: viaBundle.medianMs,
        rssMiB: viaBundle.rssMiB,
        ...ref,
        note: 'without the launcher freshness check (bench/bare-bundle.cjs)',
      },
      {
        case: 'pnpm --silent btfkit dump',
        ms: viaPnpm.medianMs,
        rssMiB: viaPnpm.rssMiB,
        ...ref,
        note: "includes pnpm's own start-up",
      },
      {
        case: 'btfkit dump CLI (launcher) > file',
        ms: launcherFile.medianMs,
        rssMiB: launcherFile.rssMiB,
        ref: 'bpftool btf dump file > file',
        refMs: bpftoolFile.medianMs,
        refRssMiB: bpftoolFile.rssMiB,
        note: 'stdout to a file in the temp dir',
      },
      ...certRows,
      ...perKernel,
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  for (const r of await benchDump()) console.log(r);
}
