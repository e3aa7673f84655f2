import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
  rows.push(...(await benchWatchRebuild(log, all.slice(0, 3))));
  rmSync(tmp, { recursive: true, force: true });
  return rows;
}

/**
 * A Rollup watch rebuild after touching only app code, with 6 objects imported: the time spent
 * inside the plugin's hooks (each hook wrapped in a timer) against the whole rebuild (Rollup's
 * BUNDLE_END duration), medians of RUNS rebuilds. The plugin remembers each object's work by
 * its bytes and the kernel set, so such a rebuild should cost it almost nothing. Goal: < 5 ms.
 */
export async function benchWatchRebuild(
  log: (line: string) => void,
  kernels: { abs: string; rel: string }[],
): Promise<BenchRow[]> {
  const objects = ['execsnoop', 'opensnoop', 'statsnoop', 'bindsnoop', 'biopattern', 'capable'];
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-bench-watch-'));
  for (const f of kernels) {
    mkdirSync(join(dir, 'kernels', f.rel, '..'), { recursive: true });
    symlinkSync(f.abs, join(dir, 'kernels', f.rel));
  }
  for (const o of objects)
    copyFileSync(join(ROOT, 'test/corpus/objects', `${o}.bpf.o`), join(dir, `${o}.bpf.o`));
  const entry = join(dir, 'main.js');
  const app = (n: number) =>
    `${objects.map((o) => `import ${o} from './${o}.bpf.o';`).join('\n')}\nconsole.log(${n}, ${objects.join(', ')});\n`;
  writeFileSync(entry, app(0));
  const fromPlugin = createRequire(join(ROOT, 'packages/unplugin/package.json'));
  const { watch } = await import(pathToFileURL(fromPlugin.resolve('rollup')).href);
  const plugin = (await import('../packages/unplugin/src/rollup.ts')).default({
    kernels: [join(dir, 'kernels')],
    cacheDir: false,
  });
  const spent = { ms: 0 };
  const watcher = watch({
    input: entry,
    plugins: [timeHooks(plugin, spent)],
    external: [/^node:/],
    output: { dir: join(dir, 'dist'), format: 'es' },
    watch: { buildDelay: 0 },
    logLevel: 'silent',
  });
  let done: ((r: { ms: number; error?: Error }) => void) | undefined;
  watcher.on('event', (e: { code: string; duration?: number; error?: Error; result?: { close(): void } }) => {
    if (e.code === 'BUNDLE_END') {
      e.result?.close();
      done?.({ ms: e.duration ?? Number.NaN });
    }
    if (e.code === 'ERROR') done?.({ ms: Number.NaN, error: e.error });
  });
  const nextBuild = () =>
    new Promise<number>((resolve, reject) => {
      done = (r) => (r.error ? reject(r.error) : resolve(r.ms));
    });
  const plugins: number[] = [];
  const totals: number[] = [];
  try {
    const cold = await nextBuild();
    log(
      `rollup watch, ${objects.length} objects x ${kernels.length} kernels: first build ${cold.toFixed(0)} ms`,
    );
    for (let i = 1; i <= RUNS; i++) {
      await new Promise((r) => setTimeout(r, 100));
      spent.ms = 0;
      const built = nextBuild();
      writeFileSync(entry, app(i));
      totals.push(await built);
      plugins.push(spent.ms);
    }
  } finally {
    await watcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const plugin_ = median(plugins);
  const total = median(totals);
  log(`rebuild after an app-code change: plugin ${plugin_.toFixed(2)} ms of ${total.toFixed(0)} ms`);
  return [
    {
      case: `rollup watch rebuild, ${objects.length} objects unchanged: plugin hooks`,
      ms: plugin_,
      ref: 'the whole rebuild',
      refMs: total,
      note: 'goal < 5 ms',
    },
  ];
}

/**
 * The plugin with every hook (function or `{ handler }`) timed: `spent.ms` grows by the wall time
 * during which at least one of its hooks is running (Rollup runs loads concurrently; summing each
 * hook's own span would count the overlap several times).
 */
// biome-ignore lint/suspicious/noExplicitAny: a Rollup plugin object, hooks of every shape
function timeHooks(plugin: any, spent: { ms: number }): any {
  let active = 0;
  let since = 0;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  const wrap = (fn: (...a: any[]) => unknown) =>
    // biome-ignore lint/suspicious/noExplicitAny: see above
    async function (this: unknown, ...a: any[]) {
      if (active++ === 0) since = performance.now();
      try {
        return await fn.apply(this, a);
      } finally {
        if (--active === 0) spent.ms += performance.now() - since;
      }
    };
  const out = { ...plugin };
  for (const [k, v] of Object.entries(plugin)) {
    if (typeof v === 'function') out[k] = wrap(v as () => unknown);
    else if (v && typeof v === 'object' && typeof (v as { handler?: unknown }).handler === 'function')
      out[k] = { ...v, handler: wrap((v as { handler: () => unknown }).handler) };
  }
  return out;
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
