import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
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
  EmittedAssets,
  EsbuildAssets,
  inlineSink,
  relativeSink,
  resolveAssetPlaceholders,
  rollupSink,
  StoreAssets,
} from './assets.ts';
import { BtfSetBuilder, type DecodedKernels, decodeOnce, type KernelBtfResult, sha256 } from './btfset.ts';
import { CompatChecker, describeProblem, mergeResults, problems } from './compat.ts';
import { compileBpf, findClang } from './compile.ts';
import { type KernelEntry, listKernels } from './kernels.ts';
import { type ImportSite, importSite } from './locate.ts';
import { makeFilter, type Options, resolveOptions } from './options.ts';

export type { Options } from './options.ts';

const SKELETON_RUNTIME = fileURLToPath(CODEGEN_RUNTIME.skeleton);
// What generated modules import the skeleton runtime by, resolved by the plugin to core's file:
// an absolute path in the module's text would end up in source maps (sourcesContent).
// Not a `virtual:` id: webpack reads those as a URL scheme before any plugin resolves them.
const SKELETON_ID = 'unplugin-btfkit/skeleton-runtime';
const SKELETON_FILTER = /^unplugin-btfkit\/skeleton-runtime$/;
const ID_FILTER = /\.bpf\.[oc]$/;
// A non-literal specifier so bundlers leave the runtime (native code) to Node at run time.
const RUNTIME_SPECIFIER = '@btfkit/runtime';

type Framework = 'vite' | 'rollup' | 'rolldown' | 'webpack' | 'rspack' | 'esbuild' | string;

/** What one object's load computes, remembered while its bytes and the kernel files stay the same. */
interface Analysis {
  /** Of the object's bytes and the kernel files' contents. */
  key: string;
  /** Of the object's and the kernel files' size, mtime and inode: when unchanged, nothing is read. */
  stamp: string | undefined;
  bytes: Uint8Array;
  objName: string;
  /** The skeleton model as the module embeds it (JSON). */
  model: string;
  sets: KernelBtfResult[] | undefined;
  /** Compat problems, one line each (warned again at each build). */
  problems: string[];
  compat: CompatResult | undefined;
  dts: string | undefined;
}

export const unpluginFactory: UnpluginFactory<Options | undefined> = (rawOptions, meta) => {
  const opts = resolveOptions(rawOptions);
  const filter = makeFilter(opts);
  // The bundler's root (Vite `root`, webpack `context`, esbuild `absWorkingDir`), against which
  // kernel and cache paths are resolved; the working directory where a bundler has none.
  let root = process.cwd();
  let viteServe = false;
  let viteSsr = false;
  let kernels: KernelEntry[] | undefined;
  const framework: Framework = meta.framework;
  // Made on first use, once the host has said where its root is.
  let services: { btfSets: BtfSetBuilder; compat: CompatChecker; store: StoreAssets } | undefined;
  const use = () => {
    if (!services) {
      const cacheDir = opts.cacheDir === undefined ? undefined : resolve(root, opts.cacheDir);
      services = {
        btfSets: new BtfSetBuilder(cacheDir),
        compat: new CompatChecker(
          cacheDir,
          (k) => builtWithoutBtf(opts.withoutBtf, k),
          (path) => shownKernelPath(path, opts.kernels, root),
          opts.libbpf,
        ),
        // Where webpack and Rspack find generated files as asset modules (content-addressed names).
        store: new StoreAssets(join(cacheDir ?? join(tmpdir(), 'btfkit'), 'assets')),
      };
    }
    return services;
  };
  const emitted = new EmittedAssets();
  const esbuildAssets = new EsbuildAssets();
  // The analysis of every object this build (and, in watch mode, earlier ones) imported.
  const compatResults = new Map<string, CompatResult>();
  // In memory, per module id: a watch rebuild that changed no object redoes none of its work
  // (the persistent cache is for cold starts, and still costs a parse and a read per kernel).
  const analyses = new Map<string, Analysis>();
  // esbuild: where each object was imported from, to point errors at the import.
  const importSites = new Map<string, ImportSite>();
  let esbuildFormat: string | undefined;

  function sinkFor(ctx: Ctx): AssetSink {
    if (opts.inline ?? viteServe) return inlineSink();
    switch (framework) {
      case 'vite':
        return viteSsr ? relativeSink(ctx, emitted) : rollupSink(ctx, emitted);
      case 'rollup':
      case 'rolldown':
        return rollupSink(ctx, emitted);
      case 'webpack':
      case 'rspack':
        return use().store.sink();
      case 'esbuild':
        return esbuildAssets.sink(esbuildFormat);
      default:
        return inlineSink();
    }
  }

  const handler = async function (this: Ctx, id: string) {
    if (!filter(id) || use().store.holds(id)) return undefined;
    try {
      const code = await loadBpf(this, id);
      return { code, map: null, moduleType: 'js' } as { code: string; map: null };
    } catch (e) {
      const message = e instanceof BtfkitError ? e.message : e instanceof Error ? e.message : String(e);
      const site = importSites.get(id);
      if (framework === 'esbuild' && site) {
        // esbuild places a thrown error in its own code: report it at the import instead.
        this.error({ message: `unplugin-btfkit: ${message}`, id, loc: site } as never);
        return { code: '', map: null };
      }
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
    kernels ??= listKernels(opts.kernels, root);
    for (const k of kernels) if (!k.path.startsWith('/sys/')) ctx.addWatchFile(k.path);
    // A watch rebuild that changed neither the object nor a kernel file: not even a read.
    const stamp = id.endsWith('.o')
      ? [id, ...kernels.map((k) => k.path)].map(fileStamp).join('|')
      : undefined;
    const known = analyses.get(id);
    let a: Analysis;
    if (stamp !== undefined && known?.stamp === stamp) a = known;
    else {
      const bytes = id.endsWith('.c') ? await compileSource(ctx, id) : new Uint8Array(await readFile(id));
      a = await analyze(id, bytes, kernels, stamp);
    }
    const bytes = a.bytes;
    if (a.compat) compatResults.set(id, a.compat);
    if (opts.compat === 'warn') for (const line of a.problems) ctx.warn(line);
    if (a.dts !== undefined) writeDts(id, a.dts);

    const assets = sinkFor(ctx);
    const objectRef = assets.ref(`assets/${a.objName}-${sha256(bytes).slice(0, 8)}.bpf.o`, bytes);
    const noCore = 'the object has no CO-RE relocations (.BTF.ext): it needs no kernel BTF';
    const kernelRefs = (a.sets ?? kernels.map((kernel) => ({ kernel, hash: '', bytes: undefined }))).map(
      (s) => {
        const { distro, version, arch, release } = s.kernel;
        const head = `distro: ${q(distro)}, version: ${q(version)}, arch: ${q(arch)}, release: ${q(release)}`;
        if (!s.bytes) return `{ ${head}, reason: ${q(noCore)} }`;
        // Named by content alone: kernels, and objects, with the same minimized BTF share one file.
        return `{ btf: ${assets.ref(`assets/btf-${s.hash.slice(0, 16)}.btf`, s.bytes)}, ${head} }`;
      },
    );

    return [
      '// Generated by unplugin-btfkit.',
      `import { createSkeleton } from ${q(SKELETON_ID)};`,
      ...assets.imports,
      `const runtimeSpecifier = ${q(RUNTIME_SPECIFIER)};`,
      `export default createSkeleton(${a.model}, {`,
      `  object: ${objectRef},`,
      `  kernels: [\n    ${kernelRefs.join(',\n    ')}\n  ],`,
      '  loadRuntime: () => import(/* webpackIgnore: true */ /* @vite-ignore */ runtimeSpecifier),',
      ...(opts.libbpf !== undefined ? [`  libbpf: ${q(opts.libbpf)},`] : []),
      '});',
      '',
    ].join('\n');
  }

  /** Parses, minimizes and analyzes an object, or returns what the last load of the same inputs found. */
  async function analyze(
    id: string,
    bytes: Uint8Array,
    kernels: KernelEntry[],
    stamp: string | undefined,
  ): Promise<Analysis> {
    const { btfSets, compat } = use();
    const kernelHashes = await Promise.all(kernels.map((k) => btfSets.kernelHash(k.path)));
    const key = sha256([sha256(bytes), ...kernels.map((k, i) => `${k.path}\0${kernelHashes[i]}`)].join('\0'));
    const known = analyses.get(id);
    if (known?.key === key) {
      known.stamp = stamp;
      return known;
    }

    const parsed = parseBpfObject(bytes, id);
    const objName = basename(id).replace(/\.bpf\.[oc]$/, '');
    const model = buildSkeletonModel(
      { file: id, btf: parsed.btf, sections: parsed.elf.sections, programs: parsed.programs },
      objName,
    );
    // Everything is computed before anything is emitted: a failure leaves no partial set.
    // Without CO-RE relocations (.BTF.ext) an object needs no kernel BTF at all.
    const input = { file: id, bytes, parsed };
    const decoded: DecodedKernels = new Map();
    const sets = parsed.ext ? await btfSets.build(input, kernels, decoded) : undefined;
    let result: CompatResult | undefined;
    let lines: string[] = [];
    if (sets && (opts.compat !== 'off' || opts.report)) {
      result = await compat.analyze(
        input,
        objName,
        sets.map((s) => ({ kernel: s.kernel, hash: s.kernelHash, minimized: s.bytes })),
        (k) => decodeOnce(decoded, k.path),
      );
      lines = problems(result).map((c) => describeProblem(basename(id), result as CompatResult, c));
      // Before anything is emitted: a refused build leaves no assets behind.
      if (opts.compat === 'error' && lines.length > 0)
        throw errors.coreRelo(
          `CO-RE compatibility: ${lines.length} program × kernel pair(s) would fail to load:\n${lines.join('\n')}`,
          id,
        );
    }
    const dts = opts.dts ? skeletonDts(model, 'unplugin-btfkit/types', basename(id)) : undefined;
    const a: Analysis = {
      key,
      stamp,
      bytes,
      objName,
      model: JSON.stringify(model),
      sets,
      problems: lines,
      compat: result,
      dts,
    };
    analyses.set(id, a);
    return a;
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
      emitted.reset();
    },
    watchChange(id: string) {
      use().btfSets.invalidate(id);
    },
    resolveId: {
      filter: { id: SKELETON_FILTER },
      // esbuild resolves it in its own setup below (unplugin would put it in a namespace nothing loads).
      handler: (id: string) => (id === SKELETON_ID && framework !== 'esbuild' ? SKELETON_RUNTIME : undefined),
    },
    load: { filter: { id: ID_FILTER }, handler },
    vite: {
      configResolved(config: { command: string; root: string; build: { ssr: unknown } }) {
        viteServe = config.command === 'serve';
        viteSsr = Boolean(config.build.ssr);
        root = config.root;
      },
      renderChunk(
        this: { getFileName(ref: string): string },
        code: string,
        chunk: { fileName: string },
        output: { sourcemap?: unknown },
      ) {
        const s = resolveAssetPlaceholders(code, chunk.fileName, (ref) => this.getFileName(ref));
        if (s === undefined) return null;
        // `map: null` would tell the host the code did not move; the edit's own map, when maps are wanted.
        return { code: s.toString(), map: output.sourcemap ? s.generateMap({ hires: true }) : null };
      },
    },
    webpack(compiler) {
      root = compiler.context;
      compiler.options.module.rules.push(use().store.rule() as never);
    },
    rspack(compiler) {
      root = compiler.context;
      compiler.options.module.rules.push(use().store.rule() as never);
    },
    esbuild: {
      onLoadFilter: ID_FILTER,
      onResolveFilter: SKELETON_FILTER,
      loader: 'js',
      setup(build) {
        esbuildFormat = build.initialOptions.format;
        root = build.initialOptions.absWorkingDir ?? process.cwd();
        build.onResolve({ filter: SKELETON_FILTER }, () => ({ path: SKELETON_RUNTIME }));
        // Remembers where each object is imported from; resolution itself is left to esbuild.
        build.onResolve({ filter: ID_FILTER }, (args) => {
          if (args.importer && (args.path.startsWith('.') || isAbsolute(args.path))) {
            const site = importSite(args.importer, args.path);
            if (site) importSites.set(resolve(args.resolveDir, args.path), site);
          }
          return undefined;
        });
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

/**
 * A kernel's path as the compat report shows it: within the configured directory it was found
 * in (btfhub's `distro/version/arch/release.btf.tar.xz`), else its file name; the running
 * kernel's as is. Never the build machine's absolute path: the report is a build output.
 */
function shownKernelPath(path: string, inputs: readonly string[], root: string): string {
  if (path.startsWith('/sys/')) return path;
  for (const input of inputs) {
    const dir = resolve(root, input);
    if (path.startsWith(dir + sep)) return relative(dir, path);
  }
  return basename(path);
}

/** Size, mtime and inode: what changes when a file is written or replaced ('' when it is gone). */
function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return '';
  }
}

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
