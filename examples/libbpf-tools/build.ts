/**
 * Builds the libbpf-tools ports (examples/libbpf-tools/<tool>.ts) with esbuild and
 * unplugin-btfkit into `outDir`: each imports the corpus's libbpf-tools object, for which the
 * plugin generates the typed skeleton. Used by test/libbpf-tools.test.ts; by hand:
 * `node --conditions=@btfkit/source --import tsx examples/libbpf-tools/build.ts [outDir]`.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
export const TOOLS = [
  'execsnoop',
  'opensnoop',
  'exitsnoop',
  'syscount',
  'funclatency',
  'runqlat',
  'capable',
] as const;
export type Tool = (typeof TOOLS)[number];

export async function buildTools(outDir: string): Promise<Record<Tool, string>> {
  const fromPlugin = createRequire(join(here, '../../packages/unplugin/package.json'));
  const esbuild = await import(pathToFileURL(fromPlugin.resolve('esbuild')).href);
  const btfkit = (await import('../../packages/unplugin/src/esbuild.ts')).default;
  await esbuild.build({
    entryPoints: TOOLS.map((t) => join(here, `${t}.ts`)),
    bundle: true,
    platform: 'node',
    format: 'esm',
    outdir: outDir,
    assetNames: 'assets/[name]-[hash]',
    logLevel: 'warning',
    // Resolved at run time, as the skeleton's own runtime import is (the workspace's sources).
    external: ['@btfkit/runtime'],
    plugins: [btfkit({ kernels: [] })],
  });
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  return Object.fromEntries(TOOLS.map((t) => [t, join(outDir, `${t}.js`)])) as Record<Tool, string>;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await buildTools(process.argv[2] ?? join(here, 'dist')));
}
