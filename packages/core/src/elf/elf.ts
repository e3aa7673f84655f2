import { ByteReader } from '../bytes/reader.ts';
import { decodeName } from '../bytes/text.ts';
import { errors, inFile } from '../errors/index.ts';

/**
 * A read-only ELF64 view for BPF objects and vmlinux images, in either byte order
 * (taken from e_ident[EI_DATA], not from the host). Section data are zero-copy subarrays
 * of the input. Every count, offset and size read from the file is checked against the
 * bytes actually present before it is used, so a damaged file fails with a BtfkitError
 * that names the absolute offset of the field that lied.
 */

export const EM_BPF = 247;

export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
} as const;

export const SHF = { WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4 } as const;

export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;

/** Special section indices a symbol's st_shndx may hold. */
export const SHN = { UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff } as const;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;

export interface ElfSection {
  index: number;
  name: string;
  /** sh_name: the name's offset in the section-name table. */
  nameOff: number;
  type: number;
  flags: number;
  /** File offset of the section's bytes. */
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
  addralign: number;
  /** The section's bytes (a view into the input); empty for SHT_NOBITS. */
  data: Uint8Array;
  /** Absolute file offset of this section's header, for errors about its fields. */
  headerOffset: number;
}

export interface ElfSymbol {
  index: number;
  name: string;
  nameOff: number;
  /** st_info >> 4: STB_LOCAL, STB_GLOBAL, STB_WEAK… */
  bind: number;
  /** st_info & 0xf: STT_FUNC, STT_OBJECT… */
  type: number;
  other: number;
  shndx: number;
  value: number;
  size: number;
  /** Absolute file offset of this symbol's entry. */
  offset: number;
}

export interface ElfRelocation {
  /** r_offset: byte offset within the target section. */
  offset: number;
  /** ELF64_R_TYPE(r_info). */
  type: number;
  /** ELF64_R_SYM(r_info): index into the linked symbol table. */
  symIndex: number;
  symbol: ElfSymbol;
  /** r_addend for SHT_RELA; undefined for SHT_REL. */
  addend?: bigint;
  /** The SHT_REL/SHT_RELA section this entry came from. */
  relSection: number;
  /** Absolute file offset of the entry. */
  entryOffset: number;
}

export interface ElfHeader {
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  flags: number;
  shoff: number;
  shnum: number;
  shstrndx: number;
}

export class Elf {
  private readonly symtabCache = new Map<number, ElfSymbol[]>();
  private relocIndex: Map<number, ElfSection[]> | undefined;
  /** Sections built so far, by index: most commands look up two or three of an object's ~30. */
  private readonly built: (ElfSection | undefined)[];
  private all: readonly ElfSection[] | undefined;
  private readonly byName = new Map<string, ElfSection | undefined>();
  /** Whether `byName` holds every section's name. */
  private mapped = false;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly header: ElfHeader,
    private readonly table: SectionTable | undefined,
    readonly file: string | undefined,
  ) {
    this.built = new Array(table?.count ?? 0);
  }

  get machine(): number {
    return this.header.machine;
  }

  /** Every section, in header order (built on first use; the table was checked when parsed). */
  get sections(): readonly ElfSection[] {
    if (this.all === undefined) {
      const all: ElfSection[] = [];
      for (let i = 0; i < this.built.length; i++) all.push(this.at(i));
      this.all = all;
    }
    return this.all;
  }

  /**
   * The first section of this name, as libbpf's name lookups find it. The first two names
   * asked for are found by comparing bytes (the minimizer wants .BTF and .BTF.ext, nothing
   * else); a third builds every section and maps all their names at once.
   */
  section(name: string): ElfSection | undefined {
    if (this.byName.has(name)) return this.byName.get(name);
    if (this.all !== undefined || this.byName.size >= 2) {
      if (!this.mapped) {
        for (const s of this.sections) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
        this.mapped = true;
      }
      return this.byName.get(name);
    }
    const i = this.table?.find(name) ?? -1;
    const found = i < 0 ? undefined : this.at(i);
    this.byName.set(name, found);
    return found;
  }

  private at(i: number): ElfSection {
    let s = this.built[i];
    if (s === undefined) {
      s = (this.table as SectionTable).section(i);
      this.built[i] = s;
    }
    return s;
  }

  /** The symbols of `.symtab` (or the given symbol-table section), index 0 included. */
  symbols(symtab?: ElfSection): readonly ElfSymbol[] {
    const sec = symtab ?? this.sections.find((s) => s.type === SHT.SYMTAB);
    if (sec === undefined) return [];
    let syms = this.symtabCache.get(sec.index);
    if (syms === undefined) {
      syms = this.attribute(() => readSymbols(this, sec));
      this.symtabCache.set(sec.index, syms);
    }
    return syms;
  }

  /**
   * The relocations that apply to `target` (every SHT_REL/SHT_RELA section whose sh_info
   * names it), in section order then entry order.
   */
  relocations(target: ElfSection | number): ElfRelocation[] {
    const index = typeof target === 'number' ? target : target.index;
    if (this.relocIndex === undefined) {
      this.relocIndex = new Map();
      for (const s of this.sections) {
        if (s.type !== SHT.REL && s.type !== SHT.RELA) continue;
        const list = this.relocIndex.get(s.info) ?? [];
        list.push(s);
        this.relocIndex.set(s.info, list);
      }
    }
    const out: ElfRelocation[] = [];
    for (const rel of this.relocIndex.get(index) ?? []) {
      this.attribute(() => readRelocations(this, rel, out));
    }
    return out;
  }

  /** A NUL-terminated string in a string-table section. */
  stringAt(strtab: ElfSection, off: number, fieldOffset: number, what: string): string {
    return readCString(strtab, off, fieldOffset, what);
  }

  private attribute<T>(fn: () => T): T {
    return this.file === undefined ? fn() : inFile(this.file, fn);
  }
}

/** Whether bytes start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
  );
}

/** Parses the ELF header and section table; symbols and relocations are read on demand. */
export function parseElf(bytes: Uint8Array, file?: string): Elf {
  const run = () => parse(bytes, file);
  return file === undefined ? run() : inFile(file, run);
}

function parse(bytes: Uint8Array, file: string | undefined): Elf {
  if (bytes.length < 16) throw errors.truncated(0, 16, 'ELF identification (e_ident)', bytes.length);
  if (!isElf(bytes)) {
    throw errors.badMagic(0, 'ELF magic 7f 45 4c 46', Array.from(bytes.subarray(0, 4), hex).join(' '));
  }
  if (bytes[4] !== 2) {
    throw errors.unsupported(`expected ELFCLASS64 (2) in e_ident[EI_CLASS], found ${bytes[4]}`, undefined, 4);
  }
  let littleEndian: boolean;
  if (bytes[5] === 1) littleEndian = true;
  else if (bytes[5] === 2) littleEndian = false;
  else
    throw errors.badElf(
      5,
      `expected ELFDATA2LSB (1) or ELFDATA2MSB (2) in e_ident[EI_DATA], found ${bytes[5]}`,
    );
  if (bytes[6] !== 1)
    throw errors.badElf(6, `expected EV_CURRENT (1) in e_ident[EI_VERSION], found ${bytes[6]}`);

  const r = new ByteReader(bytes, littleEndian);
  r.need(EHDR_SIZE, 'ELF64 header', 0);
  r.seek(16);
  const type = r.u16('e_type');
  const machine = r.u16('e_machine');
  const version = r.u32('e_version');
  const entry = r.u64('e_entry');
  r.u64n('e_phoff');
  const shoff = r.u64n('e_shoff');
  const flags = r.u32('e_flags');
  r.u16('e_ehsize');
  r.u16('e_phentsize');
  r.u16('e_phnum');
  const shentsize = r.u16('e_shentsize');
  let shnum = r.u16('e_shnum');
  let shstrndx = r.u16('e_shstrndx');

  if (shoff === 0) {
    return new Elf(
      bytes,
      littleEndian,
      { type, machine, version, entry, flags, shoff, shnum: 0, shstrndx: 0 },
      undefined,
      file,
    );
  }
  if (shentsize !== SHDR_SIZE) {
    throw errors.badElf(
      58,
      `expected e_shentsize ${SHDR_SIZE} for ELF64 section headers, found ${shentsize}`,
    );
  }
  r.need(SHDR_SIZE, 'section header 0', shoff);
  // More than 0xff00 sections: the real count and string-table index live in section 0.
  if (shnum === 0) {
    const real = new ByteReader(bytes, littleEndian)
      .seek(shoff + 32)
      .u64n('section 0 sh_size (section count)');
    shnum = real;
  }
  if (shstrndx === SHN.XINDEX) {
    shstrndx = new ByteReader(bytes, littleEndian).seek(shoff + 40).u32('section 0 sh_link (shstrndx)');
  }
  if (shnum * SHDR_SIZE > bytes.length - shoff) {
    throw errors.truncated(
      shoff,
      shnum * SHDR_SIZE,
      `section header table of ${shnum} entries`,
      bytes.length - shoff,
    );
  }
  if (shstrndx >= shnum) {
    throw errors.badElf(62, `expected e_shstrndx below the section count ${shnum}, found ${shstrndx}`);
  }

  const table = new SectionTable(bytes, littleEndian, shoff, shnum, shstrndx);
  return new Elf(
    bytes,
    littleEndian,
    { type, machine, version, entry, flags, shoff, shnum, shstrndx },
    table,
    file,
  );
}

/**
 * The section header table. Every header is checked when it is made (data inside the file,
 * a string table for names, each name inside it and NUL-terminated), so a damaged file fails
 * at parse time; the ElfSection objects, names decoded, are made only when asked for.
 */
class SectionTable {
  private readonly view: DataView;
  private readonly names: Uint8Array;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly le: boolean,
    private readonly shoff: number,
    readonly count: number,
    shstrndx: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const shstrAt = this.headerAt(shstrndx);
    if (this.view.getUint32(shstrAt + 4, le) !== SHT.STRTAB) {
      throw errors.badElf(
        shstrAt + 4,
        `expected SHT_STRTAB (3) for the section-name table, found ${this.view.getUint32(shstrAt + 4, le)}`,
      );
    }
    this.names = this.data(shstrndx);
    const namesAt = this.u64(shstrAt + 24, 'sh_offset');
    for (let i = 0; i < count; i++) {
      // Everything `section(i)` reads is checked here, so building one later cannot fail.
      const at = this.headerAt(i);
      this.u64(at + 8, 'sh_flags');
      this.u64(at + 48, 'sh_addralign');
      this.u64(at + 56, 'sh_entsize');
      this.data(i);
      const nameOff = this.view.getUint32(this.headerAt(i), le);
      nameEnd(this.names, nameOff, namesAt, this.headerAt(i), `name of section ${i}`);
    }
  }

  private headerAt(i: number): number {
    return this.shoff + i * SHDR_SIZE;
  }

  /** A u64 field that must fit a JavaScript number (as ByteReader.u64n). */
  private u64(at: number, what: string): number {
    const lo = this.view.getUint32(this.le ? at : at + 4, this.le);
    const hi = this.view.getUint32(this.le ? at + 4 : at, this.le);
    if (hi > 0x1fffff) {
      throw errors.badHeader(at, `${what} ${(BigInt(hi) << 32n) | BigInt(lo)} is too large`);
    }
    return hi === 0 ? lo : hi * 0x100000000 + lo;
  }

  /** Section i's bytes (empty for SHT_NOBITS and SHT_NULL), checked to lie in the file. */
  private data(i: number): Uint8Array {
    const at = this.headerAt(i);
    const type = this.view.getUint32(at + 4, this.le);
    const offset = this.u64(at + 24, 'sh_offset');
    const size = this.u64(at + 32, 'sh_size');
    if (type === SHT.NOBITS || type === SHT.NULL || size === 0) return EMPTY;
    const { bytes } = this;
    if (offset > bytes.length || size > bytes.length - offset) {
      throw errors.truncated(
        offset,
        size,
        `data of section ${i} (sh_offset/sh_size in its header at ${at})`,
        bytes.length - offset,
      );
    }
    return bytes.subarray(offset, offset + size);
  }

  section(i: number): ElfSection {
    const at = this.headerAt(i);
    const { view, le } = this;
    const nameOff = view.getUint32(at, le);
    return {
      index: i,
      name: decodeName(this.names, nameOff, nameEnd(this.names, nameOff, 0, at, '')),
      nameOff,
      type: view.getUint32(at + 4, le),
      flags: this.u64(at + 8, 'sh_flags'),
      offset: this.u64(at + 24, 'sh_offset'),
      size: this.u64(at + 32, 'sh_size'),
      link: view.getUint32(at + 40, le),
      info: view.getUint32(at + 44, le),
      addralign: this.u64(at + 48, 'sh_addralign'),
      entsize: this.u64(at + 56, 'sh_entsize'),
      data: this.data(i),
      headerOffset: at,
    };
  }

  /** The index of the first section named `name`, or -1; compares the bytes, decodes nothing. */
  find(name: string): number {
    const want = Buffer.from(name, 'utf8');
    const { names } = this;
    for (let i = 0; i < this.count; i++) {
      const off = this.view.getUint32(this.headerAt(i), this.le);
      if (off + want.length >= names.length || names[off + want.length] !== 0) continue;
      let same = true;
      for (let k = 0; k < want.length && same; k++) same = names[off + k] === want[k];
      if (same) return i;
    }
    return -1;
  }
}

function readSymbols(elf: Elf, sec: ElfSection): ElfSymbol[] {
  if (sec.entsize !== SYM_SIZE) {
    throw errors.badElf(
      sec.headerOffset + 56,
      `expected sh_entsize ${SYM_SIZE} for symbol table ${sec.name}, found ${sec.entsize}`,
    );
  }
  if (sec.size % SYM_SIZE !== 0) {
    throw errors.badElf(
      sec.headerOffset + 32,
      `expected symbol table size to be a multiple of ${SYM_SIZE}, found ${sec.size}`,
    );
  }
  const strtab = elf.sections[sec.link];
  if (strtab === undefined || strtab.type !== SHT.STRTAB) {
    throw errors.badElf(
      sec.headerOffset + 40,
      `expected sh_link of ${sec.name} to name a string table, found ${sec.link}`,
    );
  }
  const r = new ByteReader(sec.data, elf.littleEndian, sec.offset);
  const count = sec.data.length / SYM_SIZE;
  const out: ElfSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const offset = r.abs();
    const nameOff = r.u32('st_name');
    const info = r.u8('st_info');
    const other = r.u8('st_other');
    const shndx = r.u16('st_shndx');
    const value = r.u64n('st_value');
    const size = r.u64n('st_size');
    const name = readCString(strtab, nameOff, offset, `name of symbol ${i}`);
    out.push({
      index: i,
      name,
      nameOff,
      bind: info >> 4,
      type: info & 0xf,
      other,
      shndx,
      value,
      size,
      offset,
    });
  }
  return out;
}

function readRelocations(elf: Elf, rel: ElfSection, out: ElfRelocation[]): void {
  const isRela = rel.type === SHT.RELA;
  const entSize = isRela ? RELA_SIZE : REL_SIZE;
  if (rel.entsize !== entSize) {
    throw errors.badElf(
      rel.headerOffset + 56,
      `expected sh_entsize ${entSize} for ${rel.name}, found ${rel.entsize}`,
    );
  }
  if (rel.size % entSize !== 0) {
    throw errors.badElf(
      rel.headerOffset + 32,
      `expected ${rel.name} size to be a multiple of ${entSize}, found ${rel.size}`,
    );
  }
  const symtab = elf.sections[rel.link];
  if (symtab === undefined || (symtab.type !== SHT.SYMTAB && symtab.type !== SHT.DYNSYM)) {
    throw errors.badElf(
      rel.headerOffset + 40,
      `expected sh_link of ${rel.name} to name a symbol table, found ${rel.link}`,
    );
  }
  const syms = elf.symbols(symtab);
  const r = new ByteReader(rel.data, elf.littleEndian, rel.offset);
  const count = rel.data.length / entSize;
  for (let i = 0; i < count; i++) {
    const entryOffset = r.abs();
    const offset = r.u64n('r_offset');
    const info = r.u64('r_info');
    const symIndex = Number(info >> 32n);
    const type = Number(info & 0xffffffffn);
    const symbol = syms[symIndex];
    if (symbol === undefined) {
      throw errors.badElf(
        entryOffset + 8,
        `expected a symbol index below ${syms.length} in r_info, found ${symIndex}`,
      );
    }
    const entry: ElfRelocation = { offset, type, symIndex, symbol, relSection: rel.index, entryOffset };
    if (isRela) entry.addend = r.view.getBigInt64(r.pos, elf.littleEndian);
    if (isRela) r.pos += 8;
    out.push(entry);
  }
}

interface StringTable {
  data: Uint8Array;
  offset: number;
  name?: string;
}

function readCString(strtab: StringTable, off: number, fieldOffset: number, what: string): string {
  const d = strtab.data;
  if (off >= d.length) {
    if (off === 0 && d.length === 0) return '';
    throw errors.badElf(
      fieldOffset,
      `expected ${what} to be an offset inside ${strtab.name || 'the string table'} (${d.length} bytes), found ${off}`,
    );
  }
  return decodeName(d, off, nameEnd(d, off, strtab.offset, fieldOffset, what));
}

/**
 * Where the name at `off` of a string table (`d`, at file offset `tableAt`) ends: its NUL.
 * An offset outside the table, or a name running to its end, is an error naming `what`.
 */
function nameEnd(d: Uint8Array, off: number, tableAt: number, fieldOffset: number, what: string): number {
  if (off >= d.length) {
    if (off === 0 && d.length === 0) return 0;
    throw errors.badElf(
      fieldOffset,
      `expected ${what} to be an offset inside the string table (${d.length} bytes), found ${off}`,
    );
  }
  const end = d.indexOf(0, off);
  if (end < 0)
    throw errors.badElf(tableAt + off, `expected ${what} to be NUL-terminated within its string table`);
  return end;
}

const EMPTY = new Uint8Array(0);

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
