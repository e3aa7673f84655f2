import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceMapConsumer } from 'source-map-js';
import { afterAll, describe, expect, it } from 'vitest';
import { build, runOutput } from './plugin-harness.ts';

// With `sourcemap: true`, the code after each asset path in the output (the kernel's
// `release: "…"` that follows its BTF's URL) must map, through the bundler's
// own map read with source-map-js, back to where that code is in the generated module. The asset
// paths are written into the chunk after the module was generated (Vite SSR: by the plugin's
// renderChunk; Rollup/Rolldown: by the host), so any edit without a map shifts these columns.

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const KERNELS = join(CORPUS, 'kernels/debian/12/x86_64');
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

// A quoted path to an emitted file, as each host renders it: "./assets/x", 'assets/x', "../assets/x".
const ASSET_PATH = /(["'])(?:\.{1,2}\/)*assets\/[\w.-]+\1/g;

for (const bundler of ['vite', 'rollup', 'rolldown'] as const) {
  describe(`${bundler} with sourcemap: true`, () => {
    it('code after each asset path maps back to its place in the generated module', async () => {
      const dir = mkdtempSync(join(tmpdir(), `btfkit-map-${bundler}-`));
      scratch.push(dir);
      copyFileSync(join(CORPUS, 'objects/execsnoop.bpf.o'), join(dir, 'probe.bpf.o'));
      const entry = join(dir, 'main.js');
      writeFileSync(
        entry,
        "import probe from './probe.bpf.o';\nconsole.log(JSON.stringify({ n: probe.kernels.length }));\n",
      );
      const out = join(dir, 'dist');
      await build(bundler, entry, out, { kernels: [KERNELS], cacheDir: false }, { sourcemap: true });
      expect(runOutput(out)).toEqual({ n: 4 });

      const code = readFileSync(join(out, 'main.js'), 'utf8');
      const map = JSON.parse(readFileSync(join(out, 'main.js.map'), 'utf8'));
      const consumer = new SourceMapConsumer(map);
      const lineStarts = [0];
      for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStarts.push(i + 1);
      const offsetOf = (line: number, column: number) => (lineStarts[line - 1] as number) + column;
      const paths = [...code.matchAll(ASSET_PATH)].map((m) => ({
        start: m.index,
        end: m.index + m[0].length,
      }));
      const mappings: { gen: number; source: string; line: number; column: number }[] = [];
      consumer.eachMapping((m) => {
        if (
          m.source &&
          /probe\.bpf\.o$/.test(m.source) &&
          m.originalLine !== null &&
          m.originalColumn !== null
        )
          mappings.push({
            gen: offsetOf(m.generatedLine, m.generatedColumn),
            source: m.source,
            line: m.originalLine,
            column: m.originalColumn,
          });
      });
      const sourceLines = (src: string) => (consumer.sourceContentFor(src) as string).split('\n');
      let checked = 0;
      for (const [i, p] of paths.entries()) {
        // Vite SSR: the path replaced the plugin's placeholder inside the module's own
        // `new URL("…", import.meta.url)`, so all that follows is the module's code. Rollup and
        // Rolldown render `new URL('…', import.meta.url).href` themselves in place of
        // `import.meta.ROLLUP_FILE_URL_…` and map it as they choose: check from its end.
        const from = bundler === 'vite' ? p.end : code.indexOf(').href', p.end) + ').href'.length;
        // Up to the next path's `new URL(`, or the end of the line after this one.
        const next = paths[i + 1];
        const lineEnd = code.indexOf('\n', code.indexOf('\n', p.end) + 1);
        const until = Math.min(
          next ? code.lastIndexOf('new URL(', next.start) : code.length,
          lineEnd < 0 ? code.length : lineEnd,
        );
        for (const m of mappings) {
          if (m.gen < from || m.gen >= until) continue;
          // Each mapped word is the same word at the original place the map names.
          const word = /^[A-Za-z_$][\w$]*/.exec(code.slice(m.gen, m.gen + 40))?.[0];
          if (!word) continue;
          const there = (sourceLines(m.source)[m.line - 1] as string).slice(m.column, m.column + word.length);
          expect(there, `${bundler}: ${JSON.stringify(word)} at output offset ${m.gen}`).toBe(word);
          checked++;
        }
      }
      // Paths to the object and to each of the four kernels' BTF, with code mapped after each.
      expect(paths).toHaveLength(5);
      expect(checked).toBeGreaterThanOrEqual(paths.length);
    });
  });
}
