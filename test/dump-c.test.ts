/**
 * `btfkit dump --format c` against `bpftool btf dump file F format c` (bpftool 7.1.0) byte
 * for byte, and the header against clang: it compiles for BPF, and (with layoutFixes, since
 * bpftool 7.1 drops the size of 1-byte enums) struct sizes and member offsets seen by the
 * compiler equal those in the kernel's BTF.
 */
import { execFileSync } from 'node:child_process';
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
} from '../packages/core/src/btf/index.ts';
import { dumpC } from '../packages/core/src/dump/c.ts';
import { BtfkitError } from '../packages/core/src/errors/index.ts';
import {
  bpftool,
  expectSame,
  kernelArchives,
  MODULES_KERNEL,
  minBtfFiles,
  moduleFiles,
  objectFiles,
  readBtfOfObject,
  releaseOf,
  useKernelsAndScratch,
} from './fixtures/btf/corpus.ts';

const corpus = useKernelsAndScratch('btfkit-dumpc-');

const TAG_KINDS = new Set<number>([Kind.Struct, Kind.Union, Kind.Enum, Kind.Enum64, Kind.Fwd]);

/**
 * Up to `max` structs whose name no other struct/union/enum/fwd shares (so the header uses
 * it unsuffixed), spread over the id range, plus well-known ones; with their named,
 * non-bitfield members.
 */
function sampleStructs(
  btf: Btf,
  max: number,
): { name: string; size: number; members: { name: string; byteOff: number }[] }[] {
  const candidates: number[] = [];
  for (let i = 0; i < btf.types.length; i++) {
    const t = btf.types[i];
    if (t?.kind !== Kind.Struct || t.nameOff === 0) continue;
    const name = btf.str(t.nameOff);
    if (btf.byName(name).filter((id) => TAG_KINDS.has(btf.type(id).kind)).length !== 1) continue;
    candidates.push(btf.startId + i);
  }
  const step = Math.max(1, Math.floor(candidates.length / max));
  const picked = new Set(candidates.filter((_, i) => i % step === 0).slice(0, max));
  for (const well of ['task_struct', 'sk_buff', 'file', 'inode', 'mm_struct', 'sock', 'page', 'bpf_prog']) {
    const id = candidates.find((c) => btf.name(c) === well);
    if (id !== undefined) picked.add(id);
  }
  return [...picked].map((id) => {
    const t = btf.type(id) as CompositeType;
    return {
      name: btf.name(id),
      size: t.size,
      members: t.members
        .filter((m) => m.nameOff !== 0 && m.bitfieldSize === 0 && m.bitOffset % 8 === 0)
        .map((m) => ({ name: btf.str(m.nameOff), byteOff: m.bitOffset / 8 })),
    };
  });
}

describe('dump --format c = bpftool btf dump file F format c', () => {
  it.each(kernelArchives().map(releaseOf))(
    'kernel %s: same bytes; compiles with clang -target bpf; sizes/offsets match the BTF',
    (release) => {
      const path = corpus.raw.get(release) as string;
      const btf = decodeBtf(readFileSync(path), { file: path });
      const header = dumpC(btf);
      expectSame(header, bpftool(['btf', 'dump', 'file', path, 'format', 'c']), release);

      // bpftool 7.1's header compiles as is...
      const plain = join(corpus.scratch, `${release}-plain.h`);
      writeFileSync(plain, header);
      execFileSync('clang-19', ['-target', 'bpf', '-fsyntax-only', '-x', 'c', plain], { stdio: 'pipe' });
      // ...and with layoutFixes (mode() on odd-sized enums) the compiler's layout is the BTF's.
      const h = join(corpus.scratch, `${release}.h`);
      writeFileSync(h, dumpC(btf, { layoutFixes: true }));
      const structs = sampleStructs(btf, 60);
      expect(structs.length).toBeGreaterThan(50);
      const probe = [`#include "${h}"`];
      for (const s of structs) {
        probe.push(`_Static_assert(sizeof(struct ${s.name}) == ${s.size}, "size of ${s.name}");`);
        for (const m of s.members) {
          probe.push(
            `_Static_assert(__builtin_offsetof(struct ${s.name}, ${m.name}) == ${m.byteOff}, "${s.name}.${m.name}");`,
          );
        }
      }
      const c = join(corpus.scratch, `${release}-probe.c`);
      writeFileSync(c, `${probe.join('\n')}\n`);
      execFileSync(
        'clang-19',
        ['-target', 'bpf', '-O2', '-c', c, '-o', join(corpus.scratch, `${release}-probe.o`)],
        { stdio: 'pipe' },
      );
    },
  );

  it('every corpus object, every expected/min BTF and the all-kinds fixture', () => {
    const kindsObj = join(corpus.scratch, 'kinds.o');
    execFileSync('clang-19', [
      '-target',
      'bpf',
      '-g',
      '-O2',
      '-c',
      join(import.meta.dirname, 'fixtures/btf/kinds.c'),
      '-o',
      kindsObj,
    ]);
    const files = [...objectFiles(), ...minBtfFiles(), kindsObj];
    expect(files.length).toBe(41 + 294 + 1);
    for (const f of files) {
      const bytes = f.endsWith('.o') ? readBtfOfObject(f) : readFileSync(f);
      expectSame(dumpC(decodeBtf(bytes, { file: f })), bpftool(['btf', 'dump', 'file', f, 'format', 'c']), f);
    }
  });

  it.each(moduleFiles())('split module BTF %s with --base-btf', (mod) => {
    const basePath = corpus.raw.get(MODULES_KERNEL) as string;
    const base = decodeBtf(readFileSync(basePath));
    const btf = decodeBtf(readFileSync(mod), { file: mod, base });
    expectSame(dumpC(btf), bpftool(['btf', 'dump', 'file', mod, '--base-btf', basePath, 'format', 'c']), mod);
  });
});

describe('type graphs without a C spelling are refused, not looped on', () => {
  const strings = Buffer.from('\0T\0S\0m\0', 'latin1');
  const cases: [string, BtfType[]][] = [
    [
      'a typedef that reaches itself through a pointer',
      [
        { kind: Kind.Typedef, nameOff: 1, kflag: false, type: 2 },
        { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 1 },
      ],
    ],
    [
      'an anonymous struct that points to itself',
      [
        {
          kind: Kind.Struct,
          nameOff: 0,
          kflag: false,
          size: 8,
          members: [{ nameOff: 5, type: 2, bitOffset: 0, bitfieldSize: 0 }],
        },
        { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 1 },
      ],
    ],
    [
      'a named struct that contains itself by value',
      [
        {
          kind: Kind.Struct,
          nameOff: 3,
          kflag: false,
          size: 8,
          members: [{ nameOff: 5, type: 1, bitOffset: 0, bitfieldSize: 0 }],
        },
      ],
    ],
    [
      'a struct whose size asks for 2^31 bits of padding',
      [{ kind: Kind.Struct, nameOff: 3, kflag: false, size: 0x10000000, members: [] }],
    ],
  ];
  it.each(cases)('%s', (_what, types) => {
    const btf = new Btf({ types, strings, littleEndian: true });
    expect(() => dumpC(btf)).toThrow(BtfkitError);
  });

  it('a named struct that points to itself is fine (a linked list)', () => {
    const types: BtfType[] = [
      {
        kind: Kind.Struct,
        nameOff: 3,
        kflag: false,
        size: 8,
        members: [{ nameOff: 5, type: 2, bitOffset: 0, bitfieldSize: 0 }],
      },
      { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 1 },
    ];
    const path = join(corpus.scratch, 'list.btf');
    writeFileSync(path, encodeBtf(new Btf({ types, strings, littleEndian: true })));
    expectSame(
      dumpC(decodeBtf(readFileSync(path))),
      bpftool(['btf', 'dump', 'file', path, 'format', 'c']),
      path,
    );
  });
});
