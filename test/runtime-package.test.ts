import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPackages } from './fixtures/packages.ts';

// @btfkit/runtime as users get it: built by its package's build script (and @btfkit/core's),
// imported by package name with no source condition, and bundled into one file by esbuild.
// Each app loads a program; bpftool must see it by the id the app printed.

const ROOT = join(import.meta.dirname, '..');
const OBJ = join(ROOT, 'test/fixtures/runtime/exectrace.bpf.o');
const APP = `
import { readFileSync } from 'node:fs';
import { loadObject } from '@btfkit/runtime';
const obj = await loadObject(new Uint8Array(readFileSync(${JSON.stringify(OBJ)})), { programs: ['handle_exec'] });
const id = obj.programs.handle_exec.id;
const seen = JSON.parse(process.argv[2] === 'ask' ? (await import('node:child_process')).execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' }) : '{}');
await obj.close();
console.log(JSON.stringify({ id, name: seen.name }));
`;

function runApp(file: string): { id: number; name: string } {
  return JSON.parse(execFileSync(process.execPath, [file, 'ask'], { encoding: 'utf8', cwd: ROOT }));
}

let dir: string;
beforeAll(() => {
  buildPackages();
  dir = mkdtempSync(join(tmpdir(), 'btfkit-pkg-'));
});

describe('@btfkit/runtime as a package', () => {
  it('builds JavaScript and declarations, importing core by package name only', () => {
    for (const f of ['index.js', 'index.d.ts', 'maps/ringbuf.js', 'maps/record-view.d.ts'])
      expect(existsSync(join(ROOT, 'packages/runtime/dist', f)), f).toBe(true);
    expect(existsSync(join(ROOT, 'packages/core/dist/codegen/codec.js'))).toBe(true);
    const deps = readFileSync(join(ROOT, 'packages/runtime/dist/deps.js'), 'utf8');
    // Core's loader entry: none of the minimizer, compat or CLI modules load with the runtime.
    expect(deps).toMatch(/from '@btfkit\/core\/load'/);
    expect(deps).not.toMatch(/core\/src/);
  });

  it('runs from dist under plain node (no source condition, no TypeScript loader)', () => {
    // The app must resolve @btfkit/runtime as a dependency does: from inside the workspace root.
    const file = join(ROOT, 'test/out', `runtime-plain-${process.pid}.mjs`);
    mkdirSync(join(ROOT, 'test/out'), { recursive: true });
    writeFileSync(file, APP);
    try {
      expect(runApp(file).name).toBe('handle_exec');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("loads only core's loader part: no minimizer, compat, dump, CLI or xz module is opened", () => {
    // The files the process opens, as the kernel saw the openat calls (strace).
    const file = join(ROOT, 'test/out', `runtime-opens-${process.pid}.mjs`);
    const trace = join(dir, 'opens.txt');
    mkdirSync(join(ROOT, 'test/out'), { recursive: true });
    writeFileSync(file, APP);
    try {
      execFileSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, file], {
        cwd: ROOT,
        stdio: 'ignore',
      });
    } finally {
      rmSync(file, { force: true });
    }
    const opened = [...readFileSync(trace, 'utf8').matchAll(/openat\([^"]*"([^"]+)"/g)].map(
      (m) => m[1] as string,
    );
    const core = realpathSync(join(ROOT, 'packages/core/dist'));
    const fromCore = opened.filter((p) => p.startsWith(core));
    // The ELF reader, the CO-RE engine and the SEC() table really are read from core's dist/.
    for (const m of ['elf/object.js', 'core/relocate.js', 'sections/table.js'])
      expect(fromCore, m).toContain(join(core, m));
    const heavy = /\/(minimize|compat|dump|cli|bundle)\/|\/kernels\/(source|xz|tar|list)\.js$|napi-rs|lzma/;
    expect(opened.filter((p) => heavy.test(p))).toEqual([]);
  });

  it('bundles with esbuild into one file that loads the program', async () => {
    const esbuild = (await import(
      pathToFileURL(createRequire(join(ROOT, 'packages/unplugin/package.json')).resolve('esbuild')).href
    )) as { build(options: Record<string, unknown>): Promise<unknown> };
    const entry = join(ROOT, 'test/out', `runtime-bundle-entry-${process.pid}.mjs`);
    writeFileSync(entry, APP);
    const out = join(dir, 'app.mjs');
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: out,
      // Native addons (koffi; core's xz reader) are installed beside the app, not bundled.
      external: ['koffi', '@napi-rs/lzma'],
      banner: {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
      logLevel: 'silent',
    });
    const text = readFileSync(out, 'utf8');
    expect(text).not.toMatch(/from ['"]@btfkit\//);
    // The app's folder with only the native packages installed, as a deployment would have.
    mkdirSync(join(dir, 'node_modules/@napi-rs'), { recursive: true });
    symlinkSync(
      realpathSync(join(ROOT, 'packages/runtime/node_modules/koffi')),
      join(dir, 'node_modules/koffi'),
    );
    symlinkSync(
      realpathSync(join(ROOT, 'packages/core/node_modules/@napi-rs/lzma')),
      join(dir, 'node_modules/@napi-rs/lzma'),
    );
    try {
      expect(runApp(out).name).toBe('handle_exec');
    } finally {
      rmSync(entry, { force: true });
    }
  });
});
