/**
 * Bundles the btfkit CLI with esbuild: `main.cjs` (packages/core/src/cli/main.ts) and, beside
 * it, `worker.js` (the min-core-btf batch worker, which the batch loads from `./worker.js`
 * next to its own module) and `compat-worker.js` (compat's judging thread, likewise). Used
 * by scripts/btfkit.cjs (`pnpm btfkit`, rebuilt when stale) and by @btfkit/core's build
 * (dist/bundle/, what the installed `btfkit` bin runs).
 *
 * main.cjs is CommonJS, not ESM, because packages/core/bin/run-bundle.js runs it as a
 * vm.Script with a V8 code cache (Node 20 caches no ES module code); import.meta.url, which
 * CommonJS lacks, becomes the `__bundleUrl` that run-bundle.js passes in. The worker runs
 * as an ES module in its own thread, as before.
 *
 * `node scripts/cli-bundle.mjs OUT_DIR` builds into OUT_DIR.
 */
import { mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const CORE = join(import.meta.dirname, '../packages/core');

/**
 * main.cjs is written as one function expression taking the parameters the bundle's CommonJS
 * code expects, plus __bundleUrl (what esbuild puts for import.meta.url, so the batch finds
 * its workers beside the bundle): run-bundle.cjs compiles the file as it is. Wrapping it there
 * instead built a second 0.5 MB string per run, ~0.6 ms of a ~50 ms command.
 */
const MAIN_HEAD = Buffer.from('(function (exports, require, module, __filename, __dirname, __bundleUrl) {');
const MAIN_TAIL = Buffer.from('\n})');
const SRC = join(CORE, 'src');

/**
 * Builds both entry points in memory, then writes each file to a temp name and renames it:
 * two builds at once both write the same bytes, and nobody ever imports a half-written file.
 * main.js is written last and its mtime set to `stamp` (seconds; default: now), so a source
 * saved during the build is seen as newer than the bundle.
 */
export async function buildCliBundle(outDir, stamp = Date.now() / 1000) {
  const esbuild = await import('esbuild');
  const main = join(outDir, 'main.cjs');
  const common = {
    outdir: outDir,
    bundle: true,
    write: false,
    platform: 'node',
    target: 'node20',
    nodePaths: [join(CORE, 'node_modules')],
    // Native addon: resolved at run time from the bundle's place (core's dependencies).
    external: ['@napi-rs/lzma'],
    logLevel: 'error',
  };
  const [cli, worker] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: { main: join(SRC, 'cli/main.ts') },
      outExtension: { '.js': '.cjs' },
      format: 'cjs',
      define: { 'import.meta.url': '__bundleUrl' },
    }),
    esbuild.build({
      ...common,
      entryPoints: {
        worker: join(SRC, 'minimize/batch/worker.ts'),
        'compat-worker': join(SRC, 'compat/compat-worker.ts'),
      },
      format: 'esm',
    }),
  ]);
  const result = { outputFiles: [...cli.outputFiles, ...worker.outputFiles] };
  // run-bundle.cjs reads main.cjs as latin1, V8's cheapest source string: it must be ASCII
  // (esbuild escapes strings; only comments it keeps could carry other bytes).
  const nonAscii = cli.outputFiles[0]?.contents.findIndex((b) => b > 0x7f) ?? -1;
  if (nonAscii >= 0) throw new Error(`${main}: byte ${nonAscii} is not ASCII (see the source it came from)`);
  mkdirSync(outDir, { recursive: true });
  const tag = `${process.pid}.tmp`;
  const contents = (f) => (f.path === main ? Buffer.concat([MAIN_HEAD, f.contents, MAIN_TAIL]) : f.contents);
  const pkg = join(outDir, 'package.json');
  writeFileSync(`${pkg}.${tag}`, '{"type":"module"}\n');
  renameSync(`${pkg}.${tag}`, pkg);
  const files = result.outputFiles.sort((a, b) => (a.path === main ? 1 : b.path === main ? -1 : 0));
  for (const f of files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(`${f.path}.${tag}`, contents(f));
    utimesSync(`${f.path}.${tag}`, stamp, stamp);
    renameSync(`${f.path}.${tag}`, f.path);
  }
  return main;
}

if (process.argv[1] === import.meta.filename) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node scripts/cli-bundle.mjs OUT_DIR\n');
    process.exit(2);
  }
  await buildCliBundle(resolve(out));
}
