import { beforeAll, describe, expect, it } from 'vitest';
import type { Btf } from '../packages/core/src/btf/index.ts';
import { createCodecs } from '../packages/core/src/codegen/codec.js';
import { TypeDescriber } from '../packages/core/src/codegen/describe.ts';
import { RecordViews } from '../packages/runtime/src/maps/record-view.ts';
import { buildLayoutFixture, type Written } from './fixtures/codegen/layouts.ts';

// Lazy record views read fields where clang's BTF puts them; the bytes come from the same
// structs compiled by gcc for the host (test/fixtures/codegen's writer), which also prints the
// values it stored. Every field read through a view must give that value.

let btf: Btf;
let written: Written[];

beforeAll(() => {
  ({ btf, written } = buildLayoutFixture('btfkit-views-'));
});

function viewOf(name: string, bytes: Uint8Array, offset = 0): Record<string, unknown> {
  const ids = btf.byName(name).filter((id) => [4, 5].includes(btf.type(id).kind));
  expect(ids).toHaveLength(1);
  const d = new TypeDescriber(btf);
  const desc = d.describe(ids[0] as number);
  const View = new RecordViews(Object.fromEntries(d.named), btf.littleEndian).classOf(desc);
  if (!View) throw new Error(`${name}: no view class`);
  return new View(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset) as never;
}

function codecOf(name: string) {
  const id = btf.byName(name).find((i) => [4, 5].includes(btf.type(i).kind)) as number;
  const d = new TypeDescriber(btf);
  const desc = d.describe(id);
  return createCodecs(Object.fromEntries(d.named), btf.littleEndian).codec(desc);
}

/** Follows a dotted path through views (getters) and arrays. */
function at(value: unknown, path: string): unknown {
  let v = value;
  for (const p of path.split('.')) v = (v as Record<string, unknown>)[p];
  return v;
}

function norm(v: unknown): unknown {
  if (typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object' && 'toJSON' in v) {
    // A nested view: its fields are its class's getters, read one by one.
    const getters = Object.entries(Object.getOwnPropertyDescriptors(Object.getPrototypeOf(v)))
      .filter(([, d]) => d.get)
      .map(([k]) => k);
    return Object.fromEntries(getters.map((k) => [k, norm((v as Record<string, unknown>)[k])]));
  }
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  }
  return v;
}

describe('lazy record views against gcc-written bytes', () => {
  for (const name of ['padded', 'packed', 'aligned', 'bits', 'overlay', 'nested', 'strings', 'flex']) {
    it(`${name}: every field gcc stored reads back through the view, at any offset`, () => {
      const w = written.find((x) => x.type === name) as Written;
      const raw = Buffer.from(w.bytes, 'hex');
      // The record placed at an odd offset inside a bigger buffer, as records sit in a ring.
      const shifted = new Uint8Array(raw.length + 13);
      shifted.set(raw, 5);
      for (const [bytes, off] of [
        [new Uint8Array(raw), 0],
        [shifted, 5],
      ] as const) {
        const v = viewOf(name, bytes, off);
        // toJSON() (built from the getters) is exactly the codec's eager decode.
        expect(norm((v.toJSON as () => unknown).call(v)), `${name} toJSON at ${off}`).toEqual(
          norm(codecOf(name).decode(bytes, off)),
        );
        for (const [path, expected] of Object.entries(w.values)) {
          expect(norm(at(v, path)), `${name}.${path} at ${off}`).toEqual(expected);
          // toJSON() is the eager decode of the whole record.
          expect(norm(at((v.toJSON as () => unknown).call(v), path)), `${name}.${path} eager`).toEqual(
            expected,
          );
        }
      }
    });
  }

  it('reads the memory as it is now (lazily), not as it was when the view was made', () => {
    const w = written.find((x) => x.type === 'strings') as Written;
    const bytes = new Uint8Array(Buffer.from(w.bytes, 'hex'));
    const v = viewOf('strings', bytes);
    const [path, expected] = Object.entries(w.values).find(
      ([, x]) => typeof x === 'string' && x.length > 0,
    ) as [string, string];
    expect(at(v, path)).toBe(expected);
    // Same bytes again (cache hit) then changed bytes: the string follows the memory.
    expect(at(v, path)).toBe(expected);
    const copy = new Uint8Array(bytes);
    const v2 = viewOf('strings', copy);
    const idx = Buffer.from(copy).indexOf(Buffer.from(expected));
    copy[idx] = 'Z'.charCodeAt(0);
    expect(at(v2, path)).toBe(`Z${expected.slice(1)}`);
    expect(at(v, path)).toBe(expected);
  });
});
