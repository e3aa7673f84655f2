/**
 * `btfkit dump` (raw format) against bpftool 7.1.0 run on the same files: byte for byte.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBtf } from '../packages/core/src/btf/index.ts';
import { dumpRaw } from '../packages/core/src/dump/raw.ts';
import {
  bpftool,
  extractKernels,
  kernelArchives,
  MODULES_KERNEL,
  minBtfFiles,
  moduleFiles,
  objectFiles,
  readBtfOfObject,
  releaseOf,
} from './fixtures/btf/corpus.ts';

const ours = (s: string) => Buffer.from(s, 'latin1');

/** Compares as text first on mismatch, so a failure shows the first differing lines. */
function expectSame(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  const a = actual.toString('latin1').split('\n');
  const e = expected.toString('latin1').split('\n');
  let i = 0;
  while (i < a.length && a[i] === e[i]) i++;
  expect(a.slice(i, i + 5), `${what}: first difference at line ${i + 1}`).toEqual(e.slice(i, i + 5));
  expect(actual.length).toBe(expected.length);
}

let kernels: ReturnType<typeof extractKernels>;
beforeAll(() => {
  kernels = extractKernels();
});
afterAll(() => kernels?.cleanup());

describe('dump raw = bpftool btf dump file', () => {
  it.each(kernelArchives().map(releaseOf))('kernel %s (raw BTF)', (release) => {
    const path = kernels.raw.get(release) as string;
    const btf = decodeBtf(readFileSync(path), { file: path });
    expectSame(ours(dumpRaw(btf)), bpftool(['btf', 'dump', 'file', path]), release);
  });

  it('every corpus object (.BTF of the ELF)', () => {
    const files = objectFiles();
    expect(files.length).toBe(41);
    for (const f of files) {
      const btf = decodeBtf(readBtfOfObject(f), { file: f });
      expectSame(ours(dumpRaw(btf)), bpftool(['btf', 'dump', 'file', f]), f);
    }
  });

  it('every BTF under expected/min (bpftool gen min_core_btf output)', () => {
    const files = minBtfFiles();
    expect(files.length).toBe(294);
    for (const f of files) {
      const btf = decodeBtf(readFileSync(f), { file: f });
      expectSame(ours(dumpRaw(btf)), bpftool(['btf', 'dump', 'file', f]), f);
    }
  });

  it.each(moduleFiles())('split module BTF %s over its kernel (--base-btf)', (mod) => {
    const basePath = kernels.raw.get(MODULES_KERNEL) as string;
    const base = decodeBtf(readFileSync(basePath), { file: basePath });
    const btf = decodeBtf(readFileSync(mod), { file: mod, base });
    expect(btf.startId).toBe(base.typeCount);
    expectSame(ours(dumpRaw(btf)), bpftool(['btf', 'dump', 'file', mod, '--base-btf', basePath]), mod);
  });
});
