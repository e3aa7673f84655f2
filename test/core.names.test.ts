import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { essentialName, parseAccessString, typesByEssentialName } from '../packages/core/src/core/index.ts';
import { isDeclarationKind } from '../packages/core/src/core/names.ts';
import { parseAccessStringScanf } from '../packages/core/src/core/spec.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { kernelArchives } from './fixtures/btf/corpus.ts';

// libbpf's flavor rule (core-reference.md §3.3): the essential name ends before the last
// `___` that has a non-underscore character on each side.
describe('essential names', () => {
  it.each([
    ['task_struct', 'task_struct'],
    ['task_struct___old', 'task_struct'],
    ['a___b', 'a'],
    ['a___b___c', 'a___b'],
    ['a____b', 'a____b'],
    ['a___', 'a___'],
    ['ab___c___', 'ab'],
    ['_u___v', '_u'],
    ['___x', '___x'],
    ['x___y_', 'x'],
    ['a__b', 'a__b'],
    ['abcd', 'abcd'],
    ['', ''],
  ])('%s → %s', (name, ess) => {
    expect(essentialName(name)).toBe(ess);
  });
});

// bpf_core_parse_spec reads numbers with C's %d, separated by single colons.
describe('access strings', () => {
  it('parses what libbpf parses', () => {
    expect(parseAccessString('0')).toEqual([0]);
    expect(parseAccessString('0:1:2')).toEqual([0, 1, 2]);
    expect(parseAccessString('0:-1')).toEqual([0, -1]);
    expect(parseAccessString('0: 3')).toEqual([0, 3]);
    expect(parseAccessString('0:+3')).toEqual([0, 3]);
    expect(parseAccessString('0 1')).toEqual([0, 1]);
    expect(parseAccessString(Array(64).fill('1').join(':'))).toHaveLength(64);
  });

  it('the plain-digits reading answers what the scanf reading answers, on any mix of digits, colons, signs and blanks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('0', '1', '7', '9', ':', ':', '-', '+', ' '), { maxLength: 24 }),
        fc.nat({ max: 12 }),
        (chars, long) => {
          // Sometimes one index of 9-11 digits, around where an int overflows.
          const s = long > 8 ? `${chars.join('')}${'21474836489'.slice(0, long - 1)}` : chars.join('');
          expect(parseAccessString(s)).toEqual(parseAccessStringScanf(s));
        },
      ),
      { seed: 20261125, numRuns: 3000 },
    );
    expect(parseAccessString('2147483648')).toEqual([-2147483648]);
  });

  it.each([
    ['', -22],
    [':0', -22],
    ['0:', -22],
    ['0::1', -22],
    ['0:x', -22],
    ['a', -22],
    [Array(65).fill('1').join(':'), -7],
  ])('rejects %j with errno %d', (s, errno) => {
    const r = parseAccessString(s);
    expect(Array.isArray(r)).toBe(false);
    expect(r).toMatchObject({ errno });
  });
});

// The essential-name index hashes raw string bytes; it must answer exactly what a scan of the
// same BTF comparing essential names (as defined above) answers, for every named type.
describe('essential-name index', () => {
  const sources = [
    join(import.meta.dirname, 'fixtures/core/obj/target_a.o'),
    join(import.meta.dirname, 'fixtures/core/obj/target_b.o'),
    kernelArchives()[0] as string,
  ];
  for (const src of sources) {
    it(`equals a scan on ${src.split('/').pop()}`, () => {
      const btf = readBtfSourceSync(src).btf;
      const scan = new Map<string, { types: number[]; declarations: number[] }>();
      for (let id = 1; id < btf.typeCount; id++) {
        const name = btf.name(id);
        if (name === '') continue;
        const ess = essentialName(name);
        let e = scan.get(ess);
        if (!e) {
          e = { types: [], declarations: [] };
          scan.set(ess, e);
        }
        (isDeclarationKind(btf.type(id).kind) ? e.declarations : e.types).push(id);
      }
      expect(scan.size).toBeGreaterThan(10);
      for (const [ess, want] of scan) {
        expect(typesByEssentialName(btf, ess, 'types'), ess).toEqual(want.types);
        expect(typesByEssentialName(btf, ess, 'declarations'), ess).toEqual(want.declarations);
        expect(typesByEssentialName(btf, ess), ess).toEqual(
          [...want.types, ...want.declarations].sort((a, b) => a - b),
        );
      }
      expect(typesByEssentialName(btf, 'no_such_type___anywhere')).toEqual([]);
    });
  }
  it('finds flavors by their essential name', () => {
    const btf = readBtfSourceSync(sources[0] as string).btf;
    const names = typesByEssentialName(btf, 'fl').map((id) => btf.name(id));
    expect(names).toEqual(['fl', 'fl___v1']);
  });
});
