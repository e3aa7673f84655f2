import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAccessString, parseAccessStringScanf } from './spec.ts';

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
