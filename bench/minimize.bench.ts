import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBtf } from '../packages/core/src/btf/decode.ts';
import { listKernels } from '../packages/core/src/kernels/index.ts';
import { minimizeKernels } from '../packages/core/src/minimize/batch.ts';
import { parseObjects, readObjectFiles } from '../packages/core/src/minimize/kernel-job.ts';
import { encodeMinimized, markObjects } from '../packages/core/src/minimize/minimize.ts';

/**
 * min-core-btf against bpftool 7.1.0, side by side in one run:
 *  1. one raw kernel × all 41 corpus objects: btfkit (in-process, decode included) vs
 *     `bpftool gen min_core_btf` (goal ≤ 1.0×);
 *  2. all 7 corpus kernels from .btf.tar.xz × all objects: the batch command (worker threads)
 *     vs `tar -xJf` + bpftool for each kernel, one after the other (goal ≤ 0.5×);
 * plus peak RSS and where btfkit's time goes (decompress, decode, relocate, emit).
 */

const root = join(import.meta.dirname, '..');
const corpus = join(root, 'test/corpus');
const objectPaths = readdirSync(join(corpus, 'objects'))
  .filter((f) => f.endsWith('.bpf.o'))
  .sort()
  .map((f) => join(corpus, 'objects', f));

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

function best(n: number, fn: () => void): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) min = Math.min(min, time(fn)[1]);
  return min;
}

export async function benchMinimize(log: (line: string) => void = console.log): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'btfkit-bench-min-'));
  try {
    const kernels = listKernels([join(corpus, 'kernels')]);
    const first = kernels.find((k) => k.release === '6.1.0-47-cloud-amd64') ?? kernels[0];
    if (!first) throw new Error('no corpus kernels');
    execFileSync('tar', ['-xJf', first.path, '-C', tmp]);
    const raw = join(tmp, `${first.release}.btf`);

    // 1. One raw kernel, all objects.
    const bpftool1 = best(3, () => {
      execFileSync('bpftool', ['gen', 'min_core_btf', raw, join(tmp, 'ref.btf'), ...objectPaths]);
    });
    const split = { read: 0, decode: 0, relocate: 0, emit: 0 };
    const ours1 = best(3, () => {
      const [bytes, read] = time(() => readFileSync(raw));
      const [objects, parse] = time(() => parseObjects(readObjectFiles(objectPaths)));
      const [kernel, decode] = time(() => decodeBtf(new Uint8Array(bytes), { file: raw }));
      const [marked, relocate] = time(() => markObjects(kernel, objects));
      const [, emit] = time(() => encodeMinimized(marked.marks));
      Object.assign(split, { read: read + parse, decode, relocate, emit });
    });
    log(
      `min-core-btf, 1 raw kernel × ${objectPaths.length} objects: btfkit ${ours1.toFixed(0)} ms, ` +
        `bpftool ${bpftool1.toFixed(0)} ms, ratio ${(ours1 / bpftool1).toFixed(2)}× (goal ≤ 1.0×); ` +
        `split: read ${split.read.toFixed(0)}, decode ${split.decode.toFixed(0)}, ` +
        `relocate ${split.relocate.toFixed(0)}, emit ${split.emit.toFixed(0)} ms`,
    );

    // 2. All kernels from .btf.tar.xz.
    const [, ref2] = time(() => {
      for (const k of kernels) {
        execFileSync('tar', ['-xJf', k.path, '-C', tmp]);
        execFileSync('bpftool', [
          'gen',
          'min_core_btf',
          join(tmp, `${k.release}.btf`),
          join(tmp, 'ref.btf'),
          ...objectPaths,
        ]);
      }
    });
    const t0 = performance.now();
    const res = await minimizeKernels({
      outDir: join(tmp, 'out'),
      kernels,
      objects: readObjectFiles(objectPaths),
    });
    const ours2 = performance.now() - t0;
    const t = res.timings;
    log(
      `min-core-btf, ${kernels.length} kernels (.btf.tar.xz) × ${objectPaths.length} objects: btfkit batch ` +
        `${ours2.toFixed(0)} ms, tar -xJf + bpftool ${ref2.toFixed(0)} ms, ratio ${(ours2 / ref2).toFixed(2)}× (goal ≤ 0.5×); ` +
        `worker time: decompress ${t.decompress.toFixed(0)}, decode ${t.decode.toFixed(0)}, ` +
        `relocate ${t.relocate.toFixed(0)}, emit ${t.emit.toFixed(0)} ms`,
    );

    // 3. Peak memory of the CLI batch with 1 kernel and with all: must not grow with the count.
    const peak = (ks: string[]) => {
      const out = join(tmp, `out-${ks.length}`);
      const r = execFileSync(
        '/usr/bin/time',
        [
          '-f',
          '%M',
          process.execPath,
          '--import',
          'tsx',
          join(root, 'packages/core/src/cli/main.ts'),
          'min-core-btf',
          '--kernels',
          ...ks,
          '--out-dir',
          out,
          ...objectPaths,
        ],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
      ).toString();
      return Number.parseInt(r.trim().split('\n').at(-1) ?? '0', 10) / 1024;
    };
    log(
      `min-core-btf batch peak RSS (whole process, all workers): 1 kernel ${peak([first.path]).toFixed(0)} MiB, ` +
        `${kernels.length} kernels ${peak(kernels.map((k) => k.path)).toFixed(0)} MiB`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) await benchMinimize();
