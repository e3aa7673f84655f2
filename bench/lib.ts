/**
 * Shared helpers for bench modules: medians, timing a command as a child process (wall
 * time, CPU time and peak RSS from bench/rusage.c), and the CLI as `pnpm btfkit` runs it
 * (scripts/btfkit.cjs and its esbuild bundle).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

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

let built = false;

/**
 * Builds @btfkit/core and @btfkit/runtime (`pnpm build` of the two, their dist/), once per
 * bench run, for probes that time the product as users run it: the built JavaScript, with
 * no TypeScript loader transpiling modules inside the timed region.
 */
export function builtPackages(log: (line: string) => void): void {
  if (built) return;
  log('building @btfkit/core and @btfkit/runtime (dist/) for the fresh-process probes');
  execFileSync('pnpm', ['--filter', '@btfkit/core', '--filter', '@btfkit/runtime', 'run', 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  built = true;
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
 * bench/rusage.c, built once per bench process into a temp dir (removed at exit): runs a
 * command and reports its wall time, CPU time with microsecond resolution (wait4's rusage;
 * GNU time's %U/%S count hundredths of a second, too coarse for a 20 ms bpftool run) and
 * peak RSS.
 */
let rusageBinary: string | undefined;
function rusage(): string {
  if (rusageBinary !== undefined) return rusageBinary;
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-bench-rusage-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'rusage');
  execFileSync('gcc', ['-O2', '-o', bin, join(ROOT, 'bench/rusage.c')]);
  rusageBinary = bin;
  return bin;
}

/** One run of a command: wall and CPU (user+sys, waited-for children included) ms, peak RSS KiB. */
interface Run {
  wallMs: number;
  cpuMs: number;
  rssKiB: number;
}

function runOnce(
  cmd: string,
  args: string[],
  opts: { cwd?: string; stdoutFile?: string; env?: NodeJS.ProcessEnv },
): Run {
  const out = opts.stdoutFile ?? '/dev/null';
  const r = spawnSync(rusage(), ['-o', out, cmd, ...args], {
    cwd: opts.cwd ?? ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(opts.env ? { env: opts.env } : {}),
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const last = r.stderr.toString().trim().split('\n').at(-1) ?? '';
  const [tag, wall, user, sys, rss] = last.split(' ');
  if (tag !== 'rusage') throw new Error(`${cmd}: no rusage line in ${last}`);
  return { wallMs: Number(wall), cpuMs: Number(user) + Number(sys), rssKiB: Number(rss) };
}

/**
 * Times `cmd args` `runs` times, stdout to /dev/null (or to `stdoutFile`, truncated each
 * run), under bench/rusage.c for its peak RSS. Throws if it fails.
 */
export function timeProcess(
  cmd: string,
  args: string[],
  runs = RUNS,
  opts: { cwd?: string; stdoutFile?: string; env?: NodeJS.ProcessEnv } = {},
): ProcessTiming {
  const runsMs: number[] = [];
  let rssKiB = 0;
  for (let i = 0; i < runs; i++) {
    const r = runOnce(cmd, args, opts);
    runsMs.push(r.wallMs);
    rssKiB = Math.max(rssKiB, r.rssKiB);
  }
  return { medianMs: median(runsMs), runsMs, rssMiB: rssKiB / 1024 };
}

/** One command of a side-by-side measurement (see timeSideBySide). */
export interface Contender {
  cmd: string;
  args: string[];
  opts?: { cwd?: string; stdoutFile?: string; env?: NodeJS.ProcessEnv };
}

/**
 * A contender's medians over its runs: wall and CPU (user+sys, children included), peak
 * RSS. On a shared machine wall time measures the neighbours too; CPU does less.
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
      const r = runOnce(cmd, args, opts);
      (wall[i] as number[]).push(r.wallMs);
      (cpu[i] as number[]).push(r.cpuMs);
      rss[i] = Math.max(rss[i] as number, r.rssKiB);
    }
  }
  return contenders.map((_, i) => ({
    medianMs: median(wall[i] as number[]),
    runsMs: wall[i] as number[],
    rssMiB: (rss[i] as number) / 1024,
    cpuMs: median(cpu[i] as number[]),
  }));
}

/** The corpus kernels' archives (test/corpus/kernels, btfhub layout), sorted. */
export const CORPUS_ARCHIVES = join(ROOT, 'test/corpus/kernels');

/** The running kernel's BTF, measured beside the corpus kernels when it can be read. */
export const RUNNING_KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/** One kernel a bench runs on: its name in the table, raw BTF path, and size. */
export interface BenchKernel {
  name: string;
  raw: string;
  bytes: number;
  /** The .btf.tar.xz it was extracted from (none for the running kernel). */
  archive?: string;
}

/**
 * Every corpus kernel extracted once into `dir` (raw BTF, as bpftool reads it), smallest
 * first, then /sys/kernel/btf/vmlinux when it is readable: a bench that runs each of these
 * cannot be tuned to one kernel's size.
 */
export function benchKernels(dir: string): BenchKernel[] {
  const archives = readdirSync(CORPUS_ARCHIVES, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.btf.tar.xz'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const kernels = archives.map((archive): BenchKernel => {
    const name = basename(archive, '.btf.tar.xz');
    execFileSync('tar', ['-xJf', archive, '-C', dir, `${name}.btf`]);
    const raw = join(dir, `${name}.btf`);
    return { name, raw, bytes: statSync(raw).size, archive };
  });
  kernels.sort((a, b) => a.bytes - b.bytes);
  try {
    accessSync(RUNNING_KERNEL_BTF, constants.R_OK);
    kernels.push({
      name: 'running kernel',
      raw: RUNNING_KERNEL_BTF,
      bytes: statSync(RUNNING_KERNEL_BTF).size,
    });
  } catch {
    // No BTF in this kernel (or not readable): the corpus kernels only.
  }
  return kernels;
}

/** A kernel's size for a case name: "5.10.0-32-cloud-amd64 (3.2 MiB)". */
export const kernelLabel = (k: BenchKernel): string => `${k.name} (${(k.bytes / 2 ** 20).toFixed(1)} MiB)`;

/** "CPU 60 vs 20 ms (3.00×)": a side-by-side pair's CPU (user+sys) medians. */
export const cpuNote = (ours: { cpuMs: number }, ref: { cpuMs: number }): string =>
  `CPU ${ours.cpuMs.toFixed(0)} vs ${ref.cpuMs.toFixed(0)} ms (${(ours.cpuMs / ref.cpuMs).toFixed(2)}×)`;

/**
 * The row with the highest ratio among `rows`, as a headline row of its own (the case it
 * came from named in its note), so that a table is summed up by its worst case, not its best.
 */
export function worstRow(rows: BenchRow[], label: string, goal: string): BenchRow | undefined {
  const rated = rows.filter((r) => r.refMs !== undefined && r.refMs > 0);
  if (rated.length === 0) return undefined;
  const ratio = (r: BenchRow) => r.ms / (r.refMs as number);
  const worst = rated.reduce((a, b) => (ratio(b) > ratio(a) ? b : a));
  const best = rated.reduce((a, b) => (ratio(b) < ratio(a) ? b : a));
  return {
    ...worst,
    case: `HEADLINE ${label}: worst of ${rated.length}`,
    note: `${goal}; worst: ${worst.case}; best ${ratio(best).toFixed(2)}× (${best.case})`,
  };
}
