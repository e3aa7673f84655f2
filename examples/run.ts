// `pnpm example`: builds the example app with Vite and with esbuild against the corpus kernels
// (unplugin-btfkit emits the object and one minimized BTF per kernel), then runs each build.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
const entry = join(here, 'app/main.js');
const kernels = [join(here, '../test/corpus/kernels')];
const fromPlugin = createRequire(join(here, '../packages/unplugin/package.json'));
const load = (name: string) => import(pathToFileURL(fromPlugin.resolve(name)).href);

async function viteBuild(outDir: string): Promise<void> {
  const { build } = await load('vite');
  const btfkit = (await import('../packages/unplugin/src/vite.ts')).default;
  await build({
    configFile: false,
    logLevel: 'warn',
    root: join(here, 'app'),
    plugins: [btfkit({ kernels, compat: 'warn', report: true })],
    build: {
      ssr: entry,
      outDir,
      emptyOutDir: true,
      ssrEmitAssets: true,
      rollupOptions: { output: { entryFileNames: '[name].js' } },
    },
  });
}

async function esbuildBuild(outDir: string): Promise<void> {
  const esbuild = await load('esbuild');
  const btfkit = (await import('../packages/unplugin/src/esbuild.ts')).default;
  rmSync(outDir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outdir: outDir,
    // The plugin hands its files to esbuild's file loader: they are named like other assets.
    assetNames: 'assets/[name]-[hash]',
    plugins: [btfkit({ kernels, compat: 'warn', report: true })],
  });
}

for (const [name, run] of [
  ['vite', viteBuild],
  ['esbuild', esbuildBuild],
] as const) {
  const outDir = join(here, 'dist', name);
  const t = performance.now();
  await run(outDir);
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  const assets = readdirSync(join(outDir, 'assets')).sort();
  console.log(`\n=== ${name}: built in ${Math.round(performance.now() - t)} ms → ${outDir}`);
  console.log(`    assets: ${assets.join(' ')}`);
  console.log(`    CO-RE compatibility report: ${join(outDir, 'btfkit-report.html')}\n`);
  execFileSync(process.execPath, [join(outDir, 'main.js')], { stdio: 'inherit' });
}
