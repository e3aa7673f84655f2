import { describe, expect, it } from 'vitest';
import { essentialName } from './names.ts';

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
