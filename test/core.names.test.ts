import { describe, expect, it } from 'vitest';
import { essentialName, parseAccessString } from '../packages/core/src/core/index.ts';

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
