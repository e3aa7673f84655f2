/**
 * The WebAssembly raw printer beyond what test/dump-raw.test.ts holds both printers to: the
 * committed binaries (this printer's and btf/type-scan's) are what their AssemblyScript
 * sources compile to, a record larger than the printer's output chunk and one past its
 * output bound, and a kind only a layout section describes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Btf,
  type BtfType,
  decodeBtf,
  encodeBtf,
  Kind,
  UNKNOWN_KIND,
} from '../packages/core/src/btf/index.ts';
import { dumpRaw, dumpRawTo } from '../packages/core/src/dump/raw.ts';
import { wasmPrints } from '../packages/core/src/dump/raw-wasm.ts';
// @ts-expect-error: a plain JavaScript build script, without type declarations
import { compile, MODULES, moduleSource } from '../scripts/build-wasm.mjs';
import { bpftool, useKernelsAndScratch } from './fixtures/btf/corpus.ts';

const corpus = useKernelsAndScratch('btfkit-dump-wasm-');

describe('WebAssembly raw printer', () => {
  it('every committed WebAssembly module is what its AssemblyScript source compiles to', async () => {
    const modules = MODULES as { source: string; target: string; flags?: string[] }[];
    expect(modules.map((m) => m.source.split('/').at(-1))).toEqual(['raw-printer.ts', 'btf.ts']);
    for (const m of modules) {
      const fresh = moduleSource(m, await compile(m.source, m.flags)) as string;
      expect(readFileSync(m.target, 'utf8'), m.target).toBe(fresh);
    }
  });

  it('an enum of 60,000 long-named values (one record past the 1 MiB output chunk) prints as bpftool does', () => {
    const names = Array.from({ length: 60_000 }, (_, i) => `VALUE_${i}_${'x'.repeat(40 + (i % 50))}`);
    const strings = Buffer.from(`\0big\0${names.join('\0')}\0`, 'latin1');
    let at = 5;
    const values = names.map((n, i) => {
      const v = { nameOff: at, value: (i * 2654435761) >>> 0 };
      at += n.length + 1;
      return v;
    });
    const types: BtfType[] = [
      { kind: Kind.Int, nameOff: 1, kflag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      { kind: Kind.Enum, nameOff: 1, kflag: false, size: 4, values },
      { kind: Kind.Enum, nameOff: 0, kflag: true, size: 4, values: values.slice(0, 1000) },
    ];
    const bytes = encodeBtf(new Btf({ types, strings, littleEndian: true }));
    const path = join(corpus.scratch, 'big-enum.btf');
    writeFileSync(path, bytes);
    const btf = decodeBtf(bytes, { file: path });
    expect(wasmPrints(btf)).toBe(true);
    const out = dumpRaw(btf);
    expect(out.length).toBeGreaterThan(5 << 20);
    expect(out.equals(bpftool(['btf', 'dump', 'file', path]))).toBe(true);
  });

  it('a record printing past 64 MiB (members naming one 100 KB string) is finished by the JS printer, as bpftool prints it', () => {
    const long = 'n'.repeat(100_000);
    const strings = Buffer.from(`\0int\0${long}\0s\0`, 'latin1');
    const members = Array.from({ length: 700 }, (_, i) => ({
      nameOff: 5,
      type: 1,
      bitOffset: i * 32,
      bitfieldSize: 0,
    }));
    const types: BtfType[] = [
      { kind: Kind.Int, nameOff: 1, kflag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      { kind: Kind.Struct, nameOff: 5 + long.length + 1, kflag: false, size: 2800, members },
      { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 2 },
    ];
    const bytes = encodeBtf(new Btf({ types, strings, littleEndian: true }));
    const path = join(corpus.scratch, 'huge-record.btf');
    writeFileSync(path, bytes);
    const btf = decodeBtf(bytes, { file: path });
    const chunks: number[] = [];
    const parts: Uint8Array[] = [];
    dumpRawTo(btf, (c) => {
      chunks.push(c.length);
      parts.push(c);
    });
    const out = Buffer.concat(parts);
    expect(out.length).toBeGreaterThan(64 << 20);
    // No chunk holds the whole record: the printer that finished it ended chunks inside it.
    expect(Math.max(...chunks)).toBeLessThan(4 << 20);
    expect(out.equals(bpftool(['btf', 'dump', 'file', path]))).toBe(true);
  });

  it('a kind only the layout section describes prints the same from both printers', () => {
    const strings = Buffer.from('\0int\0future\0', 'latin1');
    const layout = Array.from({ length: 21 }, () => ({ infoSz: 0, elemSz: 0, flags: 0 }));
    layout[20] = { infoSz: 4, elemSz: 8, flags: 0 };
    const types: BtfType[] = [
      { kind: Kind.Int, nameOff: 1, kflag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      {
        kind: UNKNOWN_KIND,
        rawKind: 20,
        nameOff: 5,
        kflag: false,
        vlen: 2,
        sizeOrType: 1,
        trailing: new Uint8Array(4 + 2 * 8),
      },
      { kind: Kind.Datasec, nameOff: 5, kflag: false, size: 8, vars: [{ type: 2, offset: 0, size: 4 }] },
    ];
    for (const littleEndian of [true, false]) {
      const bytes = encodeBtf(new Btf({ types, strings, littleEndian, layout }), { hdrLen: 32 });
      const btf = decodeBtf(bytes, { file: 'layout.btf' });
      const wasm = dumpRaw(btf, { printer: 'wasm' }).toString('latin1');
      expect(wasm).toBe(dumpRaw(btf, { printer: 'js' }).toString('latin1'));
      expect(wasm.split('\n').slice(1, 4)).toEqual([
        "[2] UNKNOWN 'future' kind=20 vlen=2 size_or_type=1",
        "[3] DATASEC 'future' size=8 vlen=1",
        "\ttype_id=2 offset=0 size=4 ( UNKNOWN 'future')",
      ]);
    }
  });
});
