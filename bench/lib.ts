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

/** One command of a side-by-side measurement (see timeSideBySide). */
export interface Contender {
  cmd: string;
  args: string[];
  opts?: { cwd?: string; stdoutFile?: string; env?: NodeJS.ProcessEnv };
}

/**
 * A contender's medians over its runs: wall and CPU (user+sys, children included, from GNU
 * time), peak RSS. On a shared machine wall time measures the neighbours too; CPU does not.
 */
export interface SideBySideTiming extends ProcessTiming {
  cpuMs: number;
}

/**
 * Times several commands in rounds: each round runs every contender once, the order
 * rotating by one each round, so that a machine whose speed drifts (a shared VM) slows
 * them alike instead of whichever block of runs it happened to meet. The ratios of these
 * medians are what the bench reports against bpftool and libbpf.
 */
export function timeSideBySide(contenders: Contender[], runs = RUNS): SideBySideTiming[] {
  const wall = contenders.map((): number[] => []);
  const cpu = contenders.map((): number[] => []);
  const rss = contenders.map(() => 0);
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (round + k) % contenders.length;
      const { cmd, args, opts = {} } = contenders[i] as Contender;
      const out = openSync(opts.stdoutFile ?? '/dev/null', 'w');
      try {
        const t0 = process.hrtime.bigint();
        const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], {
          cwd: opts.cwd ?? ROOT,
          stdio: ['ignore', out, 'pipe'],
          ...(opts.env ? { env: opts.env } : {}),
        });
        (wall[i] as number[]).push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
        const [u, sy, m] = (r.stderr.toString().trim().split('\n').at(-1) ?? '').split(' ').map(Number);
        (cpu[i] as number[]).push(((u ?? 0) + (sy ?? 0)) * 1000);
        rss[i] = Math.max(rss[i] as number, m ?? 0);
      } finally {
        closeSync(out);
      }
    }
  }
  return contenders.map((_, i) => ({
    medianMs: median(wall[i] as number[]),
    runsMs: wall[i] as number[],
    rssMiB: (rss[i] as number) / 1024,
    cpuMs: median(cpu[i] as number[]),
  }));
}
