import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSkeletonModel, parseBpfObject } from '@btfkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSkeleton } from '../packages/core/src/codegen/skeleton.js';
import { compileBpf } from './fixtures/clang.ts';
import { INITIAL } from './fixtures/plugin/endian/initial.ts';

// Big-endian codecs, checked against bytes others wrote: clang -target bpfeb encodes the C
// initializer of `sample` into .data (bit-fields from the most significant bit, as big-endian
// targets lay them out), and gcc writes the same struct in big-endian storage order
// (scalar_storage_order). The same source for bpfel must decode to the same values.

const FIX = join(import.meta.dirname, 'fixtures/plugin/endian');

// What be-writer.c stores.
const WRITTEN = {
  a: 0x5a,
  b: 0xbeef,
  c: -7,
  d: 0x8877665544332211n,
  e: -1234567890123n,
  f1: 6,
  f2: 2047,
  f3: 131071,
  m: 'MODE_ON',
  name: 'gcc-be',
  in: { s: 300, tag: [9, 8, 7] },
  u: { u32: 0x01020304, bytes: [1, 2, 3, 4] },
  arr: [0x0102, 0, 0x8000],
};

// biome-ignore lint/suspicious/noExplicitAny: the untyped skeleton (its d.ts types come from codegen)
type Skel = any;
const objects: Record<'bpfeb' | 'bpfel', { skel: Skel; data: Uint8Array; rodata: Uint8Array }> = {} as never;
let written: { size: number; hex: string };

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-endian-'));
  for (const target of ['bpfeb', 'bpfel'] as const) {
    const out = join(dir, `sample-${target}.o`);
    compileBpf(join(FIX, 'sample.bpf.c'), out, { target });
    // The sections as llvm-objcopy cuts them out, not as our ELF reader does.
    execFileSync('llvm-objcopy-19', [
      `--dump-section=.data=${out}.data`,
      `--dump-section=.rodata=${out}.rodata`,
      out,
    ]);
    const bytes = new Uint8Array(readFileSync(out));
    const parsed = parseBpfObject(bytes, out);
    const model = buildSkeletonModel(
      { file: out, btf: parsed.btf, sections: parsed.elf.sections, programs: parsed.programs },
      'sample',
    );
    objects[target] = {
      skel: createSkeleton(JSON.parse(JSON.stringify(model)), { object: { bytes }, kernels: [] }),
      data: new Uint8Array(readFileSync(`${out}.data`)),
      rodata: new Uint8Array(readFileSync(`${out}.rodata`)),
    };
  }
  const exe = join(dir, 'be-writer');
  execFileSync('gcc', ['-Wall', '-o', exe, join(FIX, 'be-writer.c')]);
  written = JSON.parse(execFileSync(exe, { encoding: 'utf8' }));
});

describe('big-endian codecs', () => {
  it("decode clang's big-endian .data to the C initializer, as the little-endian build does", () => {
    for (const target of ['bpfeb', 'bpfel'] as const) {
      const g = objects[target].skel.globals.sample;
      expect(g.section).toBe('.data');
      expect(g.initial, target).toMatchObject(INITIAL);
      expect(objects[target].skel.globals.limit.initial, target).toBe(0x1122334455667788n);
    }
  });

  it('read a union as overlapping views in the byte order of the target', () => {
    expect(objects.bpfeb.skel.globals.sample.initial.u).toEqual({
      u32: 0xdeadbeef,
      bytes: [0xde, 0xad, 0xbe, 0xef],
    });
    expect(objects.bpfel.skel.globals.sample.initial.u).toEqual({
      u32: 0xdeadbeef,
      bytes: [0xef, 0xbe, 0xad, 0xde],
    });
  });

  it("encode the initial values back to clang's exact .data and .rodata bytes", () => {
    for (const target of ['bpfeb', 'bpfel'] as const) {
      const { skel, data, rodata } = objects[target];
      const g = skel.globals.sample;
      expect(Buffer.from(g.encode(g.initial)).toString('hex'), target).toBe(
        Buffer.from(data.subarray(g.offset, g.offset + g.size)).toString('hex'),
      );
      const l = skel.globals.limit;
      expect(Buffer.from(l.encode(l.initial)).toString('hex'), target).toBe(
        Buffer.from(rodata.subarray(l.offset, l.offset + l.size)).toString('hex'),
      );
    }
    // The two orders really differ (a byte-order bug could not pass both).
    expect(Buffer.from(objects.bpfeb.data).equals(Buffer.from(objects.bpfel.data))).toBe(false);
  });

  it('decode and re-encode a struct gcc wrote in big-endian storage order', () => {
    const codec = objects.bpfeb.skel.types.sample;
    expect(codec.size).toBe(written.size);
    const bytes = Buffer.from(written.hex, 'hex');
    const value = codec.decode(bytes);
    expect(value).toEqual(WRITTEN);
    expect(Buffer.from(codec.encode(value)).toString('hex')).toBe(written.hex);
    // The little-endian codec reads the same bytes differently.
    expect(objects.bpfel.skel.types.sample.decode(bytes).b).toBe(0xefbe);
  });
});
