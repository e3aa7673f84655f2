import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, sep } from 'node:path';
import MagicString from 'magic-string';
import type { UnpluginBuildContext, UnpluginContext } from 'unplugin';

export type Ctx = UnpluginBuildContext & UnpluginContext;

/**
 * One generated module's assets. `ref(fileName, bytes)` hands a file to the bundler and gives
 * the JS expression of an AssetRef (`{ url }` or `{ bytes }`) that finds it at run time;
 * `imports` are module-level statements that expression needs.
 */
export interface AssetSink {
  ref(fileName: string, bytes: Uint8Array): string;
  readonly imports: string[];
}

const q = (s: string): string => JSON.stringify(s);

/** Embeds the bytes (dev servers, Vitest, `inline: true`): works the same in every host. */
export function inlineSink(): AssetSink {
  return {
    imports: [],
    ref: (_name, bytes) =>
      `{ url: ${q(`data:application/octet-stream;base64,${Buffer.from(bytes).toString('base64')}`)} }`,
  };
}

/**
 * The Rollup family's emitted assets for one build: each file name is emitted once, however
 * many modules refer to it (names carry a content hash, so one name is one content), and every
 * module gets the same reference. `reset()` at each build start: references are per build.
 */
export class EmittedAssets {
  private readonly refs = new Map<string, string>();

  reset(): void {
    this.refs.clear();
  }

  emit(ctx: Ctx, fileName: string, bytes: Uint8Array): string {
    let ref = this.refs.get(fileName);
    if (ref === undefined) {
      // The Rollup family returns a reference id (typed void by unplugin).
      ref = (ctx.emitFile as unknown as (a: object) => string)({ type: 'asset', fileName, source: bytes });
      this.refs.set(fileName, ref);
    }
    return ref;
  }
}

/**
 * Rollup, Rolldown, Vite (client build): the host's emitFile, and `import.meta.ROLLUP_FILE_URL_<ref>`,
 * which the host renders relative to the chunk that ends up holding the module.
 */
export function rollupSink(ctx: Ctx, emitted: EmittedAssets): AssetSink {
  return {
    imports: [],
    ref: (fileName, bytes) =>
      `{ url: () => import.meta.ROLLUP_FILE_URL_${emitted.emit(ctx, fileName, bytes)} }`,
  };
}

/**
 * Vite SSR builds render ROLLUP_FILE_URL as a base path ("/assets/x"), which Node cannot open.
 * The module gets a placeholder instead, which `resolveAssetPlaceholders` (renderChunk) turns
 * into the path from the chunk that holds it to the asset.
 */
export function relativeSink(ctx: Ctx, emitted: EmittedAssets): AssetSink {
  return {
    imports: [],
    ref: (fileName, bytes) =>
      `{ url: () => new URL(${q(placeholder(emitted.emit(ctx, fileName, bytes)))}, import.meta.url).href }`,
  };
}

const PLACEHOLDER = /__BTFKIT_ASSET_([A-Za-z0-9_$-]+)__/g;
const placeholder = (ref: string) => `__BTFKIT_ASSET_${ref}__`;

/**
 * renderChunk: each placeholder becomes `./…` or `../…` from the chunk's folder to the asset.
 * Edited with magic-string, so the chunk's source map can follow (a path is shorter or longer
 * than its placeholder: without a map of the edit, every later column on that line is off).
 */
export function resolveAssetPlaceholders(
  code: string,
  chunkFileName: string,
  fileNameOf: (ref: string) => string,
): MagicString | undefined {
  if (!code.includes('__BTFKIT_ASSET_')) return undefined;
  const s = new MagicString(code);
  for (const m of code.matchAll(PLACEHOLDER)) {
    const rel = posix.relative(posix.dirname(chunkFileName), fileNameOf(m[1] as string));
    s.overwrite(m.index, m.index + m[0].length, rel.startsWith('.') ? rel : `./${rel}`);
  }
  return s;
}

/**
 * esbuild: a virtual module per asset that esbuild's own `file` loader copies (named by the
 * user's `assetNames`); the import's value is the path from the output file to the copy.
 */
export class EsbuildAssets {
  static readonly NAMESPACE = 'btfkit-asset';
  static readonly PREFIX = 'btfkit-asset:';
  private readonly files = new Map<string, Uint8Array>();

  sink(format: string | undefined): AssetSink {
    const imports: string[] = [];
    return {
      imports,
      ref: (fileName, bytes) => {
        const name = posix.basename(fileName);
        this.files.set(name, bytes);
        const local = `__btfkit_asset_${imports.length}`;
        imports.push(`import ${local} from ${q(EsbuildAssets.PREFIX + name)};`);
        // esm: the path is relative to the output file; cjs: so is __filename.
        const base = format === 'esm' ? 'import.meta.url' : 'require("node:url").pathToFileURL(__filename)';
        return `{ url: () => new URL(${local}, ${base}).href }`;
      },
    };
  }

  bytes(name: string): Uint8Array | undefined {
    return this.files.get(name);
  }
}

/**
 * webpack and Rspack: the file is written to a content-addressed store on disk and referenced
 * as `new URL("<store path>", import.meta.url)`, webpack's asset-module pattern: the host copies
 * it (the `assetRule` names it `assets/[name][ext]`) and computes its URL for each output.
 */
export class StoreAssets {
  constructor(readonly dir: string) {}

  sink(): AssetSink {
    return {
      imports: [],
      ref: (fileName, bytes) => {
        const path = join(this.dir, posix.basename(fileName));
        // Names carry a content hash: a file already there has these bytes.
        if (!existsSync(path)) {
          mkdirSync(dirname(path), { recursive: true });
          const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
          writeFileSync(tmp, bytes);
          renameSync(tmp, path);
        }
        return `{ url: () => new URL(${q(path)}, import.meta.url).href }`;
      },
    };
  }

  /** The module rule that turns store files into `assets/<name>` resources. */
  rule(): object {
    const prefix = this.dir + sep;
    return {
      test: (p: string) => p.startsWith(prefix),
      type: 'asset/resource',
      generator: { filename: 'assets/[name][ext]' },
    };
  }

  holds(id: string): boolean {
    return id.startsWith(this.dir + sep);
  }
}
