/**
 * `btfkit dump` (raw format) against bpftool 7.1.0 run on the same files: byte for byte.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, type BtfType, decodeBtf, encodeBtf, Kind } from '../packages/core/src/btf/index.ts';
import { dumpRaw as dumpWith } from '../packages/core/src/dump/raw.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/source.ts';
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
import { compileBpf } from './fixtures/clang.ts';

const corpus = useKernelsAndScratch('btfkit-dump-');

// Both printers: WebAssembly (dump/raw-wasm.ts, the default for decoded non-split BTF) and
// JavaScript (dump/raw.ts, the one split BTF and BTFs built from objects get).
describe.each(['wasm', 'js'] as const)('dump raw = bpftool btf dump file (%s printer)', (printer) => {
  const dumpRaw = (btf: Btf) => dumpWith(btf, { printer });

  it.each(kernelArchives().map(releaseOf))('kernel %s (raw BTF)', (release) => {
    const path = corpus.raw.get(release) as string;
    const btf = decodeBtf(readFileSync(path), { file: path });
    expectSame(dumpRaw(btf), bpftool(['btf', 'dump', 'file', path]), release);
  });

  it.each(kernelArchives().map((a) => [releaseOf(a), a]))(
    'kernel %s read as .btf.tar.xz (in memory)',
    (_release, archive) => {
      const { btf } = readBtfSourceSync(archive);
      const raw = corpus.raw.get(releaseOf(archive)) as string;
      expectSame(dumpRaw(btf), bpftool(['btf', 'dump', 'file', raw]), archive);
    },
  );

  it('every corpus object (.BTF of the ELF)', () => {
    const files = objectFiles();
    expect(files.length).toBe(41);
    for (const f of files) {
      const btf = decodeBtf(readBtfOfObject(f), { file: f });
      expectSame(dumpRaw(btf), bpftool(['btf', 'dump', 'file', f]), f);
    }
  });

  it('every BTF under expected/min (bpftool gen min_core_btf output)', () => {
    const files = minBtfFiles();
    expect(files.length).toBe(294);
    for (const f of files) {
      const btf = decodeBtf(readFileSync(f), { file: f });
      expectSame(dumpRaw(btf), bpftool(['btf', 'dump', 'file', f]), f);
    }
  });

  it.each(moduleFiles())('split module BTF %s over its kernel (--base-btf)', (mod) => {
    const basePath = corpus.raw.get(MODULES_KERNEL) as string;
    const base = decodeBtf(readFileSync(basePath), { file: basePath });
    const btf = decodeBtf(readFileSync(mod), { file: mod, base });
    expect(btf.startId).toBe(base.typeCount);
    expectSame(dumpRaw(btf), bpftool(['btf', 'dump', 'file', mod, '--base-btf', basePath]), mod);
  });

  it('every kind clang emits (decl/type tags, float, signed enum64, bitfields, extern var)', () => {
    const obj = join(corpus.scratch, 'kinds.o');
    compileBpf(join(import.meta.dirname, 'fixtures/btf/kinds.c'), obj);
    const btf = decodeBtf(readBtfOfObject(obj), { file: obj });
    const kinds = new Set(btf.types.map((t) => t.kind));
    for (const k of [
      Kind.DeclTag,
      Kind.TypeTag,
      Kind.Float,
      Kind.Enum64,
      Kind.Restrict,
      Kind.Fwd,
      Kind.Datasec,
    ]) {
      expect(kinds.has(k), `kind ${k}`).toBe(true);
    }
    expectSame(dumpRaw(btf), bpftool(['btf', 'dump', 'file', obj]), obj);
  });

  it('odd but readable records: raw name bytes, unknown linkage and INT encodings, legacy INT bitfields', () => {
    // Strings: names with bytes that are not UTF-8, and an offset into the middle of a name.
    const strings = Buffer.from('\0int\0caf\xe9\xff\0s\0f\0v\0e\0x\0', 'latin1');
    const off = (name: string) => strings.indexOf(Buffer.from(`\0${name}\0`, 'latin1')) + 1;
    const types: BtfType[] = [
      { kind: Kind.Int, nameOff: off('int'), kflag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      // Legacy bitfield INT (offset/bits inside the INT) and an encoding bpftool has no name for.
      { kind: Kind.Int, nameOff: off('int') + 1, kflag: false, size: 4, encoding: 8, bitOffset: 3, bits: 5 },
      {
        kind: Kind.Int,
        nameOff: off('caf\xe9\xff'),
        kflag: false,
        size: 1,
        encoding: 2,
        bitOffset: 0,
        bits: 8,
      },
      {
        kind: Kind.Struct,
        nameOff: off('s'),
        kflag: false,
        size: 8,
        members: [
          { nameOff: off('f'), type: 2, bitOffset: 3, bitfieldSize: 0 },
          { nameOff: 0, type: 1, bitOffset: 32, bitfieldSize: 0 },
        ],
      },
      { kind: Kind.FuncProto, nameOff: 0, kflag: false, type: 1, params: [] },
      { kind: Kind.Func, nameOff: off('f'), kflag: false, type: 5, linkage: 3 },
      { kind: Kind.Var, nameOff: off('v'), kflag: false, type: 1, linkage: 7 },
      {
        kind: Kind.Enum,
        nameOff: off('e'),
        kflag: false,
        size: 4,
        values: [{ nameOff: off('x'), value: 0xffffffff }],
      },
      {
        kind: Kind.Enum,
        nameOff: 0,
        kflag: true,
        size: 4,
        values: [{ nameOff: off('x'), value: 0x80000000 }],
      },
      {
        kind: Kind.Enum64,
        nameOff: 0,
        kflag: true,
        size: 8,
        values: [
          { nameOff: off('x'), lo: 0, hi: 0xffffffff },
          { nameOff: off('x'), lo: 7, hi: 0x7fffffff },
        ],
      },
      { kind: Kind.Enum, nameOff: off('e'), kflag: false, size: 4, values: [] },
      {
        kind: Kind.Datasec,
        nameOff: off('x'),
        kflag: false,
        size: 16,
        vars: [{ type: 7, offset: 4, size: 4 }],
      },
    ];
    for (const littleEndian of [true, false]) {
      const bytes = encodeBtf(new Btf({ types, strings, littleEndian }));
      const path = join(corpus.scratch, `odd-${littleEndian ? 'le' : 'be'}.btf`);
      writeFileSync(path, bytes);
      const reference = bpftool(['btf', 'dump', 'file', path]);
      expect(reference.includes(Buffer.from("'caf\xe9\xff'", 'latin1'))).toBe(true);
      expectSame(dumpRaw(decodeBtf(bytes, { file: path })), reference, path);
    }
  });
});

describe('btfkit dump (the CLI process)', () => {
  const cli = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../packages/core/src/cli/main.ts'), 'dump', ...args],
      {
        cwd: join(import.meta.dirname, '..'),
        maxBuffer: 1 << 30,
      },
    );

  it('a .btf.tar.xz kernel, a module over a .btf.tar.xz base, a vmlinux ELF, an object in C', () => {
    const archive = kernelArchives().find((a) => releaseOf(a) === MODULES_KERNEL) as string;
    const raw = corpus.raw.get(MODULES_KERNEL) as string;
    let r = cli([archive]);
    expect(r.status).toBe(0);
    expectSame(r.stdout, bpftool(['btf', 'dump', 'file', raw]), 'CLI on archive');

    const mod = moduleFiles()[0] as string;
    r = cli(['--base', archive, mod]);
    expect(r.status).toBe(0);
    expectSame(r.stdout, bpftool(['btf', 'dump', 'file', mod, '--base-btf', raw]), 'CLI on module');

    // A vmlinux-style ELF: a host object file with the kernel's BTF added as .BTF.
    const c = join(corpus.scratch, 'empty.c');
    writeFileSync(c, 'int vmlinux_placeholder;\n');
    const o = join(corpus.scratch, 'empty.o');
    execFileSync('gcc', ['-c', c, '-o', o]);
    const vmlinux = join(corpus.scratch, 'vmlinux');
    execFileSync('objcopy', ['--add-section', `.BTF=${raw}`, o, vmlinux]);
    r = cli([vmlinux]);
    expect(r.status).toBe(0);
    expectSame(r.stdout, bpftool(['btf', 'dump', 'file', vmlinux]), 'CLI on vmlinux ELF');

    const obj = objectFiles()[0] as string;
    r = cli(['--format', 'c', obj]);
    expect(r.status).toBe(0);
    expectSame(r.stdout, bpftool(['btf', 'dump', 'file', obj, 'format', 'c']), 'CLI format c');
  });

  it('bad input: exit 1 with the file and offset; bad options: exit 2', () => {
    const bad = join(corpus.scratch, 'bad.btf');
    const bytes = new Uint8Array(readFileSync(minBtfFiles()[0] as string));
    writeFileSync(bad, bytes.subarray(0, bytes.length - 9));
    let r = cli([bad]);
    expect(r.status).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr.toString()).toMatch(new RegExp(`${bad} at offset \\d+`));
    r = cli(['--format', 'json', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toContain("unknown --format 'json'");
    r = cli(['--bogus', bad]);
    expect(r.status).toBe(2);
  });
});
