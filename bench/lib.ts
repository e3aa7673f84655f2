/**
 * Shared helpers for bench modules: medians, timing a command as a child process (wall
 * time from process.hrtime, peak RSS from GNU time), and a transpiled copy of
 * @btfkit/core to time the CLI as it runs when installed (plain JS, no tsx loader).
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export const ROOT = join(import.meta.dirname, '..');

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
  opts: { cwd?: string; stdoutFile?: string } = {},
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

/**
 * Transpiles packages/core/src (tests excluded) to ESM JavaScript under `outDir` and returns
 * the path of cli/main.js. Its node_modules link points at @btfkit/core's dependencies.
 */
export function transpileCore(outDir: string): string {
  const src = join(ROOT, 'packages/core/src');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? walk(join(dir, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')
          ? [join(dir, e.name)]
          : [],
    );
  for (const file of walk(src)) {
    const out = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2023,
        rewriteRelativeImportExtensions: true,
        verbatimModuleSyntax: true,
      },
    });
    const dest = join(outDir, 'src', relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, out.outputText);
  }
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(ROOT, 'packages/core/node_modules'), join(outDir, 'node_modules'));
  return join(outDir, 'src/cli/main.js');
}
