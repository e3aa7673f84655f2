import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BtfkitError,
  buildSkeletonModel,
  builtWithoutBtf,
  CODEGEN_RUNTIME,
  type CompatResult,
  errors,
  parseBpfObject,
  renderReport,
  skeletonDts,
} from '@btfkit/core';
import { createUnplugin, type UnpluginFactory } from 'unplugin';
import {
  type AssetSink,
  type Ctx,
  EsbuildAssets,
  inlineSink,
  relativeSink,
  resolveAssetPlaceholders,
  rollupSink,
  StoreAssets,
} from './assets.ts';
import { BtfSetBuilder, type DecodedKernels, decodeOnce, sha256 } from './btfset.ts';
import { CompatChecker, describeProblem, mergeResults, problems } from './compat.ts';
import { compileBpf, findClang } from './compile.ts';
import { type KernelEntry, listKernels } from './kernels.ts';
import { makeFilter, type Options, resolveOptions } from './options.ts';

export type { Options } from './options.ts';

const SKELETON_RUNTIME = fileURLToPath(CODEGEN_RUNTIME.skeleton);
const ID_FILTER = /\.bpf\.[oc]$/;
// A non-literal specifier so bundlers leave the runtime (native code) to Node at run time.
const RUNTIME_SPECIFIER = '@btfkit/runtime';

type Framework = 'vite' | 'rollup' | 'rolldown' | 'webpack' | 'rspack' | 'esbuild' | string;

export const unpluginFactory: UnpluginFactory<Options | undefined> = (rawOptions, meta) => {
  const opts = resolveOptions(rawOptions);
  const filter = makeFilter(opts);
  const btfSets = new BtfSetBuilder(opts.cacheDir);
  let root = process.cwd();
  let viteServe = false;
  let viteSsr = false;
  let kernels: KernelEntry[] | undefined;
  const framework: Framework = meta.framework;
  // Where webpack and Rspack find generated files as asset modules (content-addressed names).
  const store = new StoreAssets(join(opts.cacheDir ?? join(tmpdir(), 'btfkit'), 'assets'));
  const esbuildAssets = new EsbuildAssets();
  const compat = new CompatChecker(opts.cacheDir, (k) => builtWithoutBtf(opts.withoutBtf, k), opts.libbpf);
  // The analysis of every object this build (and, in watch mode, earlier ones) imported.
  const compatResults = new Map<string, CompatResult>();
  let esbuildFormat: string | undefined;

  function sinkFor(ctx: Ctx): AssetSink {
    if (opts.inline ?? viteServe) return inlineSink();
    switch (framework) {
      case 'vite':
        return viteSsr ? relativeSink(ctx) : rollupSink(ctx);
      case 'rollup':
      case 'rolldown':
        return rollupSink(ctx);
      case 'webpack':
      case 'rspack':
        return store.sink();
      case 'esbuild':
        return esbuildAssets.sink(esbuildFormat);
      default:
        return inlineSink();
    }
  }

  const handler = async function (this: Ctx, id: string) {
    if (!filter(id) || store.holds(id)) return undefined;
    try {
      const code = await loadBpf(this, id);
      return { code, map: null, moduleType: 'js' } as { code: string; map: null };
    } catch (e) {
      const message = e instanceof BtfkitError ? e.message : e instanceof Error ? e.message : String(e);
      // webpack and esbuild record this.error without throwing: throw ourselves so nothing half-built returns.
      const err = Object.assign(new Error(`unplugin-btfkit: ${message}`), { id, plugin: 'unplugin-btfkit' });
      if (e instanceof BtfkitError) Object.assign(err, { code: e.code, file: e.file ?? id });
      if ((e as { loc?: unknown }).loc) Object.assign(err, { loc: (e as { loc: unknown }).loc });
      throw err;
    }
  };

  async function loadBpf(ctx: Ctx, id: string): Promise<string> {
    // Hosts that read files themselves watch them; ours is read here, so say so.
    ctx.addWatchFile(id);
    let bytes: Uint8Array;
    if (id.endsWith('.c')) bytes = await compileSource(ctx, id);
    else bytes = new Uint8Array(await readFile(id));
    const parsed = parseBpfObject(bytes, id);
    const objName = basename(id).replace(/\.bpf\.[oc]$/, '');
    const model = buildSkeletonModel(
      { file: id, btf: parsed.btf, sections: parsed.elf.sections, programs: parsed.programs },
      objName,
    );

    kernels ??= listKernels(opts.kernels, root);
    for (const k of kernels) if (!k.path.startsWith('/sys/')) ctx.addWatchFile(k.path);
    // Everything is computed before anything is emitted: a failure leaves no partial set.
    // Without CO-RE relocations (.BTF.ext) an object needs no kernel BTF at all.
    const input = { file: id, bytes, parsed };
    const decoded: DecodedKernels = new Map();
    const sets = parsed.ext ? await btfSets.build(input, kernels, decoded) : undefined;
    if (sets && (opts.compat !== 'off' || opts.report)) {
      const result = await compat.analyze(
        input,
        objName,
        sets.map((s) => ({ kernel: s.kernel, hash: s.kernelHash, minimized: s.bytes })),
        (k) => decodeOnce(decoded, k.path),
      );
      compatResults.set(id, result);
      const lines = problems(result).map((c) => describeProblem(basename(id), result, c));
      // Before anything is emitted: a refused build leaves no assets behind.
      if (opts.compat === 'error' && lines.length > 0)
        throw errors.coreRelo(
          `CO-RE compatibility: ${lines.length} program × kernel pair(s) would fail to load:\n${lines.join('\n')}`,
          id,
        );
      if (opts.compat === 'warn') for (const line of lines) ctx.warn(line);
    }

    if (opts.dts) writeDts(id, skeletonDts(model, 'unplugin-btfkit/types', basename(id)));

    const assets = sinkFor(ctx);
    const objectRef = assets.ref(`assets/${objName}-${sha256(bytes).slice(0, 8)}.bpf.o`, bytes);
    const shared = new Map<string, string>();
    const noCore = 'the object has no CO-RE relocations (.BTF.ext): it needs no kernel BTF';
    const kernelRefs = (sets ?? kernels.map((kernel) => ({ kernel, hash: '', bytes: undefined }))).map(
      (s) => {
        const { distro, version, arch, release } = s.kernel;
        const head = `distro: ${q(distro)}, version: ${q(version)}, arch: ${q(arch)}, release: ${q(release)}`;
        if (!s.bytes) return `{ ${head}, reason: ${q(noCore)} }`;
        let ref = shared.get(s.hash);
        if (ref === undefined) {
          ref = assets.ref(`assets/${objName}-${s.hash.slice(0, 8)}.btf`, s.bytes);
          shared.set(s.hash, ref);
        }
        return `{ ${head}, btf: ${ref} }`;
      },
    );

    return [
      '// Generated by unplugin-btfkit.',
      `import { createSkeleton } from ${q(SKELETON_RUNTIME)};`,
      ...assets.imports,
      `const runtimeSpecifier = ${q(RUNTIME_SPECIFIER)};`,
      `export default createSkeleton(${JSON.stringify(model)}, {`,
      `  object: ${objectRef},`,
      `  kernels: [\n    ${kernelRefs.join(',\n    ')}\n  ],`,
      '  loadRuntime: () => import(/* webpackIgnore: true */ /* @vite-ignore */ runtimeSpecifier),',
      ...(opts.libbpf !== undefined ? [`  libbpf: ${q(opts.libbpf)},`] : []),
      '});',
      '',
    ].join('\n');
  }

  async function compileSource(ctx: Ctx, id: string): Promise<Uint8Array> {
    const clang = opts.clang ?? findClang();
    if (!clang) throw errors.notFound(id, 'cannot compile: no clang on PATH (set the clang option)');
    const r = await compileBpf(clang, id, opts.cflags);
    for (const d of r.deps) ctx.addWatchFile(d);
    const errs = r.diagnostics.filter((d) => d.severity !== 'warning');
    if (!r.bytes || errs.length > 0) {
      const first = errs[0];
      const text = errs.map((d) => `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`).join('\n');
      const e = errors.unsupported(`clang failed:\n${text || r.stderr}`, id);
      if (first) Object.assign(e, { loc: { file: first.file, line: first.line, column: first.column } });
      throw e;
    }
    return r.bytes;
  }

  return {
    name: 'unplugin-btfkit',
    enforce: 'pre',
    buildEnd() {
      if (!opts.report || compatResults.size === 0 || viteServe) return;
      const results = [...compatResults.keys()].sort().map((id) => compatResults.get(id) as CompatResult);
      this.emitFile({ type: 'asset', fileName: opts.report, source: renderReport(mergeResults(results)) });
    },
    buildStart() {
      // Re-list kernels each build so a watch rebuild sees added or removed kernel files.
      kernels = undefined;
    },
    watchChange(id: string) {
      btfSets.invalidate(id);
    },
    load: { filter: { id: ID_FILTER }, handler },
    vite: {
      configResolved(config: { command: string; root: string; build: { ssr: unknown } }) {
        viteServe = config.command === 'serve';
        viteSsr = Boolean(config.build.ssr);
        root = config.root;
      },
      renderChunk(this: { getFileName(ref: string): string }, code: string, chunk: { fileName: string }) {
        const out = resolveAssetPlaceholders(code, chunk.fileName, (ref) => this.getFileName(ref));
        return out === undefined ? null : { code: out, map: null };
      },
    },
    webpack(compiler) {
      compiler.options.module.rules.push(store.rule() as never);
    },
    rspack(compiler) {
      compiler.options.module.rules.push(store.rule() as never);
    },
    esbuild: {
      onLoadFilter: ID_FILTER,
      loader: 'js',
      setup(build) {
        esbuildFormat = build.initialOptions.format;
        build.onResolve({ filter: /^btfkit-asset:/ }, (args) => ({
          path: args.path.slice(EsbuildAssets.PREFIX.length),
          namespace: EsbuildAssets.NAMESPACE,
        }));
        build.onLoad({ filter: /.*/, namespace: EsbuildAssets.NAMESPACE }, (args) => {
          const contents = esbuildAssets.bytes(args.path);
          if (!contents) return { errors: [{ text: `unplugin-btfkit: no asset named ${args.path}` }] };
          return { contents, loader: 'file' };
        });
      },
    },
  };
};

function q(s: string): string {
  return JSON.stringify(s);
}

/** Writes `probe.bpf.d.o.ts` beside `probe.bpf.o`, only when its content changed, atomically. */
function writeDts(id: string, text: string): void {
  const ext = id.endsWith('.c') ? 'c' : 'o';
  const path = join(dirname(id), `${basename(id).replace(/\.[oc]$/, '')}.d.${ext}.ts`);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export const unplugin = /* #__PURE__ */ createUnplugin(unpluginFactory);
export default unplugin;
