/**
 * scanTypes' WebAssembly fast path (btf/btf-wasm-kit.ts) against the JavaScript scan it stands in
 * for: on every corpus kernel, and on seeded mutations and truncations of type sections, it
 * either declines or answers exactly what the JavaScript scan answers (record offsets,
 * largest name offset and type id, whether every FUNC refers to a FUNC_PROTO), and it never
 * accepts a section the JavaScript scan refuses.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanTypesFast } from '../packages/core/src/btf/btf-wasm-kit.ts';
import { decodeBtf, encodeBtf, Kind } from '../packages/core/src/btf/index.ts';
import { type ScanResult, scanTypesJs } from '../packages/core/src/btf/records.ts';
import { ByteReader } from '../packages/core/src/bytes/reader.ts';
import { BtfkitError } from '../packages/core/src/errors/index.ts';
import { objectFiles, readBtfOfObject, useKernelsAndScratch } from './fixtures/btf/corpus.ts';

const corpus = useKernelsAndScratch('btfkit-scan-fast-');
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A BTF's type section, as bytes of its own. */
function typeSection(bytes: Uint8Array): { section: Uint8Array; littleEndian: boolean } {
  const btf = decodeBtf(bytes);
  const h = btf.header;
  if (!h) throw new Error('no header');
  const start = h.hdrLen + h.typeOff;
  return { section: bytes.slice(start, start + h.typeLen), littleEndian: btf.littleEndian };
}

/** The section's words in host order, as the decoder hands them to the scans. */
function hostWords(section: Uint8Array, littleEndian: boolean): Uint32Array {
  const n = section.length >>> 2;
  const view = new DataView(section.buffer, section.byteOffset, section.byteLength);
  const words = new Uint32Array(n);
  for (let i = 0; i < n; i++) words[i] = view.getUint32(i * 4, littleEndian);
  return words;
}

function offsetsOf(scan: ScanResult): number[] {
  return Array.from({ length: scan.records.count }, (_, i) => scan.records.wordAt(i));
}

/** libbpf's rule, from the JavaScript scan's records: every FUNC refers to a FUNC_PROTO (ids from 1). */
function funcProtosOk(scan: ScanResult): boolean {
  const { records } = scan;
  for (let i = 0; i < records.count; i++) {
    if (records.kind(i) !== Kind.Func) continue;
    const ref = records.words[records.wordAt(i) + 2] as number;
    if (ref < 1 || ref > records.count || records.kind(ref - 1) !== Kind.FuncProto) return false;
  }
  return true;
}

/** Both scans of one section: the fast one may decline, else both agree; a refusal is both's. */
function compare(section: Uint8Array, littleEndian: boolean): 'fast' | 'declined' | 'refused' {
  let js: ScanResult | undefined;
  try {
    js = scanTypesJs(new ByteReader(section, littleEndian), undefined);
  } catch (e) {
    if (!(e instanceof BtfkitError)) throw e;
  }
  const fast = scanTypesFast(hostWords(section, littleEndian), section.length);
  if (js === undefined) {
    expect(fast).toBeUndefined();
    return 'refused';
  }
  if (fast === undefined) return 'declined';
  expect(Array.from(fast.offs)).toEqual(offsetsOf(js));
  expect(fast.maxNameOff).toBe(js.maxNameOff);
  expect(fast.maxTypeRef).toBe(js.maxTypeRef);
  expect(fast.funcProtosOk).toBe(funcProtosOk(js));
  return 'fast';
}

describe('scanTypes fast path = the JavaScript scan', () => {
  it('every corpus kernel: taken, and equal', () => {
    expect(HOST_LE).toBe(true);
    for (const [release, path] of corpus.raw) {
      const { section, littleEndian } = typeSection(new Uint8Array(readFileSync(path)));
      expect(compare(section, littleEndian), release).toBe('fast');
    }
  });

  it('every corpus object, and one in big-endian form: taken, and equal', () => {
    for (const f of objectFiles()) {
      const { section, littleEndian } = typeSection(readBtfOfObject(f));
      expect(compare(section, littleEndian), f).toBe('fast');
    }
    const be = encodeBtf(decodeBtf(readBtfOfObject(objectFiles()[0] as string)), { littleEndian: false });
    const { section, littleEndian } = typeSection(be);
    expect(littleEndian).toBe(false);
    expect(compare(section, littleEndian)).toBe('fast');
  });

  it('a FUNC pointed at something other than a FUNC_PROTO: taken, not vouched for, and decode refuses it', () => {
    const bytes = readBtfOfObject(objectFiles()[0] as string).slice();
    const btf = decodeBtf(bytes);
    const h = btf.header;
    if (!h) throw new Error('no header');
    const start = h.hdrLen + h.typeOff;
    const js = scanTypesJs(new ByteReader(bytes.subarray(start, start + h.typeLen), true), undefined);
    const func = Array.from({ length: js.records.count }, (_, i) => i).find(
      (i) => js.records.kind(i) === Kind.Func,
    );
    const notProto = Array.from({ length: js.records.count }, (_, i) => i).find(
      (i) => js.records.kind(i) !== Kind.FuncProto,
    );
    if (func === undefined || notProto === undefined) throw new Error('no FUNC');
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(
      start + js.records.wordAt(func) * 4 + 8,
      notProto + 1,
      true,
    );
    const section = bytes.slice(start, start + h.typeLen);
    expect(compare(section, true)).toBe('fast');
    expect(scanTypesFast(hostWords(section, true), section.length)?.funcProtosOk).toBe(false);
    expect(() => decodeBtf(bytes)).toThrow(/FUNC_PROTO|func_proto/i);
  });

  it('seeded mutations and truncations of type sections never make it accept what the JS scan refuses', () => {
    const samples = objectFiles()
      .slice(0, 6)
      .map((f) => {
        const t = typeSection(readBtfOfObject(f));
        // Byte offsets of each record's info word (kind and vlen): where a lie changes sizes.
        const info = offsetsOf(scanTypesJs(new ByteReader(t.section, t.littleEndian), undefined)).map(
          (w) => w * 4 + 4,
        );
        return { ...t, info };
      });
    const seen = { fast: 0, declined: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.noBias(fc.nat({ max: samples.length - 1 })),
        fc.array(fc.record({ at: fc.noBias(fc.nat()), value: fc.noBias(fc.nat({ max: 255 })) }), {
          minLength: 1,
          maxLength: 2,
        }),
        fc.noBias(fc.nat()),
        (which, edits, cut) => {
          const { section, littleEndian, info } = samples[which] as (typeof samples)[number];
          const bytes = section.slice(0, section.length - (cut % 3 === 0 ? cut % 64 : 0));
          // A quarter of the edits hit an info word (kind, vlen), the rest anywhere.
          for (const { at, value } of edits) {
            const pos = at % 4 === 0 ? (info[(at >>> 2) % info.length] as number) + ((at >>> 4) % 4) : at;
            bytes[pos % bytes.length] = value;
          }
          seen[compare(bytes, littleEndian)]++;
        },
      ),
      { seed: 20261125, numRuns: 3000 },
    );
    // Most lies about kind or vlen misalign everything after them (refused); some edits leave
    // a section both scans accept, with new name offsets or ids (this seed: 11 of 3000).
    expect(seen.refused).toBeGreaterThan(2000);
    expect(seen.fast).toBeGreaterThan(0);
  });
});
