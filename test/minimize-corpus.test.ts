import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { readKernelTimed } from '../packages/core/src/minimize/kernel-read.ts';
import { minimizeBtf } from '../packages/core/src/minimize/minimize.ts';
import { noTimings } from '../packages/core/src/minimize/timings.ts';

/**
 * Drop-in conformance: for every corpus kernel, each object alone and all 41 together give
 * exactly the bytes bpftool 7.1.0 wrote (test/corpus/expected/min, 294 files). Each kernel is
 * decoded once, in-process.
 */

const corpus = join(__dirname, 'corpus');
const objectFiles = readdirSync(join(corpus, 'objects'))
  .filter((f) => f.endsWith('.bpf.o'))
  .sort();
const objects = objectFiles.map((f) =>
  parseBpfObject(new Uint8Array(readFileSync(join(corpus, 'objects', f))), f),
);
const kernels = readdirSync(join(corpus, 'kernels'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.btf.tar.xz'))
  .sort()
  .map((f) => ({ path: join(corpus, 'kernels', f), release: basename(f, '.btf.tar.xz') }));

function expected(release: string, name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(corpus, 'expected/min', release, `${name}.btf`)));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

describe('min-core-btf is byte-identical to bpftool 7.1.0 on the corpus', () => {
  it('has the whole corpus', () => {
    expect(kernels).toHaveLength(7);
    expect(objects).toHaveLength(41);
  });

  for (const k of kernels) {
    it(`${k.release}: each object alone and all together`, () => {
      const { btf } = readKernelTimed(k.path, undefined, noTimings());
      const mismatched: string[] = [];
      for (const obj of objects) {
        const name = basename(obj.file ?? '', '.bpf.o');
        if (!same(minimizeBtf(btf, [obj]), expected(k.release, name))) mismatched.push(name);
      }
      if (!same(minimizeBtf(btf, objects), expected(k.release, '_all'))) mismatched.push('_all');
      expect(mismatched).toEqual([]);
    });
  }
});
