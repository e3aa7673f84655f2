import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Btf } from '../packages/core/src/btf/btf.ts';
import { decodeBtf } from '../packages/core/src/btf/decode.ts';
import { encodeBtf, StringTableBuilder } from '../packages/core/src/btf/encode.ts';
import { Kind } from '../packages/core/src/btf/kinds.ts';
import type { BtfType } from '../packages/core/src/btf/types.ts';
import { HOST_LITTLE_ENDIAN } from '../packages/core/src/bytes/reader.ts';
import { RelocationKind } from '../packages/core/src/core/kinds.ts';
import { emitMinimized } from '../packages/core/src/minimize/emit.ts';
import { MarkSet } from '../packages/core/src/minimize/marks.ts';
import { compileBpf } from './fixtures/clang.ts';

/**
 * The marking rules and the emitter, checked against bpftool itself on a small kernel BTF
 * built here and the fixture program test/fixtures/minimize/marks.bpf.c. The target specs
 * fed to the marker are the ones libbpf must find for that program against this BTF
 * (worked out by hand from the type ids below); bpftool runs its real CO-RE engine.
 */

const tmp = mkdtempSync(join(tmpdir(), 'btfkit-min-marks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function kernelBtf(): Btf {
  const s = new StringTableBuilder();
  const n = (x: string) => s.add(x);
  const int = (name: string, size: number, encoding: number): BtfType => ({
    kind: Kind.Int,
    nameOff: n(name),
    kflag: false,
    size,
    encoding,
    bitOffset: 0,
    bits: size * 8,
  });
  const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0) => ({
    nameOff: n(name),
    type,
    bitOffset,
    bitfieldSize,
  });
  const types: BtfType[] = [
    /* 1 */ int('unsigned int', 4, 0),
    /* 2 */ { kind: Kind.Struct, nameOff: n('unused'), kflag: false, size: 4, members: [m('z', 1, 0)] },
    /* 3 */ {
      kind: Kind.Struct,
      nameOff: n('task'),
      kflag: true,
      size: 48,
      members: [
        m('pid', 4, 0),
        m('flags', 1, 32, 2),
        m('state', 1, 34, 3),
        m('prio', 1, 37, 5),
        m('mm', 5, 64),
        m('comm', 6, 128),
        m('', 7, 192),
        m('parent', 8, 256),
        m('extra', 4, 320),
      ],
    },
    /* 4 */ int('int', 4, 1),
    /* 5 */ { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 9 },
    /* 6 */ { kind: Kind.Array, nameOff: 0, kflag: false, type: 10, indexType: 1, nelems: 8 },
    /* 7 */ { kind: Kind.Union, nameOff: 0, kflag: false, size: 8, members: [m('a', 4, 0), m('b', 11, 0)] },
    /* 8 */ { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 3 },
    /* 9 */ { kind: Kind.Struct, nameOff: n('mm'), kflag: false, size: 16, members: [m('start', 11, 0)] },
    /* 10 */ int('char', 1, 1),
    /* 11 */ { kind: Kind.Typedef, nameOff: n('u64'), kflag: false, type: 12 },
    /* 12 */ int('long long unsigned int', 8, 0),
    /* 13 */ {
      kind: Kind.Enum,
      nameOff: n('state_e'),
      kflag: false,
      size: 4,
      values: [
        { nameOff: n('S_A'), value: 0 },
        { nameOff: n('S_B'), value: 5 },
        { nameOff: n('S_C'), value: 7 },
      ],
    },
    /* 14 */ { kind: Kind.Typedef, nameOff: n('handler_t'), kflag: false, type: 15 },
    /* 15 */ { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 16 },
    /* 16 */ {
      kind: Kind.FuncProto,
      nameOff: 0,
      kflag: false,
      type: 4,
      params: [
        { nameOff: 0, type: 8 },
        { nameOff: 0, type: 11 },
      ],
    },
    /* 17 */ {
      kind: Kind.Struct,
      nameOff: n('pair'),
      kflag: false,
      size: 8,
      members: [m('x', 4, 0), m('y', 1, 32)],
    },
    /* 18 */ { kind: Kind.Func, nameOff: n('foo'), kflag: false, type: 16, linkage: 1 },
  ];
  return new Btf({ types, strings: s.finish(), littleEndian: true });
}

/** What libbpf resolves each relocation of marks.bpf.c to in kernelBtf(). */
const SPECS: [number, number, number[]][] = [
  [RelocationKind.FieldByteOffset, 3, [0, 0]], // t->pid
  [RelocationKind.FieldByteOffset, 3, [0, 3]], // t->prio (probed bitfield read: 4 relocations, same path)
  [RelocationKind.FieldByteSize, 3, [0, 3]],
  [RelocationKind.FieldLshiftU64, 3, [0, 3]],
  [RelocationKind.FieldRshiftU64, 3, [0, 3]],
  [RelocationKind.FieldByteOffset, 3, [0, 4]], // t->mm
  [RelocationKind.FieldByteOffset, 3, [0, 5, 3]], // t->comm[3]
  [RelocationKind.FieldByteOffset, 3, [0, 6, 1]], // t->b, through the anonymous union
  [RelocationKind.TypeExists, 14, [0]], // handler_t
  [RelocationKind.EnumvalValue, 13, [1]], // S_B
  [RelocationKind.TypeMatches, 17, [0]], // struct pair
];

function bpftoolMin(kernel: Uint8Array): Uint8Array {
  const obj = join(tmp, 'marks.bpf.o');
  compileBpf(join(__dirname, 'fixtures/minimize/marks.bpf.c'), obj);
  const kfile = join(tmp, 'kernel.btf');
  const out = join(tmp, 'min.btf');
  writeFileSync(kfile, kernel);
  execFileSync('bpftool', ['gen', 'min_core_btf', kfile, out, obj], { stdio: 'pipe' });
  return new Uint8Array(readFileSync(out));
}

describe('marking and emitting', () => {
  it('gives bpftool 7.1.0 bytes for a hand-built kernel and a program using every marking rule', () => {
    const kernel = kernelBtf();
    const expected = bpftoolMin(encodeBtf(kernel, { hdrLen: 24 }));
    // Sanity: bpftool kept all but `unused`, `mm` and `foo` (15 of 18 types).
    expect(decodeBtf(expected).types.length).toBe(15);
    const marks = new MarkSet(kernel);
    for (const [kind, rootId, raw] of SPECS) marks.record(kind, { rootId, raw });
    const ours = encodeBtf(emitMinimized(marks, HOST_LITTLE_ENDIAN), { hdrLen: 24 });
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
  });

  it('keeps a pointer member but turns its unneeded pointee into void', () => {
    const marks = new MarkSet(kernelBtf());
    marks.record(RelocationKind.FieldByteOffset, { rootId: 3, raw: [0, 4] });
    const out = emitMinimized(marks, true);
    // task, its mm member's PTR: the PTR is kept, struct mm (id 9) is not.
    expect(out.types.map((t) => t.kind)).toEqual([Kind.Struct, Kind.Ptr]);
    expect(out.types[1]).toMatchObject({ type: 0 });
  });
});
