import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInsns, InsnObjects } from '../insn/decoded.ts';
import { Insns } from '../insn/insns.ts';
import { BPF_B, BPF_DW, BPF_H, BPF_LDX, BPF_MEM, BPF_W, INSN_SIZE, LD_IMM64_CODE } from '../insn/opcodes.ts';
import { poisonRelocated, resizeAccess, writePatch } from './patch.ts';

// One patch function serves the engine's byte view and compat's decoded copy. Whatever it
// writes, the two must end up holding the same instructions, in either byte order: the byte
// view's words are struct bpf_insn's fields, so each field keeps its C width (off s16, imm s32).

const code = fc.integer({ min: 0, max: 255 });
const insn = fc.tuple(code, fc.nat(15), fc.nat(15), fc.integer({ min: -32768, max: 32767 }), fc.integer());
const value = fc.bigInt({ min: -(1n << 64n), max: 1n << 64n });

function encode(list: [number, number, number, number, number][], littleEndian: boolean): Uint8Array {
  const bytes = new Uint8Array(list.length * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  list.forEach(([c, dst, src, off, imm], i) => {
    view.setUint8(i * INSN_SIZE, c);
    view.setUint8(i * INSN_SIZE + 1, littleEndian ? (src << 4) | dst : (dst << 4) | src);
    view.setInt16(i * INSN_SIZE + 2, off, littleEndian);
    view.setInt32(i * INSN_SIZE + 4, imm, littleEndian);
  });
  return bytes;
}

describe('writePatch and poisonRelocated', () => {
  it('write the same instructions into bytes and into decoded objects', () => {
    fc.assert(
      fc.property(
        fc.array(insn, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.nat(),
        fc.constantFrom('imm', 'off', 'imm64', 'poison') as fc.Arbitrary<'imm' | 'off' | 'imm64' | 'poison'>,
        value,
        fc.constantFrom(undefined, 1, 2, 4, 8),
        (list, le, at, field, to, memSize) => {
          const i = at % list.length;
          const bytes = encode(list, le);
          const objects = new InsnObjects(decodeInsns(bytes, le));
          const view = new Insns(bytes, le);
          if (field === 'poison') {
            expect(poisonRelocated(objects, i)).toEqual(poisonRelocated(view, i));
          } else {
            writePatch(view, i, field, to, memSize);
            writePatch(objects, i, field, to, memSize);
          }
          expect(objects.list).toEqual(decodeInsns(bytes, le));
        },
      ),
      { seed: 20261203, numRuns: 2000 },
    );
  });

  it('poisons both slots of an LD_IMM64, second first, and only the one slot of anything else', () => {
    const bytes = encode(
      [
        [LD_IMM64_CODE, 1, 0, 0, 7],
        [0, 0, 0, 0, 0],
        [BPF_LDX | BPF_MEM | BPF_W, 1, 2, 8, 0],
      ],
      true,
    );
    const view = new Insns(bytes, true);
    expect(poisonRelocated(view, 0)).toEqual([1, 0]);
    expect(poisonRelocated(view, 2)).toEqual([2]);
    // libbpf's bad-relo call: code 0x85, helper 0xbad2310 (195896080).
    for (const i of [0, 1, 2]) expect([view.code(i), view.imm(i)]).toEqual([0x85, 195896080]);
  });
});

describe('resizeAccess', () => {
  it.each([
    [1, BPF_B],
    [2, BPF_H],
    [4, BPF_W],
    [8, BPF_DW],
  ])('gives a load %d bytes, keeping its mode and class', (bytes, size) => {
    const view = new Insns(encode([[BPF_LDX | BPF_MEM | BPF_DW, 1, 2, 8, 0]], true), true);
    expect(resizeAccess(view, 0, bytes)).toBe(true);
    expect(view.code(0)).toBe(BPF_LDX | BPF_MEM | size);
  });

  it('refuses a width no load has, writing nothing', () => {
    const view = new Insns(encode([[BPF_LDX | BPF_MEM | BPF_DW, 1, 2, 8, 0]], true), true);
    expect(resizeAccess(view, 0, 3)).toBe(false);
    expect(view.code(0)).toBe(BPF_LDX | BPF_MEM | BPF_DW);
  });
});
