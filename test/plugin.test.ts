import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLERS, build, filesUnder, runOutput } from './plugin-harness.ts';

// The same fixture app built by every bundler, run with Node, checked against the outside world:
// the corpus object's own bytes, bpftool 7.1.0's min_core_btf output for each corpus kernel
// (expected/min), and an event struct written by a C program.

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const APP = join(ROOT, 'test/fixtures/plugin/app/main.js');
const OBJECT = join(CORPUS, 'objects/execsnoop.bpf.o');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const releases = readdirSync(join(CORPUS, 'expected/min')).sort();
const expectedMin = new Map(
  releases.map((r) => [r, sha(readFileSync(join(CORPUS, 'expected/min', r, 'execsnoop.btf')))]),
);
const cacheDir = mkdtempSync(join(tmpdir(), 'btfkit-cache-'));
let event: { size: number; hex: string };

beforeAll(() => {
  const exe = join(mkdtempSync(join(tmpdir(), 'btfkit-ev-')), 'event-writer');
  execFileSync('gcc', ['-Wall', '-o', exe, join(ROOT, 'test/fixtures/plugin/event-writer.c')]);
  event = JSON.parse(execFileSync(exe, { encoding: 'utf8' }));
});

for (const bundler of BUNDLERS) {
  describe(bundler, () => {
    const outDir = mkdtempSync(join(tmpdir(), `btfkit-${bundler}-`));
    let result: Record<string, unknown>;

    beforeAll(async () => {
      await build(bundler, APP, outDir, { kernels: [join(CORPUS, 'kernels')], cacheDir });
      result = runOutput(outDir, { EVENT_HEX: event.hex });
    });

    it('lists every corpus kernel with its btfhub name', () => {
      const kernels = result.kernels as { release: string; arch: string; distro: string; version: string }[];
      expect(kernels.map((k) => k.release).sort()).toEqual(releases);
      const arm = kernels.find((k) => k.release === '6.1.0-47-cloud-arm64');
      expect(arm).toEqual({
        distro: 'debian',
        version: '12',
        arch: 'arm64',
        release: '6.1.0-47-cloud-arm64',
      });
    });

    it('btfFor gives bpftool min_core_btf bytes for each kernel', () => {
      const btf = result.btf as Record<string, string>;
      for (const r of releases) expect(btf[r], r).toBe(expectedMin.get(r));
      expect(result.missing).toMatch(/not among the 7 configured kernels/);
    });

    it('emits the object and one content-hashed asset per distinct minimized BTF', () => {
      const files = filesUnder(outDir).filter((f) => f.startsWith('assets/'));
      // esbuild's file loader names it <name>-<its hash><ext>: execsnoop-63b3da6e.bpf-RFQKXC6Q.o
      const objects = files.filter((f) => f.endsWith('.o'));
      expect(objects).toHaveLength(1);
      const objBytes = readFileSync(join(outDir, objects[0] as string));
      expect(sha(objBytes)).toBe(sha(readFileSync(OBJECT)));
      expect(result.objectSha).toBe(sha(readFileSync(OBJECT)));
      const btfs = files.filter((f) => f.endsWith('.btf'));
      const distinct = new Set(expectedMin.values());
      expect(btfs).toHaveLength(distinct.size);
      for (const f of btfs) {
        const h = sha(readFileSync(join(outDir, f)));
        expect(distinct.has(h), f).toBe(true);
        expect(f).toContain(h.slice(0, 8));
      }
    });

    it('knows the programs, maps and globals the object defines', () => {
      const programs = result.programs as Record<string, { section: string; type: string; target?: string }>;
      expect(programs.tracepoint__syscalls__sys_enter_execve).toMatchObject({
        section: 'tracepoint/syscalls/sys_enter_execve',
        type: 'tracepoint',
        target: 'syscalls/sys_enter_execve',
      });
      const maps = result.maps as Record<
        string,
        { type: string; keySize: number; valueSize: number; maxEntries: number }
      >;
      expect(maps.execs).toEqual({
        type: 'hash',
        keySize: 4,
        valueSize: event.size,
        maxEntries: 10240,
        flags: 0,
      });
      expect(maps.events?.type).toBe('perf_event_array');
      const globals = result.globals as Record<string, { section: string; size: number }>;
      expect(globals.max_args).toMatchObject({ section: '.rodata', size: 4 });
    });

    it('decodes an event written by C', () => {
      expect(result.event).toEqual({
        pid: 4242,
        ppid: 1,
        uid: 1000,
        retval: -2,
        args_count: 2,
        args_size: 12,
        comm: 'bash',
        args: 'ls',
      });
    });
  });
}

// The entry's output in a sub-folder: every asset URL must still lead to its file.
for (const bundler of BUNDLERS) {
  it(`${bundler}: an entry in a sub-folder of the output finds its assets`, async () => {
    const outDir = mkdtempSync(join(tmpdir(), `btfkit-sub-${bundler}-`));
    const layout = { subdir: 'bin/tools' };
    await build(bundler, APP, outDir, { kernels: [join(CORPUS, 'kernels')], cacheDir }, layout);
    expect(filesUnder(outDir)).toContain('bin/tools/main.js');
    const r = runOutput(outDir, {}, layout);
    expect(r.objectSha).toBe(sha(readFileSync(OBJECT)));
    const btf = r.btf as Record<string, string>;
    for (const rel of releases) expect(btf[rel], rel).toBe(expectedMin.get(rel));
  });
}

describe('same inputs, same output', () => {
  it('rebuilding gives identical bytes for every file', async () => {
    const a = mkdtempSync(join(tmpdir(), 'btfkit-det-a-'));
    const b = mkdtempSync(join(tmpdir(), 'btfkit-det-b-'));
    await build('rollup', APP, a, { kernels: [join(CORPUS, 'kernels')], cacheDir });
    await build('rollup', APP, b, { kernels: [join(CORPUS, 'kernels')], cacheDir: false });
    const fa = filesUnder(a);
    expect(filesUnder(b)).toEqual(fa);
    for (const f of fa) expect(sha(readFileSync(join(b, f))), f).toBe(sha(readFileSync(join(a, f))));
  });
});
