// Under an address-space limit (`ulimit -v`), V8 cannot reserve a WebAssembly memory (each
// takes its whole 32-bit range plus guards, ~10 GB). Every command must then take its
// JavaScript paths and give the same answers as bpftool and libbpf, not a RangeError.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { btfkit } from './fixtures/cli.ts';
import { CORPUS } from './fixtures/compat/support.ts';

const RELEASE = '6.1.0-47-amd64';
const KERNEL = join(CORPUS, `kernels/debian/12/x86_64/${RELEASE}.btf.tar.xz`);
const OBJECT = join(CORPUS, 'objects/biopattern.bpf.o');
const dir = mkdtempSync(join(tmpdir(), 'btfkit-ulimit-'));
let raw: string;

beforeAll(() => {
  execFileSync('tar', ['-xJf', KERNEL, '-C', dir]);
  raw = join(dir, `${RELEASE}.btf`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bpftool = (args: string[]) => execFileSync('bpftool', args, { maxBuffer: 1 << 28 }).toString();

// 4 GB: below one WebAssembly memory's reservation; 16 GB: one fits, not several.
for (const kb of [4_000_000, 16_000_000]) {
  describe(`ulimit -v ${kb}`, () => {
    const limited = (args: string[]) => btfkit(args, { prefix: `ulimit -v ${kb}; exec` });

    it('dump prints what bpftool prints', () => {
      const r = limited(['dump', KERNEL]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(bpftool(['btf', 'dump', 'file', raw]));
    });

    it('dump --format c prints what bpftool prints', () => {
      const r = limited(['dump', '--format', 'c', raw]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(bpftool(['btf', 'dump', 'file', raw, 'format', 'c']));
    });

    it('relocate --json prints libbpf’s decisions', () => {
      const r = limited(['relocate', '--json', OBJECT, KERNEL]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(
        readFileSync(join(CORPUS, `expected/relocs/${RELEASE}/biopattern.jsonl`), 'utf8'),
      );
    });

    it('min-core-btf writes bpftool’s bytes (single, and a batch)', () => {
      const out = join(dir, `single-${kb}.btf`);
      expect(limited(['min-core-btf', KERNEL, out, OBJECT]).status).toBe(0);
      const expected = readFileSync(join(CORPUS, `expected/min/${RELEASE}/biopattern.btf`));
      expect(readFileSync(out).equals(expected)).toBe(true);
      // The batch (workers, xz(1) children) once, under the tighter limit.
      if (kb !== 4_000_000) return;
      const outDir = join(dir, `batch-${kb}`);
      const b = limited([
        'min-core-btf',
        '-q',
        '--kernels',
        join(CORPUS, 'kernels'),
        '--out-dir',
        outDir,
        OBJECT,
      ]);
      expect(b.stderr).not.toMatch(/RangeError|internal error/);
      expect(b.status).toBe(0);
      const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as {
        kernels: { release: string; path: string }[];
      };
      for (const release of readdirSync(join(CORPUS, 'expected/min'))) {
        const entry = manifest.kernels.find((k) => k.release === release);
        const bytes = readFileSync(join(outDir, entry?.path ?? ''));
        expect(
          bytes.equals(readFileSync(join(CORPUS, `expected/min/${release}/biopattern.btf`))),
          release,
        ).toBe(true);
      }
    }, 120_000);

    it('compat runs: biopattern’s poisoned relocations are guarded on this kernel', () => {
      const c = limited(['compat', '--kernels', KERNEL, OBJECT]);
      expect(c.stderr).toBe('');
      expect(c.status).toBe(0);
      expect(c.stdout).toMatch(/1 program × kernel pairs: 0 ok, 1 guarded/);
    });
  });
}
