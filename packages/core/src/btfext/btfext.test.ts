import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { relocationKindName } from '../core/kinds.ts';
import { parseBpfObject } from '../elf/object.ts';
import { BtfkitError } from '../errors/index.ts';
import { extSectionName, parseBtfExt } from './btfext.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');
const OBJECTS = join(ROOT, 'test/corpus/objects');
const RELOCS = join(ROOT, 'test/corpus/expected/relocs');
const objectFiles = readdirSync(OBJECTS)
  .filter((f) => f.endsWith('.bpf.o'))
  .sort();

interface ExpectedLine {
  prog: string;
  relo: number;
  insn?: number;
  error?: string;
}

describe('.BTF.ext core_relo records against libbpf (expected/relocs)', () => {
  const releases = readdirSync(RELOCS).sort();
  it.each(objectFiles)('%s', (f) => {
    const path = join(OBJECTS, f);
    const obj = parseBpfObject(readFileSync(path), path);
    const ext = obj.ext;
    if (ext === undefined) throw new Error('no .BTF.ext');
    const progByName = new Map(obj.programs.map((p) => [p.name, p]));
    // Our view: per section name, its records in file order.
    const bySection = new Map(ext.coreRelos.map((s) => [extSectionName(obj.btf, s), s.records]));
    let compared = 0;
    for (const release of releases) {
      const file = join(RELOCS, release, f.replace(/\.bpf\.o$/, '.jsonl'));
      const lines = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ExpectedLine & { kind: string });
      // libbpf stops relocating an object at its first error, so only the full runs show every record.
      const complete = !lines.some((l) => l.error !== undefined);
      const seen = new Map<string, Set<number>>();
      for (const line of lines) {
        const prog = progByName.get(line.prog);
        expect(prog, line.prog).toBeDefined();
        if (prog === undefined) continue;
        const records = bySection.get(prog.section);
        const rec = records?.[line.relo];
        expect(rec, `${release} ${line.prog} relo ${line.relo}`).toBeDefined();
        if (rec === undefined) continue;
        expect(relocationKindName(rec.kind)).toBe(line.kind);
        if (line.insn !== undefined) expect(rec.insnOff / 8 - prog.insnOffset / 8).toBe(line.insn);
        const set = seen.get(prog.section) ?? new Set();
        set.add(line.relo);
        seen.set(prog.section, set);
        compared++;
      }
      if (complete) {
        // Every record of every section was visited by libbpf exactly once per index.
        const counts = Object.fromEntries([...seen].map(([s, set]) => [s, set.size]));
        const ours = Object.fromEntries([...bySection].map(([s, r]) => [s, r.length]));
        expect(counts, release).toEqual(ours);
      }
    }
    // Objects without CO-RE relocations (cachestat…) have empty expected files.
    const total = ext.coreRelos.reduce((n, s) => n + s.records.length, 0);
    if (total > 0) expect(compared).toBeGreaterThan(0);
    else expect(compared).toBe(0);
  });
});

describe('.BTF.ext func_info and line_info against the object itself', () => {
  it.each(objectFiles)('%s: one func_info per program, naming its FUNC', (f) => {
    const path = join(OBJECTS, f);
    const obj = parseBpfObject(readFileSync(path), path);
    const ext = obj.ext;
    if (ext === undefined) throw new Error('no .BTF.ext');
    const funcs = ext.funcInfo.flatMap((s) =>
      s.records.map((r) => ({
        section: extSectionName(obj.btf, s),
        insnOffset: r.insnOff,
        name: obj.btf.name(r.typeId),
      })),
    );
    const progs = obj.programs.map((p) => ({ section: p.section, insnOffset: p.insnOffset, name: p.name }));
    const key = (x: { section: string; insnOffset: number }) => `${x.section}:${x.insnOffset}`;
    expect([...funcs].sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
      [...progs].sort((a, b) => key(a).localeCompare(key(b))),
    );
    for (const s of ext.lineInfo) {
      const section = extSectionName(obj.btf, s);
      const size = obj.elf.section(section)?.size ?? -1;
      for (const r of s.records) {
        expect(r.insnOff % 8).toBe(0);
        expect(r.insnOff).toBeLessThan(size);
        expect(obj.btf.str(r.fileNameOff)).toMatch(/\.(c|h)$/);
      }
    }
  });
});

describe('.BTF.ext header and sub-section checks', () => {
  const path = join(OBJECTS, 'biosnoop.bpf.o');
  const obj = parseBpfObject(readFileSync(path), path);
  const sec = obj.elf.section('.BTF.ext');
  if (sec === undefined) throw new Error('no .BTF.ext');
  const at = sec.offset;
  const mutate = (fn: (v: DataView, b: Uint8Array) => void) => {
    const b = new Uint8Array(sec.data);
    fn(new DataView(b.buffer), b);
    return b;
  };
  const fail = (b: Uint8Array, opts = {}) => {
    try {
      parseBtfExt(b, { file: 'o.bpf.o', fileOffset: at, ...opts });
    } catch (e) {
      if (e instanceof BtfkitError) return e;
      throw e;
    }
    throw new Error('expected an error');
  };

  it('parses with a larger record size, ignoring the extra bytes (forward compatibility)', () => {
    // Rebuild func_info with 12-byte records: each record followed by 4 junk bytes.
    const ext = parseBtfExt(sec.data, { littleEndian: true });
    const fi = ext.funcInfo;
    const parts: number[] = [12];
    for (const s of fi) {
      parts.push(s.sectionNameOff, s.records.length);
      for (const r of s.records) parts.push(r.insnOff, r.typeId, 0xdeadbeef);
    }
    const body = new Uint32Array(parts);
    const hdr = new Uint32Array([0x0001eb9f, 24, 0, body.byteLength, 0, 0]);
    hdr[0] = 0x9f | (0xeb << 8) | (1 << 16);
    const blob = new Uint8Array(24 + body.byteLength);
    blob.set(new Uint8Array(hdr.buffer), 0);
    blob.set(new Uint8Array(body.buffer), 24);
    const again = parseBtfExt(blob, { littleEndian: true });
    expect(again.funcInfo.map((s) => s.records)).toEqual(fi.map((s) => s.records));
    expect(again.coreRelos).toEqual([]);
    // The same blob claimed to be foreign-endian must use the exact record size.
    expect(fail(blob, { hostLittleEndian: false }).message).toContain('exactly 8');
  });

  it('refuses a bad version, flags, hdr_len, alignment, zero num_info and overlong records', () => {
    expect(fail(mutate((_, b) => (b[2] = 2))).offset).toBe(at + 2);
    expect(fail(mutate((_, b) => (b[3] = 1))).offset).toBe(at + 3);
    expect(fail(mutate((v) => v.setUint32(4, 20, true))).offset).toBe(at + 4);
    expect(fail(mutate((v) => v.setUint32(8, 2, true))).offset).toBe(at + 8);
    const ext = parseBtfExt(sec.data, { fileOffset: at });
    const first = ext.coreRelos[0];
    if (first === undefined) throw new Error('no core relos');
    const e = fail(mutate((v) => v.setUint32(first.offset - at + 4, 0, true)));
    expect(e.offset).toBe(first.offset + 4);
    expect(e.file).toBe('o.bpf.o');
    const big = fail(mutate((v) => v.setUint32(first.offset - at + 4, 0x10000000, true)));
    expect(big.code).toBe('TRUNCATED');
    expect(fail(sec.data.subarray(0, 24)).code).toBe('TRUNCATED');
    expect(fail(sec.data, { littleEndian: false }).code).toBe('BAD_BTF_EXT');
  });
});
