import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Options } from '../packages/unplugin/src/index.ts';

// The bundlers are devDependencies of the plugin package: resolve them from there.
const fromPlugin = createRequire(join(import.meta.dirname, '../packages/unplugin/package.json'));
// biome-ignore lint/suspicious/noExplicitAny: each bundler's API is used through its own documented shape
const load = (name: string): Promise<any> => import(pathToFileURL(fromPlugin.resolve(name)).href);

/** Drives each bundler's JS API the same way: one entry, one output dir, Node as the target. */
export type Bundler = 'vite' | 'rollup' | 'rolldown' | 'esbuild' | 'webpack' | 'rspack';
export const BUNDLERS: Bundler[] = ['vite', 'rollup', 'rolldown', 'esbuild', 'webpack', 'rspack'];

/** Where the entry's output goes inside outDir: `main.js`, or `<subdir>/main.js`. */
export interface Layout {
  subdir?: string;
  /** The bundler's root: Vite `root` (default: the entry's folder), webpack/Rspack `context`, esbuild `absWorkingDir`. */
  root?: string;
  /** Source maps on (Rollup, Rolldown, Vite, esbuild). */
  sourcemap?: boolean;
}

/** The built entry's path under outDir. */
export const mainFile = (layout: Layout = {}): string =>
  layout.subdir ? `${layout.subdir}/main.js` : 'main.js';

/**
 * Builds `entry` into `outDir` (the entry's output at `mainFile(layout)`); `plugin: false`
 * builds without the plugin (an entry importing no objects).
 */
export async function build(
  bundler: Bundler,
  entry: string,
  outDir: string,
  opts: Options | false,
  layout: Layout = {},
): Promise<{ warnings: string[] }> {
  const warnings: string[] = [];
  // Rollup-style hosts: warnings reach onLog; nothing is printed.
  const onLog = (level: string, log: { message: string }) => {
    if (level === 'warn') warnings.push(log.message);
  };
  const entryNames = layout.subdir ? `${layout.subdir}/[name].js` : '[name].js';
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const plugins = async () =>
    opts === false ? [] : [(await import(`../packages/unplugin/src/${bundler}.ts`)).default(opts)];
  switch (bundler) {
    case 'rollup': {
      const { rollup } = await load('rollup');
      const b = await rollup({
        input: entry,
        plugins: await plugins(),
        external: [/^node:/],
        logLevel: 'warn',
        onLog,
      });
      await b.write({ dir: outDir, format: 'es', entryFileNames: entryNames, sourcemap: layout.sourcemap });
      await b.close();
      break;
    }
    case 'rolldown': {
      const { rolldown } = await load('rolldown');
      const b = await rolldown({
        input: entry,
        plugins: await plugins(),
        platform: 'node',
        logLevel: 'warn',
        onLog,
      });
      await b.write({ dir: outDir, format: 'es', entryFileNames: entryNames, sourcemap: layout.sourcemap });
      await b.close();
      break;
    }
    case 'vite': {
      const { build: viteBuild } = await load('vite');
      await viteBuild({
        configFile: false,
        logLevel: 'silent',
        root: layout.root ?? join(entry, '..'),
        plugins: await plugins(),
        build: {
          ssr: entry,
          outDir,
          emptyOutDir: true,
          ssrEmitAssets: true,
          sourcemap: layout.sourcemap,
          rollupOptions: {
            output: { format: 'es', entryFileNames: entryNames },
            onwarn: (w: { message: string }) => warnings.push(w.message),
          },
        },
      });
      break;
    }
    case 'esbuild': {
      const esbuild = await load('esbuild');
      const r = await esbuild.build({
        entryPoints: { [mainFile(layout).slice(0, -3)]: entry },
        bundle: true,
        platform: 'node',
        format: 'esm',
        outdir: outDir,
        assetNames: 'assets/[name]-[hash]',
        logLevel: 'silent',
        sourcemap: layout.sourcemap,
        absWorkingDir: layout.root,
        plugins: await plugins(),
      });
      for (const w of r.warnings as { text: string }[]) warnings.push(w.text);
      break;
    }
    case 'webpack':
    case 'rspack': {
      const config = {
        mode: 'none' as const,
        target: 'node',
        entry,
        ...(layout.root ? { context: layout.root } : {}),
        output: { path: outDir, filename: mainFile(layout) },
        plugins: await plugins(),
        infrastructureLogging: { level: 'none' as const },
      };
      const mod =
        bundler === 'webpack' ? (await load('webpack')).default : (await load('@rspack/core')).rspack;
      await new Promise<void>((resolve, reject) => {
        const compiler = (
          mod as (c: unknown) => {
            run(cb: (e: unknown, s: unknown) => void): void;
            close(cb: () => void): void;
          }
        )(config);
        compiler.run((err, stats) => {
          const s = stats as
            | {
                hasErrors(): boolean;
                toJson(o: object): { errors?: { message: string }[]; warnings?: { message: string }[] };
              }
            | undefined;
          for (const w of s?.toJson({ all: false, warnings: true }).warnings ?? []) warnings.push(w.message);
          compiler.close(() => {
            if (err) reject(err);
            else if (s?.hasErrors())
              reject(
                new Error(
                  s
                    .toJson({ all: false, errors: true })
                    .errors?.map((e) => e.message)
                    .join('\n'),
                ),
              );
            else resolve();
          });
        });
      });
      break;
    }
  }
  // ESM outputs run as modules; webpack's CommonJS output as CommonJS.
  const type = bundler === 'webpack' || bundler === 'rspack' ? 'commonjs' : 'module';
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type }));
  return { warnings };
}

/** Runs the built app with Node and parses the JSON line it prints. */
export function runOutput(
  outDir: string,
  env: Record<string, string> = {},
  layout: Layout = {},
): Record<string, unknown> {
  const out = execFileSync(process.execPath, [join(outDir, mainFile(layout))], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

/** Every file under dir, relative, sorted. */
export function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, p));
    else out.push(p);
  }
  return out.sort();
}

/** A bundler in watch mode: `next()` resolves after each finished build (ok or failed). */
export interface Watching {
  next(): Promise<{ ok: boolean; error?: string }>;
  close(): Promise<void>;
}

/**
 * Starts `bundler`'s own watch mode on `entry` (Vite build --watch, Rollup/Rolldown watch,
 * esbuild context.watch, webpack/Rspack compiler.watch), writing to `outDir`.
 */
export async function watchBuild(
  bundler: Bundler,
  entry: string,
  outDir: string,
  opts: Options,
): Promise<Watching> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const type = bundler === 'webpack' || bundler === 'rspack' ? 'commonjs' : 'module';
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type }));
  const plugin = (await import(`../packages/unplugin/src/${bundler}.ts`)).default(opts);
  const done: { ok: boolean; error?: string }[] = [];
  let waiter: (() => void) | undefined;
  const report = (r: { ok: boolean; error?: string }) => {
    done.push(r);
    waiter?.();
  };
  const next = async () => {
    while (done.length === 0) await new Promise<void>((r) => (waiter = r));
    return done.shift() as { ok: boolean; error?: string };
  };
  // Rollup-style watchers (Rollup, Rolldown, Vite) share one event protocol.
  // biome-ignore lint/suspicious/noExplicitAny: the bundlers' watcher objects, used through their documented events
  const onRollupEvents = (w: any) => {
    let error: string | undefined;
    w.on('event', (e: { code: string; result?: { close(): unknown }; error?: Error }) => {
      if (e.code === 'BUNDLE_START') error = undefined;
      if (e.code === 'BUNDLE_END') e.result?.close();
      if (e.code === 'ERROR') {
        error = e.error?.message ?? 'unknown error';
        e.result?.close();
        report({ ok: false, error });
      }
      if (e.code === 'END' && error === undefined) report({ ok: true });
    });
    return { next, close: async () => void (await w.close()) };
  };
  switch (bundler) {
    case 'rollup': {
      const { watch } = await load('rollup');
      return onRollupEvents(
        watch({
          input: entry,
          plugins: [plugin],
          output: { dir: outDir, format: 'es', entryFileNames: '[name].js' },
          watch: { buildDelay: 50 },
          logLevel: 'silent',
        }),
      );
    }
    case 'rolldown': {
      const { watch } = await load('rolldown');
      return onRollupEvents(
        watch({
          input: entry,
          plugins: [plugin],
          platform: 'node',
          output: { dir: outDir, format: 'es', entryFileNames: '[name].js' },
          logLevel: 'silent',
        }),
      );
    }
    case 'vite': {
      const { build: viteBuild } = await load('vite');
      const w = await viteBuild({
        configFile: false,
        logLevel: 'silent',
        root: join(entry, '..'),
        plugins: [plugin],
        build: {
          ssr: entry,
          outDir,
          emptyOutDir: false,
          ssrEmitAssets: true,
          watch: {},
          rollupOptions: { output: { format: 'es', entryFileNames: '[name].js' } },
        },
      });
      return onRollupEvents(w);
    }
    case 'esbuild': {
      const esbuild = await load('esbuild');
      const ctx = await esbuild.context({
        entryPoints: { main: entry },
        bundle: true,
        platform: 'node',
        format: 'esm',
        outdir: outDir,
        assetNames: 'assets/[name]-[hash]',
        logLevel: 'silent',
        plugins: [
          plugin,
          {
            name: 'report',
            setup(b: { onEnd(cb: (r: { errors: { text: string }[] }) => void): void }) {
              b.onEnd((r) =>
                report(r.errors.length ? { ok: false, error: r.errors[0]?.text } : { ok: true }),
              );
            },
          },
        ],
      });
      await ctx.watch();
      return { next, close: () => ctx.dispose() };
    }
    case 'webpack':
    case 'rspack': {
      const mod =
        bundler === 'webpack' ? (await load('webpack')).default : (await load('@rspack/core')).rspack;
      const compiler = mod({
        mode: 'none',
        target: 'node',
        entry,
        output: { path: outDir, filename: 'main.js' },
        plugins: [plugin],
        infrastructureLogging: { level: 'none' },
      });
      const watching = compiler.watch(
        { aggregateTimeout: 50 },
        (
          err: Error | null,
          stats: { hasErrors(): boolean; toJson(o: object): { errors?: { message: string }[] } },
        ) => {
          if (err) report({ ok: false, error: err.message });
          else if (stats.hasErrors())
            report({ ok: false, error: stats.toJson({ all: false, errors: true }).errors?.[0]?.message });
          else report({ ok: true });
        },
      );
      return {
        next,
        close: () => new Promise<void>((r) => watching.close(() => compiler.close(() => r()))),
      };
    }
  }
}
