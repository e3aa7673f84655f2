/**
 * Shared helpers for bench modules: medians, timing a command as a child process (wall
 * time from process.hrtime, peak RSS from GNU time), and the CLI as `pnpm btfkit` runs it
 * (scripts/btfkit.cjs and its esbuild bundle).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');

/** What `pnpm btfkit` runs: checks its bundle is fresh, rebuilds it if not, runs it. */
export const LAUNCHER = join(ROOT, 'scripts/btfkit.cjs');

/**
 * The launcher's bundle run without the launcher's freshness check (bench/bare-bundle.cjs),
 * after one launcher run has brought the bundle up to date.
 */
export function launcherBundle(): string {
  const r = spawnSync(process.execPath, [LAUNCHER, '--version'], { cwd: ROOT });
  if (r.status !== 0) throw new Error(`${LAUNCHER} --version failed: ${r.stderr}`);
  return join(ROOT, 'bench/bare-bundle.cjs');
}

/**
 * NODE_EXTRA_CA_CERTS as the bench's own environment had it: bench/run.ts removes it from
 * the environment every measured process inherits (see there) and keeps it here for rows
 * that show what it costs.
 */
export const EXTRA_CA_CERTS = process.env.BENCH_NODE_EXTRA_CA_CERTS || undefined;

/** Runs per measured case: BENCH_RUNS or 10. */
export const RUNS = Number.parseInt(process.env.BENCH_RUNS ?? '10', 10);

/** One line of the runner's table. `ref*` is the reference tool on the same input in the same run. */
export interface BenchRow {
  case: string;
  ms: number;
  rssMiB?: number;
  ref?: string;
  refMs?: number;
  refRssMiB?: number;
  note?: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export interface ProcessTiming {
  medianMs: number;
  runsMs: number[];
  rssMiB: number;
}

/**
 * Times `cmd args` `runs` times, stdout to /dev/null (or to `stdoutFile`, truncated each
 * run), each under `/usr/bin/time -f %M` for its peak RSS. Throws if it fails.
 */
export function timeProcess(
  cmd: string,
  args: string[],
  runs = RUNS,
  opts: { cwd?: string; stdoutFile?: string; env?: NodeJS.ProcessEnv } = {},
): ProcessTiming {
  const cwd = opts.cwd ?? ROOT;
  const devnull = openSync(opts.stdoutFile ?? '/dev/null', 'w');
  try {
    const runsMs: number[] = [];
    let rssKiB = 0;
    for (let i = 0; i < runs; i++) {
      if (opts.stdoutFile) ftruncateSync(devnull, 0);
      const t0 = process.hrtime.bigint();
      const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], {
        cwd,
        stdio: ['ignore', devnull, 'pipe'],
        ...(opts.env ? { env: opts.env } : {}),
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
      runsMs.push(ms);
      const last = r.stderr.toString().trim().split('\n').at(-1) ?? '0';
      rssKiB = Math.max(rssKiB, Number.parseInt(last, 10));
    }
    return { medianMs: median(runsMs), runsMs, rssMiB: rssKiB / 1024 };
  } finally {
    closeSync(devnull);
  }
}
