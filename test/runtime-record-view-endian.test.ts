import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Btf, Kind } from '../packages/core/src/btf/index.ts';
import { TypeDescriber } from '../packages/core/src/codegen/describe.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { RecordViews } from '../packages/runtime/src/maps/record-view.ts';
import { compileBpf } from './fixtures/clang.ts';
import { INITIAL } from './fixtures/plugin/endian/initial.ts';

// The runtime's lazy record views in both byte orders, against clang's own encoding of a C
// initializer (test/fixtures/plugin/endian/sample.bpf.c, compiled for bpfeb and bpfel): the
// bitfields sit at the most significant end of their unit on big-endian, the least on
// little-endian, and the views (which read foreign-order records too: a big-endian target's
// ring buffer dumped elsewhere) must find them there.

const dir = mkdtempSync(join(tmpdir(), 'btfkit-views-endian-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The scalar and bitfield members of the initializer (views give nested structs as views). */
const SCALARS = ['a', 'b', 'c', 'd', 'e', 'f1', 'f2', 'f3'] as const;

describe('record views of big- and little-endian records', () => {
  for (const target of ['bpfeb', 'bpfel'] as const) {
    it(`${target}: every scalar and bitfield of clang's initializer reads back`, () => {
      const out = compileBpf(
        join(import.meta.dirname, 'fixtures/plugin/endian/sample.bpf.c'),
        join(dir, `sample-${target}.o`),
        { target },
      );
      const obj = parseBpfObject(new Uint8Array(readFileSync(out)), out);
      const btf = obj.btf as Btf;
      expect(btf.littleEndian).toBe(target === 'bpfel');
      const sym = obj.elf.symbols().find((s) => s.name === 'sample');
      const data = obj.elf.sections.find((s) => s.index === sym?.shndx)?.data as Uint8Array;
      const bytes = data.slice(Number(sym?.value), Number(sym?.value) + 64);
      const d = new TypeDescriber(btf);
      const id = btf.byName('sample').find((i) => btf.type(i).kind === Kind.Struct) as number;
      const desc = d.describe(id);
      const View = new RecordViews(Object.fromEntries(d.named), btf.littleEndian).classOf(desc);
      if (!View) throw new Error('no view class for struct sample');
      const view = new View(
        new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        0,
      ) as never as Record<string, unknown>;
      const got = Object.fromEntries(SCALARS.map((k) => [k, view[k]]));
      expect(got).toEqual(Object.fromEntries(SCALARS.map((k) => [k, INITIAL[k]])));
    });
  }
});
