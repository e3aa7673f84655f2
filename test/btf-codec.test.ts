/**
 * The BTF codec against real files: decode → encode is the identity on every corpus BTF;
 * re-encoded fixtures in both byte orders and both header forms read back the same and are
 * read the same by bpftool; split BTF; the wide vlen/kind masks; a kind only the layout
 * section describes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Btf,
  type BtfType,
  type CompositeType,
  decodeBtf,
  encodeBtf,
  Kind,
  type LayoutEntry,
  StringTableBuilder,
  UNKNOWN_KIND,
} from '../packages/core/src/btf/index.ts';
import { dumpRaw } from '../packages/core/src/dump/raw.ts';
import { BtfkitError } from '../packages/core/src/errors/index.ts';
import {
  bpftool,
  CORPUS,
  kernelArchives,
  MODULES_KERNEL,
  minBtfFiles,
  moduleFiles,
  objectFiles,
  readBtfOfObject,
  releaseOf,
  useKernelsAndScratch,
} from './fixtures/btf/corpus.ts';

const corpus = useKernelsAndScratch('btfkit-codec-');

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** The kernel's layout section as the reference describes it (kind → info_sz, elem_sz). */
const KERNEL_LAYOUT: [number, number][] = [
  [0, 0],
  [4, 0],
  [0, 0],
  [12, 0],
  [0, 12],
  [0, 12],
  [0, 8],
  [0, 0],
  [0, 0],
  [0, 0],
  [0, 0],
  [0, 0],
  [0, 0],
  [0, 8],
  [4, 0],
  [0, 12],
  [0, 0],
  [4, 0],
  [0, 0],
  [0, 12],
];
function layoutWith(extra: Record<number, [number, number]>): LayoutEntry[] {
  const n = Math.max(KERNEL_LAYOUT.length, ...Object.keys(extra).map((k) => Number(k) + 1));
  const out: LayoutEntry[] = [];
  for (let k = 0; k < n; k++) {
    const [infoSz, elemSz] = extra[k] ?? KERNEL_LAYOUT[k] ?? [0, 0];
    out.push({ infoSz, elemSz, flags: 0 });
  }
  return out;
}

describe('decode → encode is the identity', () => {
  it.each(kernelArchives().map(releaseOf))('kernel %s', (release) => {
    const bytes = readFileSync(corpus.raw.get(release) as string);
    const btf = decodeBtf(bytes, { file: release });
    expect(btf.types.length).toBeGreaterThan(70_000);
    expect(same(encodeBtf(btf), bytes)).toBe(true);
  });

  it('every corpus object .BTF and every expected/min BTF', () => {
    const blobs = [
      ...objectFiles().map((f) => [f, readBtfOfObject(f)] as const),
      ...minBtfFiles().map((f) => [f, readFileSync(f)] as const),
    ];
    expect(blobs.length).toBe(41 + 294);
    for (const [f, bytes] of blobs) {
      const btf = decodeBtf(bytes, { file: f });
      expect(same(encodeBtf(btf), bytes), f).toBe(true);
    }
  });

  it.each(moduleFiles())('split BTF %s over its kernel', (mod) => {
    const base = decodeBtf(readFileSync(corpus.raw.get(MODULES_KERNEL) as string));
    const bytes = readFileSync(mod);
    const btf = decodeBtf(bytes, { file: mod, base });
    expect(btf.startId).toBe(base.typeCount);
    expect(btf.startStrOff).toBe(base.strings.length);
    // Split BTF refers into the base: some own type must use a base id.
    const usesBase = btf.types.some(
      (t) => 'type' in t && typeof t.type === 'number' && t.type > 0 && t.type < btf.startId,
    );
    expect(usesBase).toBe(true);
    expect(same(encodeBtf(btf), bytes)).toBe(true);
    // Names resolve through the base for base string offsets.
    expect(btf.byName('task_struct')).toEqual(base.byName('task_struct'));
  });
});

describe('byte orders and header forms', () => {
  const source = join(CORPUS, 'expected/min', MODULES_KERNEL, '_all.btf');
  const le = () => decodeBtf(readFileSync(source), { file: source });
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(corpus.scratch, name);
    writeFileSync(p, bytes);
    return p;
  };

  it('big-endian 24-byte header: same types; bpftool reads it as it reads the original', () => {
    const x = le();
    const be = encodeBtf(x, { littleEndian: false });
    expect([be[0], be[1], be[2]]).toEqual([0xeb, 0x9f, 1]);
    const y = decodeBtf(be, { file: 'be24' });
    expect(y.littleEndian).toBe(false);
    expect(y.types).toEqual(x.types);
    const reference = bpftool(['btf', 'dump', 'file', source]);
    expect(bpftool(['btf', 'dump', 'file', write('be24.btf', be)]).equals(reference)).toBe(true);
    expect(dumpRaw(y).equals(reference)).toBe(true);
    // And back to little-endian: the original bytes.
    expect(same(encodeBtf(y, { littleEndian: true }), readFileSync(source))).toBe(true);
  });

  it('32-byte header (layout fields, no layout): same types, bpftool 7.1 reads the LE form', () => {
    const x = le();
    const le32 = encodeBtf(x, { hdrLen: 32 });
    const y = decodeBtf(le32, { file: 'le32' });
    expect(y.header?.hdrLen).toBe(32);
    expect(y.types).toEqual(x.types);
    const reference = bpftool(['btf', 'dump', 'file', source]);
    expect(bpftool(['btf', 'dump', 'file', write('le32.btf', le32)]).equals(reference)).toBe(true);
    const be32 = encodeBtf(x, { hdrLen: 32, littleEndian: false });
    const z = decodeBtf(be32, { file: 'be32' });
    expect(z.types).toEqual(x.types);
    expect(dumpRaw(z).equals(reference)).toBe(true);
    expect(same(encodeBtf(z), be32)).toBe(true);
  });

  it.each([true, false])('layout section skips an unknown kind 20 (little-endian: %s)', (littleEndian) => {
    const x = le();
    const strings = new Uint8Array([...x.strings, ...Buffer.from('future\0')]);
    // Kind 20 with a 4-byte info part and 8-byte elements, vlen 3: 12 + 4 + 24 bytes.
    const trailing = new Uint8Array(4 + 3 * 8).map((_, i) => i + 1);
    const unknown: BtfType = {
      kind: UNKNOWN_KIND,
      rawKind: 20,
      nameOff: x.strings.length,
      kflag: false,
      vlen: 3,
      sizeOrType: 7,
      trailing,
    };
    const firstStruct = x.types.findIndex((t) => t.kind === Kind.Struct);
    // The unknown record sits in the middle; later ids shift by one, so compare around it.
    const types = [...x.types.slice(0, firstStruct), unknown, ...x.types.slice(firstStruct)];
    const withLayout = new Btf({ types, strings, littleEndian, layout: layoutWith({ 20: [4, 8] }) });
    const bytes = encodeBtf(withLayout, { hdrLen: 32 });
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(4, littleEndian)).toBe(32);
    expect(view.getUint32(28, littleEndian)).toBe(21 * 4);
    const y = decodeBtf(bytes, { file: 'layout' });
    expect(y.layout?.[20]).toEqual({ infoSz: 4, elemSz: 8, flags: 0 });
    const u = y.types[firstStruct];
    expect(u?.kind).toBe(UNKNOWN_KIND);
    expect(
      u && u.kind === UNKNOWN_KIND ? [u.rawKind, u.vlen, u.sizeOrType, [...u.trailing]] : undefined,
    ).toEqual([20, 3, 7, [...trailing]]);
    expect(y.types.slice(firstStruct + 1)).toEqual(x.types.slice(firstStruct));
    expect(y.type(firstStruct + 2)).toEqual(x.type(firstStruct + 1));
    expect(same(encodeBtf(y), bytes)).toBe(true);
    // Without the layout entry the same record is refused with its offset.
    const noLayout = encodeBtf(new Btf({ types, strings, littleEndian }), { hdrLen: 24 });
    let err: unknown;
    try {
      decodeBtf(noLayout, { file: 'nolayout' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BtfkitError);
    const unknownAt =
      24 +
      x.types
        .slice(0, firstStruct)
        .reduce(
          (n, t) =>
            n + encodeBtf(new Btf({ types: [t], strings, littleEndian })).length - 24 - strings.length,
          0,
        );
    expect((err as BtfkitError).offset).toBe(unknownAt + 4);
    expect((err as BtfkitError).file).toBe('nolayout');
  });
});

describe('wide masks (24-bit vlen, 7-bit kind)', () => {
  it('a struct with 70,000 members and a kind-100 record round-trip', () => {
    const st = new StringTableBuilder();
    const intName = st.add('int');
    const sName = st.add('big');
    const members = Array.from({ length: 70_000 }, (_, i) => ({
      nameOff: st.add(`m${i}`),
      type: 1,
      bitOffset: i * 32,
      bitfieldSize: 0,
    }));
    const big: CompositeType = { kind: Kind.Struct, nameOff: sName, kflag: false, size: 70_000 * 4, members };
    const k100: BtfType = {
      kind: UNKNOWN_KIND,
      rawKind: 100,
      nameOff: 0,
      kflag: true,
      vlen: 0x12345,
      sizeOrType: 1,
      trailing: new Uint8Array(0),
    };
    const types: BtfType[] = [
      { kind: Kind.Int, nameOff: intName, kflag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      big,
      k100,
    ];
    for (const littleEndian of [true, false]) {
      const btf = new Btf({ types, strings: st.finish(), littleEndian, layout: layoutWith({ 100: [0, 0] }) });
      const bytes = encodeBtf(btf, { hdrLen: 32 });
      const info = new DataView(bytes.buffer).getUint32(32 + 16 + 4, littleEndian);
      expect(info & 0xffffff).toBe(70_000);
      const y = decodeBtf(bytes, { file: 'wide' });
      expect((y.type(2) as CompositeType).members.length).toBe(70_000);
      expect(y.type(2)).toEqual(big);
      expect(y.type(3)).toEqual(k100);
      expect(same(encodeBtf(y), bytes)).toBe(true);
    }
  });
});
