import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtfkitError } from '../errors/index.ts';
import { parseElf, SHT, STT } from './elf.ts';
import { parseBpfObject } from './object.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');
const OBJECTS = join(ROOT, 'test/corpus/objects');
const FIXTURE_C = join(ROOT, 'test/fixtures/elf/core_probe.c');
const objectFiles = readdirSync(OBJECTS)
  .filter((f) => f.endsWith('.bpf.o'))
  .sort();

interface ReadelfJson {
  ElfHeader: { Machine: { Value: number }; SectionHeaderCount: number };
  Sections: { Section: ReadelfSection }[];
  Symbols: { Symbol: ReadelfSymbol }[];
  Relocations: { SectionIndex: number; Relocs: { Relocation: ReadelfReloc }[] }[];
}
interface ReadelfSection {
  Index: number;
  Name: { Name: string; Value: number };
  Type: { Value: number };
  Flags: { Value: number };
  Offset: number;
  Size: number;
  Link: number;
  Info: number;
  AddressAlignment: number;
  EntrySize: number;
}
interface ReadelfSymbol {
  Name: { Name: string; Value: number };
  Value: number;
  Size: number;
  Binding: { Value: number };
  Type: { Value: number };
  Section: { Value: number };
}
interface ReadelfReloc {
  Offset: number;
  Type: { Value: number };
  Symbol: { Name: string; Value: number };
  Addend?: number;
}

/** llvm-readelf's own view of a file: the outside world we compare against. */
function readelf(path: string): ReadelfJson {
  const out = execFileSync(
    'llvm-readelf-19',
    ['--elf-output-style=JSON', '-S', '-s', '-r', '--file-header', path],
    {
      maxBuffer: 256 << 20,
    },
  );
  const parsed = JSON.parse(out.toString()) as ReadelfJson[];
  const first = parsed[0];
  if (first === undefined) throw new Error(`no readelf output for ${path}`);
  return first;
}

/** Sections, symbols and relocations of our reader must match llvm-readelf's, field by field. */
function compareWithReadelf(path: string): void {
  const bytes = readFileSync(path);
  const elf = parseElf(bytes, path);
  const ref = readelf(path);
  expect(elf.machine).toBe(ref.ElfHeader.Machine.Value);
  expect(elf.sections.length).toBe(ref.Sections.length);
  for (const { Section: s } of ref.Sections) {
    const ours = elf.sections[s.Index];
    expect(ours, `section ${s.Index}`).toBeDefined();
    if (ours === undefined) continue;
    expect({
      name: ours.name,
      type: ours.type,
      flags: ours.flags,
      offset: ours.offset,
      size: ours.size,
      link: ours.link,
      info: ours.info,
      addralign: ours.addralign,
      entsize: ours.entsize,
    }).toEqual({
      name: s.Name.Name,
      type: s.Type.Value,
      flags: s.Flags.Value,
      offset: s.Offset,
      size: s.Size,
      link: s.Link,
      info: s.Info,
      addralign: s.AddressAlignment,
      entsize: s.EntrySize,
    });
    const expectedData = s.Type.Value === SHT.NOBITS ? 0 : s.Size;
    expect(ours.data.length).toBe(expectedData);
    if (expectedData > 0) {
      // Zero-copy: the section's bytes are a view on the input buffer.
      expect(ours.data.buffer).toBe(bytes.buffer);
      expect(ours.data.byteOffset).toBe(bytes.byteOffset + s.Offset);
    }
  }
  const syms = elf.symbols();
  expect(syms.length).toBe(ref.Symbols.length);
  ref.Symbols.forEach(({ Symbol: r }, i) => {
    const ours = syms[i];
    expect(ours).toBeDefined();
    if (ours === undefined) return;
    expect({
      nameOff: ours.nameOff,
      value: ours.value,
      size: ours.size,
      bind: ours.bind,
      type: ours.type,
      shndx: ours.shndx,
    }).toEqual({
      nameOff: r.Name.Value,
      value: r.Value,
      size: r.Size,
      bind: r.Binding.Value,
      type: r.Type.Value,
      shndx: r.Section.Value,
    });
    // llvm-readelf shows a section symbol by its section's name; others by their own.
    if (r.Type.Value !== STT.SECTION) expect(ours.name).toBe(r.Name.Name);
  });
  for (const group of ref.Relocations) {
    const relSec = elf.sections[group.SectionIndex];
    expect(relSec).toBeDefined();
    if (relSec === undefined) continue;
    const ours = elf.relocations(relSec.info).filter((r) => r.relSection === relSec.index);
    expect(
      ours.map((r) => ({
        offset: r.offset,
        type: r.type,
        sym: r.symIndex,
        ...(r.addend === undefined ? {} : { addend: Number(BigInt.asUintN(64, r.addend)) }),
      })),
    ).toEqual(
      group.Relocs.map(({ Relocation: r }) => ({
        offset: r.Offset,
        type: r.Type.Value,
        sym: r.Symbol.Value,
        ...(r.Addend === undefined ? {} : { addend: r.Addend }),
      })),
    );
  }
}

describe('parseElf against llvm-readelf', () => {
  it.each(objectFiles)('%s', (f) => compareWithReadelf(join(OBJECTS, f)));

  it('reads a host ELF with RELA relocations (a gcc-compiled object)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfkit-elf-'));
    try {
      const c = join(dir, 'x.c');
      execFileSync('sh', [
        '-c',
        `printf 'extern int g; int f(void){return g;} int h(void){return f()+1;}\\n' > ${c}`,
      ]);
      execFileSync('gcc', ['-O1', '-c', c, '-o', join(dir, 'x.o')]);
      compareWithReadelf(join(dir, 'x.o'));
      const elf = parseElf(readFileSync(join(dir, 'x.o')));
      const text = elf.section('.text');
      expect(text && elf.relocations(text).some((r) => r.addend !== undefined)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseBpfObject', () => {
  it.each(objectFiles)(
    '%s: programs are the executable STT_FUNC symbols, as llvm-readelf lists them',
    (f) => {
      const path = join(OBJECTS, f);
      const obj = parseBpfObject(readFileSync(path), path);
      const ref = readelf(path);
      const execSections = new Map(
        ref.Sections.filter(
          ({ Section: s }) => s.Type.Value === SHT.PROGBITS && (s.Flags.Value & 4) !== 0 && s.Size > 0,
        ).map(({ Section: s }) => [s.Index, s.Name.Name]),
      );
      const expected = ref.Symbols.map(({ Symbol: s }) => s)
        .filter((s) => s.Type.Value === STT.FUNC && execSections.has(s.Section.Value))
        .map((s) => ({
          name: s.Name.Name,
          section: execSections.get(s.Section.Value),
          sectionIndex: s.Section.Value,
          insnOffset: s.Value,
          insnCount: s.Size / 8,
          isSubprog: execSections.get(s.Section.Value) === '.text',
        }))
        .sort((a, b) => a.sectionIndex - b.sectionIndex || a.insnOffset - b.insnOffset);
      expect(obj.programs).toEqual(expected);
      expect(obj.littleEndian).toBe(true);
      expect(obj.btf.typeCount).toBeGreaterThan(1);
      expect(obj.ext).toBeDefined();
    },
  );

  it('every "prog" in the expected relocations is a program of its object', () => {
    const relocs = join(ROOT, 'test/corpus/expected/relocs');
    let checked = 0;
    for (const release of readdirSync(relocs)) {
      for (const jsonl of readdirSync(join(relocs, release))) {
        const objPath = join(OBJECTS, jsonl.replace(/\.jsonl$/, '.bpf.o'));
        const names = new Set(parseBpfObject(readFileSync(objPath), objPath).programs.map((p) => p.name));
        const lines = readFileSync(join(relocs, release, jsonl), 'utf8')
          .split('\n')
          .filter(Boolean);
        for (const line of lines) {
          const { prog } = JSON.parse(line) as { prog: string };
          expect(names.has(prog), `${release}/${jsonl}: ${prog}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(2800);
  });
});

describe('byte orders: the same CO-RE program compiled for bpfel and bpfeb', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'btfkit-endian-'));
    for (const target of ['bpfel', 'bpfeb']) {
      execFileSync('clang-19', [
        '-target',
        target,
        '-g',
        '-O2',
        '-I/usr/include/x86_64-linux-gnu',
        '-c',
        FIXTURE_C,
        '-o',
        join(dir, `${target}.o`),
      ]);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('both match llvm-readelf', () => {
    compareWithReadelf(join(dir, 'bpfel.o'));
    compareWithReadelf(join(dir, 'bpfeb.o'));
  });

  it('yield the same programs and the same .BTF.ext records', () => {
    const le = parseBpfObject(readFileSync(join(dir, 'bpfel.o')), 'bpfel.o');
    const be = parseBpfObject(readFileSync(join(dir, 'bpfeb.o')), 'bpfeb.o');
    expect(le.littleEndian).toBe(true);
    expect(be.littleEndian).toBe(false);
    expect(be.btf.littleEndian).toBe(false);
    expect(be.programs).toEqual(le.programs);
    expect(le.programs.map((p) => [p.name, p.section, p.isSubprog])).toEqual([
      ['code_size', '.text', true],
      ['on_exit', 'kprobe/do_exit', false],
      ['on_exec', 'tracepoint/sched/sched_process_exec', false],
    ]);
    const view = (o: typeof le) => {
      if (o.ext === undefined) throw new Error('no .BTF.ext');
      return o.ext.coreRelos.map((s) => ({
        section: o.btf.str(s.sectionNameOff),
        records: s.records.map((r) => ({
          insnOff: r.insnOff,
          type: o.btf.name(r.typeId),
          access: o.btf.str(r.accessStrOff),
          kind: r.kind,
        })),
      }));
    };
    const leRelos = view(le);
    expect(view(be)).toEqual(leRelos);
    // The source asks for byte_off, field_exists, type_id_local, type_exists, type_size,
    // enumval_exists and enumval_value: all must be seen.
    const kinds = new Set(leRelos.flatMap((s) => s.records.map((r) => r.kind)));
    for (const k of [0, 2, 6, 8, 9, 10, 11]) expect(kinds.has(k), `kind ${k}`).toBe(true);
  });
});

describe('bad ELF input', () => {
  const path = join(OBJECTS, 'biosnoop.bpf.o');
  const good = readFileSync(path);

  it('names the file and the offset of a section header whose data runs past the end', () => {
    const bytes = new Uint8Array(good);
    const elf = parseElf(bytes);
    const sec = elf.section('.BTF');
    if (sec === undefined) throw new Error('no .BTF');
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setBigUint64(sec.headerOffset + 32, BigInt(bytes.length), true);
    const err = catchError(() => parseElf(bytes, 'x.o'));
    expect(err).toBeInstanceOf(BtfkitError);
    expect(err.file).toBe('x.o');
    expect(err.message).toContain(`header at ${sec.headerOffset}`);
  });

  it('refuses a section table beyond the file', () => {
    const err = catchError(() => parseElf(good.subarray(0, good.length - 10), 'y.o'));
    expect(err.code).toBe('TRUNCATED');
    expect(err.file).toBe('y.o');
    expect(err.offset).toBeGreaterThan(0);
  });

  it('refuses a relocation pointing at a symbol that does not exist', () => {
    const bytes = new Uint8Array(good);
    const elf = parseElf(bytes);
    const rel = elf.sections.find((s) => s.type === SHT.REL);
    if (rel === undefined) throw new Error('no REL');
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(rel.offset + 12, 0xffff, true);
    const err = catchError(() => parseElf(bytes, 'z.o').relocations(rel.info));
    expect(err.code).toBe('BAD_ELF');
    expect(err.offset).toBe(rel.offset + 8);
    expect(err.file).toBe('z.o');
  });

  it('refuses a non-ELF and a 32-bit ELF', () => {
    expect(catchError(() => parseElf(new Uint8Array(64), 'a')).code).toBe('BAD_MAGIC');
    const b = new Uint8Array(good);
    b[4] = 1;
    expect(catchError(() => parseElf(b, 'b')).code).toBe('UNSUPPORTED');
  });
});

function catchError(fn: () => unknown): BtfkitError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BtfkitError) return e;
    throw e;
  }
  throw new Error('expected a BtfkitError');
}
