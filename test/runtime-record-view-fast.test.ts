import { beforeAll, describe, expect, it } from 'vitest';
import { type Btf, Kind } from '../packages/core/src/btf/index.ts';
import { TypeDescriber } from '../packages/core/src/codegen/describe.ts';
import { RecordViews } from '../packages/runtime/src/maps/record-view.ts';
import { buildLayoutFixture, type Written } from './fixtures/codegen/layouts.ts';

// The lazy views' fast paths, on gcc-written `struct strings` (layouts.h): 64-bit fields read
// through typed arrays once a DataView is read again and again (as a ring buffer's is), and
// char arrays answered from the last string when the bytes are the same. Whatever path a read
// takes, it must give what gcc stored, follow the memory as it is now, and fail past the end
// as a DataView read does.

type View = Record<string, unknown>;
let w: Written;
let make: (v: DataView, offset: number) => View;

beforeAll(() => {
  const { btf, written }: { btf: Btf; written: Written[] } = buildLayoutFixture('btfkit-views-fast-');
  w = written.find((x) => x.type === 'strings') as Written;
  const id = btf.byName('strings').find((i) => btf.type(i).kind === Kind.Struct) as number;
  const d = new TypeDescriber(btf);
  const desc = d.describe(id);
  const View = new RecordViews(Object.fromEntries(d.named), btf.littleEndian).classOf(desc);
  if (!View) throw new Error('strings: no view class');
  make = (v, o) => new View(v, o) as unknown as View;
});

/** The 64-bit fields and the name as the writer printed them (bigints as decimal strings). */
const WIDE = ['ptr', 'big_neg', 'big'] as const;

function readAll(v: View): Record<string, unknown> {
  return Object.fromEntries(
    [...WIDE, 'name'].map((k) => [k, typeof v[k] === 'bigint' ? String(v[k]) : v[k]]),
  );
}

function expected(): Record<string, unknown> {
  return Object.fromEntries([...WIDE, 'name'].map((k) => [k, w.values[k]]));
}

/** `copies` records back to back at an 8-byte stride from `base` in a buffer, as in a ring. */
function placed(base: number, copies: number, viewStart = 0) {
  const raw = Buffer.from(w.bytes, 'hex');
  const stride = (raw.length + 7) & ~7;
  const buf = new ArrayBuffer(viewStart + base + copies * stride + 8);
  for (let i = 0; i < copies; i++) new Uint8Array(buf, viewStart + base + i * stride).set(raw);
  return { dv: new DataView(buf, viewStart), at: (i: number) => base + i * stride };
}

describe('lazy record view fast paths (gcc-written struct strings)', () => {
  for (const [base, viewStart] of [
    [0, 0],
    [8, 0],
    [4, 0],
    [5, 0],
    [0, 4],
    [0, 8],
  ] as const) {
    it(`64-bit fields and names read right again and again: record at ${base}, DataView from byte ${viewStart}`, () => {
      const { dv, at } = placed(base, 6, viewStart);
      for (let round = 0; round < 3; round++)
        for (let i = 0; i < 6; i++) expect(readAll(make(dv, at(i))), `copy ${i}`).toEqual(expected());
    });
  }

  it('two DataViews read in turn each give their own values', () => {
    const a = placed(0, 4);
    const b = placed(0, 4);
    const other = 0x0123456789abcdefn;
    b.dv.setBigUint64(b.at(2) + (w.offsets.big as number), other, true);
    for (let round = 0; round < 4; round++)
      for (let i = 0; i < 4; i++) {
        expect(readAll(make(a.dv, a.at(i)))).toEqual(expected());
        expect(make(b.dv, b.at(i)).big).toBe(i === 2 ? other : BigInt(w.values.big as string));
      }
  });

  it('once on the typed-array path, a read still sees the memory as it is now', () => {
    const { dv, at } = placed(0, 3);
    for (let i = 0; i < 3; i++) readAll(make(dv, at(i)));
    const v = make(dv, at(1));
    dv.setBigInt64(at(1) + (w.offsets.big_neg as number), -42n, true);
    dv.setBigUint64(at(1) + (w.offsets.big as number), 7n, true);
    expect(v.big_neg).toBe(-42n);
    expect(v.big).toBe(7n);
    expect(make(dv, at(2)).big).toBe(BigInt(w.values.big as string));
  });

  it('past the end of its DataView a 64-bit field throws RangeError, on either path', () => {
    const raw = Buffer.from(w.bytes, 'hex');
    const big = w.offsets.big as number;
    // The DataView ends 4 bytes into `big`: ptr reads (and puts this DataView on the typed
    // path), big does not.
    const dv = new DataView(new Uint8Array(raw).buffer, 0, big + 4);
    const v = make(dv, 0);
    for (let i = 0; i < 3; i++) expect(String(v.ptr)).toBe(w.values.ptr);
    expect(() => v.big).toThrow(RangeError);
    expect(() => make(new DataView(dv.buffer, 0, big + 4), 0).big).toThrow(RangeError);
  });

  it('a name differing from the last one in any word is read afresh', () => {
    const { dv, at } = placed(0, 3);
    const name = w.offsets.name as number;
    const bytes = new Uint8Array(dv.buffer);
    // Copy 1: a 15-character name; copy 2: the same but for its 15th byte (the last word).
    const long = `${w.values.name}${'x'.repeat(15 - (w.values.name as string).length)}`;
    Buffer.from(bytes.buffer).write(long, at(1) + name, 'latin1');
    Buffer.from(bytes.buffer).write(`${long.slice(0, 14)}Q`, at(2) + name, 'latin1');
    for (let round = 0; round < 2; round++) {
      expect(make(dv, at(0)).name).toBe(w.values.name);
      expect(make(dv, at(1)).name).toBe(long);
      expect(make(dv, at(1)).name).toBe(long);
      expect(make(dv, at(2)).name).toBe(`${long.slice(0, 14)}Q`);
      expect(make(dv, at(0)).name).toBe(w.values.name);
    }
  });
});
