/**
 * Builds examples/exec-trace/main.js with unplugin-btfkit (which compiles exec-trace.bpf.c
 * with clang and generates its typed skeleton) into `outDir`, by esbuild or Vite. Used by
 * test/runtime-exec-trace.test.ts; `node --conditions=@btfkit/source --import tsx
 * examples/exec-trace/build.ts [esbuild|vite] [outDir]` builds by hand.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
const fromPlugin = createRequire(join(here, '../../packages/unplugin/package.json'));
const load = (name: string) => import(pathToFileURL(fromPlugin.resolve(name)).href);

export async function buildExecTrace(bundler: 'esbuild' | 'vite', outDir: string): Promise<string> {
  // No kernel list: the runtime relocates against the running kernel's own BTF.
  const options = { kernels: [] as string[] };
  if (bundler === 'esbuild') {
    const esbuild = await load('esbuild');
    const btfkit = (await import('../../packages/unplugin/src/esbuild.ts')).default;
    await esbuild.build({
      entryPoints: [join(here, 'main.js')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outdir: outDir,
      assetNames: 'assets/[name]-[hash]',
      logLevel: 'warning',
      plugins: [btfkit(options)],
    });
  } else {
    const { build } = await load('vite');
    const btfkit = (await import('../../packages/unplugin/src/vite.ts')).default;
    await build({
      configFile: false,
      logLevel: 'warn',
      root: here,
      plugins: [btfkit(options)],
      build: {
        ssr: join(here, 'main.js'),
        outDir,
        emptyOutDir: true,
        ssrEmitAssets: true,
        rollupOptions: { output: { entryFileNames: '[name].js' } },
      },
    });
  }
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  return join(outDir, 'main.js');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const bundler = process.argv[2] === 'vite' ? 'vite' : 'esbuild';
  console.log(await buildExecTrace(bundler, process.argv[3] ?? join(here, 'dist', bundler)));
}
