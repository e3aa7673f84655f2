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
const RELEASE = '6.1.0-47-cloud-amd64';

export default async function benchRelocate(log: (line: string) => void): Promise<BenchRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-relocate-'));
  try {
    execFileSync('tar', ['-xJf', join(corpus, `kernels/debian/12/x86_64/${RELEASE}.btf.tar.xz`), '-C', tmp]);
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
    const relocOnly: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const kernel = decodeBtf(new Uint8Array(readFileSync(raw)), { file: raw });
      const parsed = objects.map((p) => parseBpfObject(readFileSync(p), p));
      const t1 = performance.now();
      count = 0;
      for (const obj of parsed) count += relocateObject(obj, kernel, { release: RELEASE }).relocations.length;
      const t2 = performance.now();
      ours.push(t2 - t0);
      relocOnly.push(t2 - t1);
    }
    const ms = median(ours);
    const refMs = median(ref);
    log(
      `relocate ${objects.length} objects (${count} relocations) × ${RELEASE}: btfkit ${ms.toFixed(0)} ms ` +
        `(relocation alone ${median(relocOnly).toFixed(0)} ms), bpftool gen min_core_btf ${refMs.toFixed(0)} ms, ` +
        `ratio ${(ms / refMs).toFixed(2)}× (goal ≤ 1.0×)`,
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
