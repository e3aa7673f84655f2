import { describe, expect, it } from 'vitest';
import { BtfkitError } from '../errors/index.ts';
import { decodeBtf } from './decode.ts';

/**
 * libbpf's sanity pass over decoded BTF (names inside the string section, referenced ids
 * present, FUNC → FUNC_PROTO): each broken field is refused with BAD_BTF at the byte offset
 * of the record holding it. The BTF is written word by word here, so every offset is known
 * from the construction.
 */
const STRINGS = '\0int\0s\0m\0f\0';
const OFF = { int: 1, s: 5, m: 7, f: 9 };
const HDR = 24;

/** Type records as u32 words; record starts (byte offsets from the type section) come back too. */
function records(): { words: number[]; starts: number[] } {
  const starts: number[] = [];
  const words: number[] = [];
  const rec = (...w: number[]) => {
    starts.push(words.length * 4);
    words.push(...w);
  };
  rec(OFF.int, 1 << 24, 4, (1 << 24) | 32); // [1] INT 'int' size 4, signed 32 bits
  rec(OFF.s, (4 << 24) | 1, 4, OFF.m, 1, 0); // [2] STRUCT 's' size 4 { int m; }
  rec(0, (13 << 24) | 1, 1, 0, 1); // [3] FUNC_PROTO int (int)
  rec(OFF.f, 12 << 24, 3); // [4] FUNC 'f' → [3]
  rec(0, 3 << 24, 0, 1, 1, 2); // [5] ARRAY of [1] indexed by [1], 2 elements
  return { words, starts };
}

function encode(words: number[]): Uint8Array {
  const str = new TextEncoder().encode(STRINGS);
  const buf = new Uint8Array(HDR + words.length * 4 + str.length);
  const v = new DataView(buf.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, HDR, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, words.length * 4, true);
  v.setUint32(16, words.length * 4, true);
  v.setUint32(20, str.length, true);
  words.forEach((w, i) => {
    v.setUint32(HDR + i * 4, w >>> 0, true);
  });
  buf.set(str, HDR + words.length * 4);
  return buf;
}

function refusal(words: number[]): BtfkitError {
  try {
    decodeBtf(encode(words), { file: 'x.btf' });
  } catch (e) {
    if (e instanceof BtfkitError) return e;
    throw e;
  }
  throw new Error('expected a BtfkitError');
}

describe('sanity pass', () => {
  it('accepts the well-formed BTF', () => {
    const btf = decodeBtf(encode(records().words));
    expect(btf.typeCount).toBe(6);
    expect(btf.name(4)).toBe('f');
  });

  /** [what, record index, word within the record, value written there, expected message]. */
  const cases: [string, number, number, number, string][] = [
    ['a type name past the strings', 0, 0, 64, 'name of type [1] has string offset 64'],
    ['a member name past the strings', 1, 3, 99, 'member name of type [2]'],
    ['a member type past the last id', 1, 4, 6, 'member type of type [2] refers to type id 6'],
    ['a return type past the last id', 2, 2, 40, 'return type of type [3]'],
    ['a parameter type past the last id', 2, 4, 7, 'parameter type of type [3]'],
    ['a FUNC pointing at an INT', 3, 2, 1, 'type of type [4] is [1], not a FUNC_PROTO'],
    ['an array index type past the last id', 4, 4, 9, 'index type of type [5]'],
  ];
  for (const [what, record, word, value, message] of cases) {
    it(`refuses ${what} at its record`, () => {
      const { words, starts } = records();
      words[(starts[record] as number) / 4 + word] = value;
      const e = refusal(words);
      expect(e.code).toBe('BAD_BTF');
      expect(e.message).toContain(message);
      expect(e.offset).toBe(HDR + (starts[record] as number));
    });
  }

  it('reports the first broken record when several are', () => {
    const { words, starts } = records();
    words[(starts[4] as number) / 4 + 3] = 50; // [5] element type
    words[(starts[1] as number) / 4 + 4] = 60; // [2] member type
    const e = refusal(words);
    expect(e.message).toContain('member type of type [2] refers to type id 60');
    expect(e.offset).toBe(HDR + (starts[1] as number));
  });

  it('validate: false skips the pass', () => {
    const { words, starts } = records();
    words[(starts[3] as number) / 4 + 2] = 1;
    expect(decodeBtf(encode(words), { validate: false }).typeCount).toBe(6);
  });
});
