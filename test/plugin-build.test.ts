import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLERS, build, filesUnder, runOutput } from './plugin-harness.ts';

// What a build does with its inputs' places and with what several objects share, on every
// bundler: paths taken from the bundler's root, an empty kernel folder refused, esbuild errors
// placed at the import, and one asset per distinct minimized BTF across all objects. BTF bytes
// are checked against bpftool 7.1.0's min_core_btf output (expected/min).

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const KERNEL = 'debian/12/x86_64/6.1.0-47-cloud-amd64.btf.tar.xz';
const KERNEL_510 = 'debian/11/x86_64/5.10.0-32-cloud-amd64.btf.tar.xz';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const expected = (release: string, obj: string) =>
  sha(readFileSync(join(CORPUS, 'expected/min', release, `${obj}.btf`)));
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** An app folder: `objects` copied in, an entry printing each skeleton's BTF hashes, kernels under ./kernels. */
function app(objects: string[], kernels: string[] = [KERNEL]): { dir: string; entry: string } {
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-build-'));
  scratch.push(dir);
  const src = join(dir, 'src');
  mkdirSync(src);
  for (const o of objects) copyFileSync(join(CORPUS, 'objects', `${o}.bpf.o`), join(src, `${o}.bpf.o`));
  for (const k of kernels) {
    mkdirSync(join(dir, 'kernels', k, '..'), { recursive: true });
    copyFileSync(join(CORPUS, 'kernels', k), join(dir, 'kernels', k));
  }
  const entry = join(src, 'main.js');
  writeFileSync(
    entry,
    [
      "import { createHash } from 'node:crypto';",
      ...objects.map((o, i) => `import p${i} from './${o}.bpf.o';`),
      "const sha = (b) => createHash('sha256').update(b).digest('hex');",
      'const out = {};',
      `for (const p of [${objects.map((_, i) => `p${i}`).join(', ')}]) {`,
      '  out[p.name] = {};',
      '  for (const k of p.kernels) out[p.name][k.release] = sha((await p.btfFor(k)).bytes);',
      '}',
      'console.log(JSON.stringify(out));',
      '',
    ].join('\n'),
  );
  return { dir, entry };
}

const releaseOf = (k: string) => k.replace(/^.*\//, '').replace('.btf.tar.xz', '');

describe('paths follow the bundler root, not the working directory', () => {
  // Rollup and Rolldown have no root of their own: they use the working directory.
  for (const bundler of ['vite', 'esbuild', 'webpack', 'rspack'] as const) {
    it(`${bundler}: relative kernels and the default cache are under the root`, async () => {
      const a = app(['opensnoop']);
      const out = join(a.dir, 'dist');
      // The test's working directory is the repo root, which has no ./kernels.
      expect(existsSync(join(process.cwd(), 'kernels'))).toBe(false);
      await build(bundler, a.entry, out, { kernels: ['kernels'] }, { root: a.dir });
      const r = runOutput(out) as Record<string, Record<string, string>>;
      expect(r.opensnoop?.[releaseOf(KERNEL)]).toBe(expected(releaseOf(KERNEL), 'opensnoop'));
      const cache = join(a.dir, 'node_modules/.cache/btfkit');
      const entries = readdirSync(cache).filter((f) => f.endsWith('.btf'));
      expect(entries).toHaveLength(1);
      expect(sha(readFileSync(join(cache, entries[0] as string)))).toBe(
        expected(releaseOf(KERNEL), 'opensnoop'),
      );
    });
  }
});

describe('a kernel folder with no kernel in it is an error naming the option and the path', () => {
  for (const bundler of BUNDLERS) {
    it(bundler, async () => {
      const a = app(['opensnoop']);
      const empty = join(a.dir, 'empty-kernels');
      mkdirSync(empty);
      const out = join(a.dir, 'dist');
      await expect(build(bundler, a.entry, out, { kernels: [empty], cacheDir: false })).rejects.toThrow(
        new RegExp(`${empty}.*option 'kernels': expected at least one kernel BTF`),
      );
      expect(existsSync(join(out, 'assets'))).toBe(false);
    });
  }
});

describe('esbuild errors point at the import', () => {
  it('names the importing file, line and column of a bad object', async () => {
    const a = app(['opensnoop']);
    writeFileSync(join(a.dir, 'src/broken.bpf.o'), 'not an ELF file at all');
    const entry = join(a.dir, 'src/uses-broken.js');
    writeFileSync(
      entry,
      "// a comment line first\nimport probe from './broken.bpf.o';\nconsole.log(probe.name);\n",
    );
    const err = await build(
      'esbuild',
      entry,
      join(a.dir, 'dist'),
      { kernels: ['kernels'], cacheDir: false },
      {
        root: a.dir,
      },
    ).then(
      () => undefined,
      (e: { errors?: { text: string; location: { file: string; line: number; column: number } | null }[] }) =>
        e,
    );
    const first = err?.errors?.[0];
    expect(first?.text).toMatch(/broken\.bpf\.o.*ELF/s);
    // esbuild prints locations relative to its working directory, as for its own errors.
    expect(first?.location).toMatchObject({ file: 'src/uses-broken.js', line: 2, column: 18 });
  });
});

describe('one asset per distinct minimized BTF across the whole build', () => {
  // opensnoop and statsnoop minimize to the same bytes on both kernels (bpftool's output);
  // execsnoop to others.
  const objects = ['execsnoop', 'opensnoop', 'statsnoop'];
  const kernels = [KERNEL, KERNEL_510];
  const distinct = new Set(objects.flatMap((o) => kernels.map((k) => expected(releaseOf(k), o))));
  it('the corpus has BTF shared between objects', () => {
    expect(expected(releaseOf(KERNEL), 'opensnoop')).toBe(expected(releaseOf(KERNEL), 'statsnoop'));
    expect(distinct.size).toBeLessThan(objects.length * kernels.length);
  });
  for (const bundler of BUNDLERS) {
    it(bundler, async () => {
      const a = app(objects, kernels);
      const out = join(a.dir, 'dist');
      await build(bundler, a.entry, out, { kernels: [join(a.dir, 'kernels')], cacheDir: false });
      const r = runOutput(out) as Record<string, Record<string, string>>;
      for (const o of objects)
        for (const k of kernels) expect(r[o]?.[releaseOf(k)]).toBe(expected(releaseOf(k), o));
      const btfs = filesUnder(out).filter((f) => f.endsWith('.btf'));
      expect(new Set(btfs.map((f) => sha(readFileSync(join(out, f)))))).toEqual(distinct);
      expect(btfs).toHaveLength(distinct.size);
    });
  }
});

describe('outputs name no absolute path (remote build caches can share them)', () => {
  for (const bundler of BUNDLERS) {
    it(`${bundler}: code, source maps and the compat report`, async () => {
      const a = app(['opensnoop']);
      const out = join(a.dir, 'dist');
      await build(
        bundler,
        a.entry,
        out,
        { kernels: [join(a.dir, 'kernels')], cacheDir: false, compat: 'warn', report: true },
        { sourcemap: true },
      );
      const files = filesUnder(out);
      expect(files).toContain('btfkit-report.html');
      expect(readFileSync(join(out, 'btfkit-report.html'), 'utf8')).toContain(releaseOf(KERNEL));
      for (const f of files) {
        const text = readFileSync(join(out, f));
        // An absolute path: not the tail of a relative one (hosts write module paths relative
        // to the working directory in comments, which here is the repo, not the app).
        for (const path of [a.dir, ROOT]) {
          const found = new RegExp(`(?<![.\\w])${path.replace(/[.+]/g, '\\$&')}`).exec(
            text.toString('latin1'),
          );
          expect(
            found ? text.subarray(Math.max(0, found.index - 80), found.index + 120).toString() : '',
            f,
          ).toBe('');
        }
      }
    });
  }
});
