import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBtf } from '../packages/core/src/btf/decode.ts';
import { relocateObject } from '../packages/core/src/core/index.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { type BenchRow, median, RUNS } from './lib.ts';

/**
 * CO-RE relocation of all 41 corpus objects against one raw kernel BTF, in one process
 * (kernel decode and object parsing included), side by side with
 * `bpftool gen min_core_btf` on the same files, which runs libbpf's same calculations for
 * every relocation (plus writing a small BTF). Goal: ratio ≤ 1.0×.
 */
const root = join(import.meta.dirname, '..');
const corpus = join(root, 'test/corpus');
/** The largest corpus kernel (most types, so the most work per candidate search). */
const RELEASE = '6.12.111+deb12-cloud-amd64';
const ARCHIVE = `kernels/debian/12/x86_64/${RELEASE}.btf.tar.xz`;

export default async function benchRelocate(log: (line: string) => void): Promise<BenchRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-relocate-'));
  try {
    execFileSync('tar', ['-xJf', join(corpus, ARCHIVE), '-C', tmp]);
    const raw = join(tmp, `${RELEASE}.btf`);
    const objects = readdirSync(join(corpus, 'objects'))
      .filter((f) => f.endsWith('.bpf.o'))
      .sort()
      .map((f) => join(corpus, 'objects', f));
    const runs = Math.max(3, Math.min(RUNS, 10));

    const ref: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      execFileSync('bpftool', ['gen', 'min_core_btf', raw, join(tmp, 'min.btf'), ...objects]);
      ref.push(performance.now() - t0);
    }

    const ours: number[] = [];
    const decode: number[] = [];
    const parse: number[] = [];
    const relocOnly: number[] = [];
    const warm: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const kernel = decodeBtf(new Uint8Array(readFileSync(raw)), { file: raw });
      const t1 = performance.now();
      const parsed = objects.map((p) => parseBpfObject(readFileSync(p), p));
      const t2 = performance.now();
      count = 0;
      for (const obj of parsed) count += relocateObject(obj, kernel, { release: RELEASE }).relocations.length;
      const t3 = performance.now();
      // Again against the same kernel: the engine alone, its essential-name index already built.
      for (const obj of parsed) relocateObject(obj, kernel, { release: RELEASE });
      const t4 = performance.now();
      ours.push(t3 - t0);
      decode.push(t1 - t0);
      parse.push(t2 - t1);
      relocOnly.push(t3 - t2);
      warm.push(t4 - t3);
    }
    const ms = median(ours);
    const refMs = median(ref);
    const f = (xs: number[]) => median(xs).toFixed(1);
    log(
      `relocate ${objects.length} objects (${count} relocations) × ${RELEASE}: btfkit ${ms.toFixed(0)} ms ` +
        `= kernel decode ${f(decode)} + object parse ${f(parse)} + relocation ${f(relocOnly)} ` +
        `(of which index build ~${(median(relocOnly) - median(warm)).toFixed(1)}; warm ${f(warm)}), ` +
        `bpftool gen min_core_btf ${refMs.toFixed(0)} ms, ratio ${(ms / refMs).toFixed(2)}× (goal ≤ 1.0×)`,
    );
    return [
      {
        case: `${objects.length} objects × 1 raw kernel, in-process (decode included)`,
        ms,
        ref: 'bpftool gen min_core_btf',
        refMs,
      },
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
