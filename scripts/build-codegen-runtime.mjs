// Emits the skeleton runtime that bundled apps import by path: packages/core/src/codegen/
// runtime/*.ts → codegen/{codec,skeleton}.js and their .d.ts, committed beside the sources.
// Bundlers read the emitted JavaScript without a TypeScript loader (the plugin resolves the
// generated module's runtime import to codegen/skeleton.js), and core's build copies it into
// dist as is. test/codegen-runtime.test.ts holds the committed files to a fresh generation.
//
//   node scripts/build-codegen-runtime.mjs     (rewrites the four files)
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import ts from 'typescript';

const CODEGEN = join(import.meta.dirname, '../packages/core/src/codegen');
const RUNTIME = join(CODEGEN, 'runtime');

/** The runtime's sources; skeleton.ts imports codec.ts, and nothing else is imported. */
export const SOURCES = ['codec.ts', 'skeleton.ts'].map((f) => join(RUNTIME, f));

const OPTIONS = {
  // Node 20 and every bundler the plugin supports read ES2022 as is.
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts'],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  verbatimModuleSyntax: true,
  allowImportingTsExtensions: true,
  rewriteRelativeImportExtensions: true,
  declaration: true,
  skipLibCheck: true,
  newLine: ts.NewLineKind.LineFeed,
  rootDir: RUNTIME,
  outDir: CODEGEN,
};

/**
 * The four generated files, path → text, each opening with a line naming its source. Throws
 * with the compiler's diagnostics when the sources do not type-check.
 */
export function generate() {
  const host = ts.createCompilerHost(OPTIONS);
  const program = ts.createProgram(SOURCES, OPTIONS, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    throw new Error(ts.formatDiagnostics(diagnostics, host));
  }
  const out = new Map();
  const result = program.emit(undefined, (file, text) => {
    const source = `runtime/${basename(file).replace(/\.d\.ts$|\.js$/, '.ts')}`;
    out.set(file, `// Generated from ${source} by scripts/build-codegen-runtime.mjs: do not edit.\n${text}`);
  });
  if (result.emitSkipped) throw new Error('build-codegen-runtime: TypeScript skipped the emit');
  return out;
}

if (process.argv[1] === import.meta.filename) {
  for (const [file, text] of generate()) {
    let old;
    try {
      old = readFileSync(file, 'utf8');
    } catch {
      old = undefined;
    }
    if (old === text) continue;
    writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
}
