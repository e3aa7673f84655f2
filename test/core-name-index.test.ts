/**
 * The essential-name index built by WebAssembly (core/name-index.ts) against the JavaScript
 * loop (core/names.ts buildIndexJs) it stands in for: the same arrays for both groups of every
 * corpus kernel and object, and a BTF whose names are all flavors, separators and edge cases.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Btf, type BtfType, decodeBtf, encodeBtf, Kind } from '../packages/core/src/btf/index.ts';
import { buildIndexWasm } from '../packages/core/src/core/name-index.ts';
import { buildIndexJs, type NameGroup } from '../packages/core/src/core/names.ts';
import { objectFiles, readBtfOfObject, useKernelsAndScratch } from './fixtures/btf/corpus.ts';

const corpus = useKernelsAndScratch('btfkit-name-index-');

function expectSameIndex(btf: Btf, what: string): void {
  for (const group of ['types', 'declarations'] as NameGroup[]) {
    const fast = buildIndexWasm(btf, group === 'declarations');
    expect(fast, what).toBeDefined();
    const js = buildIndexJs(btf, group);
    expect(fast?.mask, what).toBe(js.mask);
    for (const k of ['head', 'next', 'hash', 'len'] as const) {
      expect(
        Buffer.from((fast as NonNullable<typeof fast>)[k].buffer).equals(Buffer.from(js[k].buffer)),
        `${what} ${group} ${k}`,
      ).toBe(true);
    }
  }
}

describe('essential-name index: WebAssembly = JavaScript', () => {
  it('every corpus kernel, both groups', () => {
    for (const [release, path] of corpus.raw)
      expectSameIndex(decodeBtf(readFileSync(path), { file: path }), release);
  });

  it('a kernel indexed after another BTF was scanned (its words copied in again)', () => {
    const [first, second] = [...corpus.raw.values()];
    const a = decodeBtf(readFileSync(first as string), { file: first });
    decodeBtf(readFileSync(second as string), { file: second });
    expectSameIndex(a, `${first} after ${second}`);
  });

  it('every corpus object, both groups', () => {
    for (const f of objectFiles()) expectSameIndex(decodeBtf(readBtfOfObject(f), { file: f }), f);
  });

  it('names with flavors, runs of underscores and separators at the ends, in both groups', () => {
    const names = [
      'task_struct',
      'task_struct___x',
      'task_struct___x___y',
      'a___b',
      'a____b',
      '___a',
      'a___',
      'a___b___',
      '_',
      '__',
      'x___y___z___w',
      'u32___',
      'q___1',
    ];
    // The last name ends the section: the separator test looks past its NUL at nothing.
    const text = `\0${names.join('\0')}\0tail___c\0`;
    const strings = Buffer.from(text, 'latin1');
    const off = (n: string) => text.indexOf(`\0${n}\0`) + 1;
    const types: BtfType[] = [
      ...names.map(
        (n): BtfType => ({ kind: Kind.Struct, nameOff: off(n), kflag: false, size: 0, members: [] }),
      ),
      { kind: Kind.Typedef, nameOff: text.indexOf('tail___c'), kflag: false, type: 1 },
      { kind: Kind.FuncProto, nameOff: 0, kflag: false, type: 0, params: [] },
      { kind: Kind.Func, nameOff: off('a___b'), kflag: false, type: names.length + 2, linkage: 1 },
      { kind: Kind.Var, nameOff: off('q___1'), kflag: false, type: 1, linkage: 1 },
    ];
    const btf = new Btf({ types, strings, littleEndian: true });
    expectSameIndex(decodeBtf(encodeBtf(btf), { file: 'names' }), 'names');
  });
});
