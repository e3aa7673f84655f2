import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../test/plugin-harness.ts';
import { type BenchRow, median, ROOT, RUNS, timeProcess } from './lib.ts';

/**
 * unplugin-btfkit's build cost: the fixture app (importing execsnoop.bpf.o) built with esbuild
 * and Vite for N corpus kernels, with a cold cache (fresh cache dir: every kernel minimized)
 * and a warm one (unchanged inputs: nothing minimized), against the same bundler building an
 * app without the object (the plugin's own cost is the difference) and against
 * `btfkit min-core-btf --kernels` alone on the same kernels (the reference for cold builds).
 * Goals: warm overhead < 100 ms; cold overhead ≤ the batch minimizer's own time.
 */
export default async function benchPlugin(log: (line: string) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const corpusKernels = join(ROOT, 'test/corpus/kernels');
  const all = listKernelFiles(corpusKernels);
  const app = join(ROOT, 'test/fixtures/plugin/app/main.js');
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-plugin-'));
  const plain = join(tmp, 'plain.js');
  writeFileSync(plain, 'console.log(JSON.stringify({ ok: true }));\n');
  const coldRuns = Math.max(1, Math.min(RUNS, 3));
  const object = join(ROOT, 'test/corpus/objects/execsnoop.bpf.o');

  for (const n of [1, 3, all.length]) {
    const kdir = join(tmp, `k${n}`);
    for (const f of all.slice(0, n)) {
      const dst = join(kdir, f.rel);
      mkdirSync(join(dst, '..'), { recursive: true });
      symlinkSync(f.abs, dst);
    }
    // A fresh --out-dir each run: min-core-btf resumes from its stamps in an existing one.
    const ref = timeProcess(
      '/bin/sh',
      [
        '-c',
        'rm -rf "$1" && exec "$0" --import tsx packages/core/src/cli/main.ts min-core-btf --kernels "$2" --out-dir "$1" "$3"',
        process.execPath,
        join(tmp, `ref${n}`),
        kdir,
        object,
      ],
      coldRuns,
    );
    for (const bundler of ['esbuild', 'vite'] as const) {
      const out = join(tmp, `out-${bundler}-${n}`);
      // One untimed build first: the bundler's own module loading is not the plugin's cost.
      await build(bundler, plain, out, false);
      const base = await timeIt(RUNS, () => build(bundler, plain, out, false));
      const cold = await timeIt(coldRuns, async () => {
        const cacheDir = join(tmp, `cache-cold-${bundler}-${n}`);
        rmSync(cacheDir, { recursive: true, force: true });
        await build(bundler, app, out, { kernels: [kdir], cacheDir });
      });
      const warmCache = join(tmp, `cache-warm-${bundler}-${n}`);
      await build(bundler, app, out, { kernels: [kdir], cacheDir: warmCache });
      const warm = await timeIt(RUNS, () =>
        build(bundler, app, out, { kernels: [kdir], cacheDir: warmCache }),
      );
      log(
        `${bundler} ${n} kernel(s): off ${base.toFixed(0)} ms, cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms; ` +
          `min-core-btf --kernels alone ${ref.medianMs.toFixed(0)} ms`,
      );
      rows.push({ case: `${bundler}, ${n} kernel(s), plugin off`, ms: base });
      rows.push({
        case: `${bundler}, ${n} kernel(s), cold cache`,
        ms: cold - base,
        ref: 'btfkit min-core-btf --kernels',
        refMs: ref.medianMs,
        note: 'overhead over plugin off',
      });
      rows.push({
        case: `${bundler}, ${n} kernel(s), warm cache`,
        ms: warm - base,
        note: 'overhead over plugin off; goal < 100 ms',
      });
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  return rows;
}

async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function listKernelFiles(dir: string, rel = ''): { abs: string; rel: string }[] {
  const out: { abs: string; rel: string }[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  )) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listKernelFiles(dir, r));
    else if (e.name.endsWith('.btf.tar.xz')) out.push({ abs: join(dir, r), rel: r });
  }
  return out;
}
