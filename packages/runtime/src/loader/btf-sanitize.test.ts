// BTF feature probes against the running kernel's release, and sanitized BTF for kernels
// without some kinds: the kernel must accept it and find none of the missing kinds in it.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Btf, encodeBtf, Kind, parseBpfObject } from '../deps.ts';
import { btfLoad, closeFd } from '../sys/bpf.ts';
import { fixupBtf } from './btf-fixup.ts';
import { ALL_FEATURES, type BtfFeatures, probeBtfFeatures, sanitizeBtf } from './btf-sanitize.ts';
import { collectExterns } from './externs.ts';

const FIXTURES = join(import.meta.dirname, '../../../../test/fixtures/runtime');

function objectBtf(file: string): Btf {
  const obj = parseBpfObject(new Uint8Array(readFileSync(join(FIXTURES, file))), file);
  return fixupBtf(obj, collectExterns(obj, obj.btf));
}

/** The kernel version each BTF kind arrived in (Documentation/bpf/btf.rst history). */
const SINCE: Record<keyof BtfFeatures, [number, number]> = {
  func: [5, 0],
  globalFunc: [5, 6],
  datasec: [5, 2],
  float: [5, 13],
  declTag: [5, 16],
  typeTag: [5, 17],
  enum64: [6, 0],
};

const KINDS_GONE: Record<keyof BtfFeatures, number[]> = {
  func: [Kind.Func, Kind.FuncProto],
  globalFunc: [],
  datasec: [Kind.Var, Kind.Datasec],
  float: [Kind.Float],
  declTag: [Kind.DeclTag],
  typeTag: [Kind.TypeTag],
  enum64: [Kind.Enum64],
};

describe('BTF feature probes', () => {
  it('find every kind the running kernel release has', () => {
    const [maj, min] = release().split('.').map(Number) as [number, number];
    const expected = Object.fromEntries(
      Object.entries(SINCE).map(([k, [a, b]]) => [k, maj > a || (maj === a && min >= b)]),
    );
    expect(probeBtfFeatures()).toEqual(expected);
  });
});

describe('sanitized BTF', () => {
  // The feature sets real kernels have: each release before a kind arrived.
  const releases: [number, number][] = [
    [4, 18],
    [5, 0],
    [5, 2],
    [5, 6],
    [5, 13],
    [5, 16],
    [5, 17],
  ];
  const cases: [string, Partial<BtfFeatures>][] = releases.map(([a, b]) => [
    `kernel ${a}.${b}`,
    Object.fromEntries(
      Object.entries(SINCE)
        .filter(([, [x, y]]) => x > a || (x === a && y > b))
        .map(([k]) => [k, false]),
    ) as Partial<BtfFeatures>,
  ]);
  for (const file of ['btfkinds.bpf.o', 'exectrace.bpf.o']) {
    it.each(cases)(`${file}, %s: the kernel accepts it and it has none of those kinds`, (_name, missing) => {
      const btf = objectBtf(file);
      const f = { ...ALL_FEATURES, ...missing };
      const out = sanitizeBtf(btf, f);
      const gone = (Object.keys(missing) as (keyof BtfFeatures)[]).flatMap((k) => KINDS_GONE[k]);
      expect(out.types.filter((t) => gone.includes(t.kind)).map((t) => t.kind)).toEqual([]);
      if (missing.globalFunc === false)
        expect(out.types.some((t) => t.kind === Kind.Func && t.linkage !== 0)).toBe(false);
      // Type ids are kept: every original type is still at its id.
      expect(out.types.length).toBeGreaterThanOrEqual(btf.types.length);
      closeFd(btfLoad(encodeBtf(out, { hdrLen: 24 })));
    });
  }

  it('leaves the BTF alone when the kernel has every kind', () => {
    const btf = objectBtf('btfkinds.bpf.o');
    expect(sanitizeBtf(btf, ALL_FEATURES)).toBe(btf);
    closeFd(btfLoad(encodeBtf(btf)));
  });
});
