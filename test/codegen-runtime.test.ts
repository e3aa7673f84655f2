/**
 * The skeleton runtime bundled apps import by path (codegen/codec.js, codegen/skeleton.js and
 * their declarations) is what scripts/build-codegen-runtime.mjs emits from runtime/*.ts, and
 * the emitted JavaScript stays loadable without a TypeScript loader or the rest of core.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CODEGEN_RUNTIME } from '../packages/core/src/codegen/index.ts';
// @ts-expect-error: a plain JavaScript build script, without type declarations
import { generate, SOURCES } from '../scripts/build-codegen-runtime.mjs';

describe('codegen runtime emitted from TypeScript', () => {
  const fresh = generate() as Map<string, string>;

  it('every committed runtime file is what the generator emits from runtime/*.ts', () => {
    expect((SOURCES as string[]).map((s) => basename(s))).toEqual(['codec.ts', 'skeleton.ts']);
    expect([...fresh.keys()].map((f) => basename(f)).sort()).toEqual([
      'codec.d.ts',
      'codec.js',
      'skeleton.d.ts',
      'skeleton.js',
    ]);
    for (const [file, text] of fresh) {
      expect(text.split('\n')[0], file).toBe(
        `// Generated from runtime/${basename(file).replace(/\.(?:d\.ts|js)$/, '.ts')} by scripts/build-codegen-runtime.mjs: do not edit.`,
      );
      expect(readFileSync(file, 'utf8'), `${file} is stale: run node scripts/build-codegen-runtime.mjs`).toBe(
        text,
      );
    }
  });

  it('the emitted JavaScript imports nothing but the codec and Node built-ins', () => {
    const js = [...fresh].filter(([f]) => f.endsWith('.js'));
    const specifiers = (text: string) =>
      [...text.matchAll(/\bimport\s*(?:\(\s*(?:\/\*[^*]*\*\/\s*)*|[^'"]*?from\s*)['"]([^'"]+)['"]/g)].map(
        (m) => m[1],
      );
    const byFile = Object.fromEntries(js.map(([f, text]) => [basename(f), specifiers(text)]));
    expect(byFile).toEqual({
      'codec.js': [],
      'skeleton.js': ['./codec.js', 'node:fs/promises', 'node:fs/promises', 'node:os'],
    });
  });

  it('plain Node (no TypeScript loader) imports the committed skeleton.js and decodes a global', () => {
    const skeleton = fileURLToPath(CODEGEN_RUNTIME.skeleton);
    // A little-endian int global initialised to 42, and a big-endian one to 0x01020304.
    const script = `
      import { createSkeleton } from ${JSON.stringify(pathToFileURL(skeleton).href)};
      const model = (littleEndian, init) => ({
        name: 'probe', littleEndian, programs: {}, maps: {}, types: {},
        globals: { g: { section: '.data', offset: 0, size: 4, type: { kind: 'int', size: 4, signed: true }, init } },
      });
      const io = { object: { bytes: new Uint8Array() }, kernels: [] };
      const le = createSkeleton(model(true, '2a000000'), io).globals.g;
      const be = createSkeleton(model(false, '01020304'), io).globals.g;
      console.log(JSON.stringify([le.initial, be.initial, Array.from(be.encode(-2))]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([42, 0x01020304, [0xff, 0xff, 0xff, 0xfe]]);
  });
});
