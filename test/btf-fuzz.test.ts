/**
 * Bad input: truncations and byte mutations of real BTF (seeded, reproducible) must give a
 * BtfkitError naming the file and a byte offset inside it, never another exception; what
 * does decode must dump and re-encode without throwing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Btf, decodeBtf, encodeBtf, Kind, recordSize } from '../packages/core/src/btf/index.ts';
import { dumpC } from '../packages/core/src/dump/c.ts';
import { dumpRaw } from '../packages/core/src/dump/raw.ts';
import { BtfkitError } from '../packages/core/src/errors/index.ts';
import { CORPUS, extractKernels, MODULES_KERNEL, readBtfOfObject } from './fixtures/btf/corpus.ts';

const SEED = 20260425;

// Plain Uint8Array copies: Buffer#slice would share memory and let one mutation leak into the next.
const copy = (b: Uint8Array) => new Uint8Array(b);
const samples: { name: string; bytes: Uint8Array }[] = [
  { name: 'opensnoop.bpf.o:.BTF', bytes: copy(readBtfOfObject(join(CORPUS, 'objects/opensnoop.bpf.o'))) },
  { name: 'tcplife.bpf.o:.BTF', bytes: copy(readBtfOfObject(join(CORPUS, 'objects/tcplife.bpf.o'))) },
  {
    name: 'min/6.12/_all.btf',
    bytes: copy(readFileSync(join(CORPUS, 'expected/min/6.12.111+deb12-cloud-amd64/_all.btf'))),
  },
  {
    name: 'min/5.10/biosnoop.btf',
    bytes: copy(readFileSync(join(CORPUS, 'expected/min/5.10.0-32-amd64/biosnoop.btf'))),
  },
];

// The same BTF in the other header form and the other byte order: the 32-byte header
// (layout_off/layout_len) and big-endian records take their own decoding paths.
const opensnoop = decodeBtf((samples[0] as (typeof samples)[number]).bytes);
const otherForms: { name: string; bytes: Uint8Array }[] = [
  { name: 'opensnoop.bpf.o:.BTF (hdr_len 32)', bytes: encodeBtf(opensnoop, { hdrLen: 32 }) },
  { name: 'opensnoop.bpf.o:.BTF (big-endian)', bytes: encodeBtf(opensnoop, { littleEndian: false }) },
  {
    name: 'opensnoop.bpf.o:.BTF (big-endian, hdr_len 32)',
    bytes: encodeBtf(opensnoop, { littleEndian: false, hdrLen: 32 }),
  },
];

/**
 * Decodes; on failure the error must be ours and attributed, with an offset ≥ 0 that is
 * either within the input (at most its length: the end is where missing bytes would start)
 * or, for data the header places past the end, a TRUNCATED error whose message states where
 * the data ends: the input's own length. Every TRUNCATED message states that end.
 */
function decodeOrTypedError(name: string, bytes: Uint8Array, base?: Btf): Btf | undefined {
  try {
    return decodeBtf(bytes, { file: name, base });
  } catch (e) {
    if (!(e instanceof BtfkitError))
      throw new Error(`${name}: not a BtfkitError: ${(e as Error)?.stack ?? e}`);
    expect(e.file).toBe(name);
    // The offset is where the expected data sits or should sit (for a section the header
    // places past the end of the file, that is past the end).
    expect(Number.isInteger(e.offset)).toBe(true);
    expect(e.offset).toBeGreaterThanOrEqual(0);
    expect(e.detail.length).toBeGreaterThan(10);
    const end = /the data ends at offset (\d+)$/.exec(e.message);
    if (e.code === 'TRUNCATED') expect(end, e.message).not.toBeNull();
    if ((e.offset as number) > bytes.length) {
      expect(e.code, e.message).toBe('TRUNCATED');
      expect(Number(end?.[1]), e.message).toBe(bytes.length);
    }
    return undefined;
  }
}

/** Whatever decodes must survive the rest of the pipeline. */
function exercise(btf: Btf, withC = true): void {
  dumpRaw(btf);
  // The C printer may refuse a type graph C cannot spell, but only with a BtfkitError.
  // (Not for split BTF here: its header would reprint the whole base kernel every case.)
  if (withC) {
    try {
      dumpC(btf);
    } catch (e) {
      if (!(e instanceof BtfkitError))
        throw new Error(`dumpC: not a BtfkitError: ${(e as Error)?.stack ?? e}`);
    }
  }
  const again = decodeBtf(encodeBtf(btf), { file: 'reencoded', base: btf.base });
  expect(again.types.length).toBe(btf.types.length);
}

describe('fuzz: decodeBtf on damaged real BTF', () => {
  it.each(samples)('truncations of $name', ({ name, bytes }) => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (n) => {
        const cut = bytes.slice(0, n);
        const btf = decodeOrTypedError(name, cut);
        // A header that still claims the full sections cannot decode from fewer bytes.
        expect(btf).toBeUndefined();
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it.each(samples)('byte mutations of $name', ({ name, bytes }) => {
    const mutation = fc.array(
      fc.record({ at: fc.nat({ max: bytes.length - 1 }), value: fc.nat({ max: 255 }) }),
      {
        minLength: 1,
        maxLength: 8,
      },
    );
    let decoded = 0;
    fc.assert(
      fc.property(mutation, (edits) => {
        const m = bytes.slice();
        for (const { at, value } of edits) m[at] = value;
        const btf = decodeOrTypedError(name, m);
        if (btf) {
          decoded++;
          exercise(btf);
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
    // Most single-byte damage lands in names and ids and still decodes: both paths ran.
    expect(decoded).toBeGreaterThan(0);
    expect(decoded).toBeLessThan(2000);
  });

  it.each(otherForms)('truncations of $name', ({ name, bytes }) => {
    // The re-encoding itself decodes back to the same types: the damage below is all there is.
    const again = decodeBtf(bytes);
    expect(again.types.length).toBe(opensnoop.types.length);
    expect([again.littleEndian, again.header?.hdrLen]).toEqual([
      !name.includes('big-endian'),
      name.includes('hdr_len 32') ? 32 : 24,
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (n) => {
        expect(decodeOrTypedError(name, bytes.slice(0, n))).toBeUndefined();
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it.each(otherForms)(
    'byte mutations of $name (header and first records, and anywhere)',
    ({ name, bytes }) => {
      const edits = (max: number) =>
        fc.array(fc.record({ at: fc.nat({ max }), value: fc.nat({ max: 255 }) }), {
          minLength: 1,
          maxLength: 6,
        });
      let decoded = 0;
      let failed = 0;
      fc.assert(
        fc.property(fc.oneof(edits(32 + 12 * 40), edits(bytes.length - 1)), (changes) => {
          const m = bytes.slice();
          for (const { at, value } of changes) m[at] = value;
          const btf = decodeOrTypedError(name, m);
          if (btf) {
            decoded++;
            exercise(btf);
          } else failed++;
        }),
        { seed: SEED, numRuns: 1500 },
      );
      expect(decoded).toBeGreaterThan(0);
      expect(failed).toBeGreaterThan(0);
    },
  );

  it('mutations of the header and first records (where counts and lengths live)', () => {
    const { name, bytes } = samples[0] as (typeof samples)[number];
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: 24 + 12 * 40 }), value: fc.nat({ max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const m = bytes.slice();
          for (const { at, value } of edits) m[at] = value;
          const btf = decodeOrTypedError(name, m);
          if (btf) exercise(btf);
        },
      ),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('a claimed vlen of 0xffffff with a few bytes is refused before allocating', () => {
    const { bytes } = samples[0] as (typeof samples)[number];
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const typeStart = 24 + v.getUint32(8, true);
    // Find the first STRUCT and claim 16M members for it; 16M × 12 bytes are not there.
    let at = typeStart;
    const decoded = decodeBtf(bytes);
    for (const t of decoded.types) {
      if (t.kind === Kind.Struct) break;
      at += recordSize(t);
    }
    const m = bytes.slice();
    const mv = new DataView(m.buffer);
    mv.setUint32(at + 4, ((mv.getUint32(at + 4, true) & 0xff000000) | 0xffffff) >>> 0, true);
    const before = process.memoryUsage().heapUsed;
    let err: unknown;
    try {
      decodeBtf(m, { file: 'huge-vlen' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BtfkitError);
    expect((err as BtfkitError).code).toBe('TRUNCATED');
    expect((err as BtfkitError).offset).toBe(at + 12);
    expect((err as BtfkitError).detail).toContain('16777215 members');
    // 16M members would be hundreds of MB; allow only noise.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(32 << 20);
  });

  it('split BTF: mutations of a module over its kernel', () => {
    const kernels = extractKernels();
    try {
      const base = decodeBtf(readFileSync(kernels.raw.get(MODULES_KERNEL) as string));
      const name = 'veth.btf';
      const mod = copy(readFileSync(join(CORPUS, 'modules', MODULES_KERNEL, name)));
      fc.assert(
        fc.property(
          fc.array(fc.record({ at: fc.nat({ max: mod.length - 1 }), value: fc.nat({ max: 255 }) }), {
            minLength: 1,
            maxLength: 6,
          }),
          (edits) => {
            const m = mod.slice();
            for (const { at, value } of edits) m[at] = value;
            const btf = decodeOrTypedError(name, m, base);
            if (btf) exercise(btf, false);
          },
        ),
        { seed: SEED, numRuns: 1500 },
      );
    } finally {
      kernels.cleanup();
    }
  });
});
