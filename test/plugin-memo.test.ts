import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { watchBuild } from './plugin-harness.ts';

// A Rollup watch rebuild calls the plugin's load on every object again. Here core's functions
// that do an object's work are counted (parse, kernel decode, minimization, compat analysis):
// a rebuild after touching only app code must call none of them; a rebuild after replacing one
// object must parse that object alone. Each build's output is checked against bpftool's
// min_core_btf bytes (expected/min).

const calls = vi.hoisted(() => ({ parse: 0, decode: 0, minimize: 0, analyze: 0 }));
vi.mock('@btfkit/core', async (importOriginal) => {
  const core = await importOriginal<typeof import('@btfkit/core')>();
  return {
    ...core,
    parseBpfObject: (...a: Parameters<typeof core.parseBpfObject>) => {
      calls.parse++;
      return core.parseBpfObject(...a);
    },
    readBtfSource: (...a: Parameters<typeof core.readBtfSource>) => {
      calls.decode++;
      return core.readBtfSource(...a);
    },
    minimizeBtf: (...a: Parameters<typeof core.minimizeBtf>) => {
      calls.minimize++;
      return core.minimizeBtf(...a);
    },
    minimizeKernels: (...a: Parameters<typeof core.minimizeKernels>) => {
      calls.minimize++;
      return core.minimizeKernels(...a);
    },
    analyzeCompat: (...a: Parameters<typeof core.analyzeCompat>) => {
      calls.analyze++;
      return core.analyzeCompat(...a);
    },
  };
});

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const KERNELS = [
  'debian/12/x86_64/6.1.0-47-cloud-amd64.btf.tar.xz',
  'debian/11/x86_64/5.10.0-32-cloud-amd64.btf.tar.xz',
];
const releaseOf = (k: string) => k.replace(/^.*\//, '').replace('.btf.tar.xz', '');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const expected = (k: string, obj: string) =>
  sha(readFileSync(join(CORPUS, 'expected/min', releaseOf(k), `${obj}.btf`)));
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function replaceFile(dst: string, bytes: string | Uint8Array): void {
  const tmp = `${dst}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, dst);
}

describe('rollup watch: a rebuild redoes only the objects that changed', () => {
  it('touching app code redoes nothing; replacing one object redoes that one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfkit-memo-'));
    scratch.push(dir);
    copyFileSync(join(CORPUS, 'objects/execsnoop.bpf.o'), join(dir, 'a.bpf.o'));
    copyFileSync(join(CORPUS, 'objects/opensnoop.bpf.o'), join(dir, 'b.bpf.o'));
    for (const k of KERNELS) {
      mkdirSync(join(dir, 'kernels', k, '..'), { recursive: true });
      copyFileSync(join(CORPUS, 'kernels', k), join(dir, 'kernels', k));
    }
    const entry = join(dir, 'main.js');
    const app = (tag: string) =>
      [
        "import a from './a.bpf.o';",
        "import b from './b.bpf.o';",
        "import { createHash } from 'node:crypto';",
        "const h = (x) => createHash('sha256').update(x).digest('hex');",
        `const out = { tag: ${JSON.stringify(tag)}, a: {}, b: {} };`,
        'for (const k of a.kernels) out.a[k.release] = h((await a.btfFor(k)).bytes);',
        'for (const k of b.kernels) out.b[k.release] = h((await b.btfFor(k)).bytes);',
        'out.bObject = h(await b.object());',
        'console.log(JSON.stringify(out));',
        '',
      ].join('\n');
    writeFileSync(entry, app('first'));
    const out = join(dir, 'dist');
    const run = () =>
      JSON.parse(execFileSync(process.execPath, [join(out, 'main.js')], { encoding: 'utf8' }).trim());
    const w = await watchBuild('rollup', entry, out, {
      kernels: [join(dir, 'kernels')],
      cacheDir: false,
      compat: 'warn',
    });
    const until = async (
      step: string,
      ok: (r: { tag: string; bObject: string; b: Record<string, string> }) => boolean,
    ) => {
      for (let i = 0; i < 6; i++) {
        const b = await Promise.race([
          w.next(),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`${step}: no rebuild in 30 s`)), 30_000),
          ),
        ]);
        if (!b.ok) continue;
        const r = run();
        if (ok(r)) return r;
      }
      throw new Error(`${step}: no rebuild produced the expected output`);
    };
    try {
      const first = await until('first build', () => true);
      for (const k of KERNELS) {
        expect(first.a[releaseOf(k)]).toBe(expected(k, 'execsnoop'));
        expect(first.b[releaseOf(k)]).toBe(expected(k, 'opensnoop'));
      }
      expect(calls.parse).toBe(2);
      expect(calls.minimize).toBeGreaterThan(0);
      expect(calls.analyze).toBe(2);
      const afterFirst = { ...calls };
      await new Promise((r) => setTimeout(r, 300));

      replaceFile(entry, app('second'));
      await until('app code change', (r) => r.tag === 'second');
      expect(calls).toEqual(afterFirst);
      await new Promise((r) => setTimeout(r, 300));

      const bindsnoop = readFileSync(join(CORPUS, 'objects/bindsnoop.bpf.o'));
      replaceFile(join(dir, 'b.bpf.o'), bindsnoop);
      const third = await until('object change', (r) => r.bObject === sha(bindsnoop));
      for (const k of KERNELS) {
        expect(third.a[releaseOf(k)]).toBe(expected(k, 'execsnoop'));
        expect(third.b[releaseOf(k)]).toBe(expected(k, 'bindsnoop'));
      }
      // Only b.bpf.o was parsed and analyzed again.
      expect(calls.parse).toBe(afterFirst.parse + 1);
      expect(calls.analyze).toBe(afterFirst.analyze + 1);
    } finally {
      await w.close();
    }
  });
});
