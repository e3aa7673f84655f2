import type { Btf } from '../btf/btf.ts';
import { ByteReader, HOST_LITTLE_ENDIAN } from '../bytes/reader.ts';
import { errors, inFile } from '../errors/index.ts';

/**
 * `.BTF.ext`: per-code-section func_info, line_info and CO-RE relocation records.
 * Accepts what libbpf accepts (core-reference.md §2): version 1, flags 0, a 24-byte header
 * (no CO-RE part) or a 32-byte one, sub-sections 4-byte aligned and inside the blob,
 * record sizes at least the minimum and a multiple of 4 (exactly the minimum when the blob's
 * byte order is not the host's), at least one section per non-empty sub-section, and every
 * section with at least one record. Bytes beyond the minimum record size are ignored.
 */

export interface FuncInfo {
  /** Byte offset of the function's first instruction within its ELF section. */
  insnOff: number;
  /** A FUNC type in the object's .BTF. */
  typeId: number;
}

export interface LineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  line: number;
  column: number;
}

export interface CoreRelo {
  /** Byte offset of the instruction within its ELF section (multiple of 8). */
  insnOff: number;
  /** The root type in the object's own (local) BTF. */
  typeId: number;
  /** String offset of the access string ("0:1:2") in the object's .BTF. */
  accessStrOff: number;
  /** bpf_core_relo_kind. */
  kind: number;
}

export interface ExtSection<R> {
  /** Offset of the ELF section's name in the object's .BTF strings. */
  sectionNameOff: number;
  /** Decoded on first use (the bytes were checked when the .BTF.ext was parsed). */
  readonly records: R[];
  /** Absolute file offset of this section's sec_name_off field. */
  offset: number;
  /** The sub-section's record size (records start at offset + 8, one every recordSize bytes). */
  recordSize: number;
}

export interface BtfExtHeader {
  version: number;
  flags: number;
  hdrLen: number;
  funcInfoOff: number;
  funcInfoLen: number;
  lineInfoOff: number;
  lineInfoLen: number;
  coreReloOff?: number;
  coreReloLen?: number;
}

export interface BtfExt {
  header: BtfExtHeader;
  littleEndian: boolean;
  funcInfo: ExtSection<FuncInfo>[];
  lineInfo: ExtSection<LineInfo>[];
  coreRelos: ExtSection<CoreRelo>[];
}

export interface BtfExtOptions {
  file?: string;
  /** Absolute position of bytes[0] in `file` (the .BTF.ext section's sh_offset). */
  fileOffset?: number;
  /** The object's byte order: a .BTF.ext in the other order is refused. */
  littleEndian?: boolean;
  /** Host byte order, for libbpf's "exact record size when foreign-endian" rule (tests override). */
  hostLittleEndian?: boolean;
}

const MIN_HDR_LEN = 24;
const CORE_HDR_LEN = 32;
const FUNC_INFO_MIN = 8;
const LINE_INFO_MIN = 16;
const CORE_RELO_MIN = 16;

export function parseBtfExt(bytes: Uint8Array, opts: BtfExtOptions = {}): BtfExt {
  const run = () => parse(bytes, opts);
  return opts.file === undefined ? run() : inFile(opts.file, run);
}

/** The ELF section name a .BTF.ext section refers to, from the object's .BTF strings. */
export function extSectionName(btf: Btf, sec: ExtSection<unknown>): string {
  if (!btf.hasString(sec.sectionNameOff)) {
    const e = errors.badBtfExt(
      sec.offset,
      `expected sec_name_off to be a string offset in the object's .BTF, found ${sec.sectionNameOff}`,
    );
    // Read on first use, long after parsing: the object's .BTF knows its file (the offset is
    // already the absolute one in it).
    throw btf.source ? e.withFile(btf.source.file) : e;
  }
  return btf.str(sec.sectionNameOff);
}

/**
 * The section name of a func_info or line_info section, or undefined when sec_name_off is no
 * string: libbpf (1.1) then matches it to no program and loads the object without that info
 * (CO-RE sections, which it refuses instead, go through extSectionName).
 */
export function extInfoSectionName(btf: Btf, sec: ExtSection<unknown>): string | undefined {
  return btf.hasString(sec.sectionNameOff) ? btf.str(sec.sectionNameOff) : undefined;
}

function parse(bytes: Uint8Array, opts: BtfExtOptions): BtfExt {
  const base = opts.fileOffset ?? 0;
  if (bytes.length < 8) throw errors.truncated(base, 8, '.BTF.ext header', bytes.length);
  let littleEndian: boolean;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) littleEndian = true;
  else if (bytes[0] === 0xeb && bytes[1] === 0x9f) littleEndian = false;
  else throw errors.badMagic(base, '.BTF.ext magic 0xeb9f', `bytes ${hex(bytes[0])} ${hex(bytes[1])}`);
  if (opts.littleEndian !== undefined && opts.littleEndian !== littleEndian) {
    throw errors.badBtfExt(
      base,
      `expected .BTF.ext in the object's byte order (${order(opts.littleEndian)}), found ${order(littleEndian)}`,
    );
  }
  const r = new ByteReader(bytes, littleEndian, base);
  r.seek(2);
  const version = r.u8('version');
  const flags = r.u8('flags');
  const hdrLen = r.u32('hdr_len');
  if (version !== 1) throw errors.badBtfExt(base + 2, `expected .BTF.ext version 1, found ${version}`);
  if (flags !== 0) throw errors.badBtfExt(base + 3, `expected .BTF.ext flags 0, found ${flags}`);
  if (hdrLen < MIN_HDR_LEN)
    throw errors.badBtfExt(base + 4, `expected hdr_len of at least ${MIN_HDR_LEN}, found ${hdrLen}`);
  if (hdrLen >= bytes.length) {
    throw errors.truncated(
      base + hdrLen,
      1,
      `.BTF.ext data after its ${hdrLen}-byte header`,
      bytes.length - hdrLen,
    );
  }
  const header: BtfExtHeader = {
    version,
    flags,
    hdrLen,
    funcInfoOff: r.u32('func_info_off'),
    funcInfoLen: r.u32('func_info_len'),
    lineInfoOff: r.u32('line_info_off'),
    lineInfoLen: r.u32('line_info_len'),
  };
  if (hdrLen >= CORE_HDR_LEN) {
    header.coreReloOff = r.u32('core_relo_off');
    header.coreReloLen = r.u32('core_relo_len');
  }
  const foreign = littleEndian !== (opts.hostLittleEndian ?? HOST_LITTLE_ENDIAN);
  const ctx = { r, hdrLen, foreign };
  return {
    header,
    littleEndian,
    funcInfo: readInfo(ctx, 'func_info', 8, header.funcInfoOff, header.funcInfoLen, FUNC_INFO_MIN, (rr) => ({
      insnOff: rr.u32('func_info insn_off'),
      typeId: rr.u32('func_info type_id'),
    })),
    lineInfo: readInfo(ctx, 'line_info', 16, header.lineInfoOff, header.lineInfoLen, LINE_INFO_MIN, (rr) => {
      const insnOff = rr.u32('line_info insn_off');
      const fileNameOff = rr.u32('line_info file_name_off');
      const lineOff = rr.u32('line_info line_off');
      const lineCol = rr.u32('line_info line_col');
      return { insnOff, fileNameOff, lineOff, line: lineCol >>> 10, column: lineCol & 0x3ff };
    }),
    coreRelos:
      header.coreReloOff === undefined || header.coreReloLen === undefined
        ? []
        : readInfo(ctx, 'core_relo', 24, header.coreReloOff, header.coreReloLen, CORE_RELO_MIN, (rr) => ({
            insnOff: rr.u32('core_relo insn_off'),
            typeId: rr.u32('core_relo type_id'),
            accessStrOff: rr.u32('core_relo access_str_off'),
            kind: rr.u32('core_relo kind'),
          })),
  };
}

interface Ctx {
  r: ByteReader;
  hdrLen: number;
  foreign: boolean;
}

function readInfo<R>(
  { r, hdrLen, foreign }: Ctx,
  what: string,
  offField: number,
  off: number,
  len: number,
  minRecord: number,
  readRecord: (r: ByteReader) => R,
): ExtSection<R>[] {
  if (len === 0) return [];
  const offAt = r.abs(offField);
  if (off % 4 !== 0) throw errors.badBtfExt(offAt, `expected ${what}_off to be 4-byte aligned, found ${off}`);
  const start = hdrLen + off;
  if (start > r.length || len > r.length - start) {
    throw errors.truncated(
      r.abs(Math.min(start, r.length)),
      len,
      `${what} sub-section (${what}_off ${off}, ${what}_len ${len})`,
      r.length - start,
    );
  }
  if (len < 4)
    throw errors.badBtfExt(offAt + 4, `expected ${what}_len of at least 4 (the record size), found ${len}`);
  const sub = r.slice(start, len, `${what} sub-section`);
  const recordSize = sub.u32(`${what} record size`);
  if (recordSize < minRecord || recordSize % 4 !== 0) {
    throw errors.badBtfExt(
      sub.abs(0),
      `expected ${what} record size ≥ ${minRecord} and a multiple of 4, found ${recordSize}`,
    );
  }
  if (foreign && recordSize !== minRecord) {
    throw errors.badBtfExt(
      sub.abs(0),
      `expected ${what} record size exactly ${minRecord} in a foreign-endian .BTF.ext, found ${recordSize}`,
    );
  }
  if (sub.remaining === 0) throw errors.badBtfExt(sub.abs(), `expected at least one section in ${what}`);
  const out: ExtSection<R>[] = [];
  // Field names for errors, made once, not per section.
  const nameField = `${what} sec_name_off`;
  const countField = `${what} num_info`;
  const recordsField = `${what} records`;
  while (sub.remaining > 0) {
    const offset = sub.abs();
    const sectionNameOff = sub.u32(nameField);
    const numInfo = sub.u32(countField);
    if (numInfo === 0) throw errors.badBtfExt(offset + 4, `expected num_info > 0 in a ${what} section`);
    if (numInfo > sub.remaining / recordSize) {
      throw errors.truncated(
        sub.abs(),
        numInfo * recordSize,
        `${numInfo} ${what} records of ${recordSize} bytes`,
        sub.remaining,
      );
    }
    const recordBytes = sub.slice(sub.pos, numInfo * recordSize, recordsField);
    sub.pos += numInfo * recordSize;
    out.push(new LazySection(sectionNameOff, offset, recordSize, numInfo, recordBytes, readRecord));
  }
  return out;
}

/**
 * A sub-section's section whose records are decoded on first use. Everything a record read
 * could trip on (counts, sizes, bounds) is checked when the .BTF.ext is parsed, so decoding
 * later cannot fail; and most users want only some sub-sections: the minimizer reads the
 * CO-RE records, never the line_info ones, which are most of a .BTF.ext and were, as JS
 * objects, a tenth of a 41-object min-core-btf run (their decoding and then their garbage).
 */
class LazySection<R> implements ExtSection<R> {
  private decoded: R[] | undefined;

  constructor(
    readonly sectionNameOff: number,
    readonly offset: number,
    readonly recordSize: number,
    private readonly count: number,
    private readonly bytes: ByteReader,
    private readonly readRecord: (r: ByteReader) => R,
  ) {}

  get records(): R[] {
    if (this.decoded === undefined) {
      const r = this.bytes;
      const records: R[] = new Array(this.count);
      for (let i = 0; i < this.count; i++) {
        r.pos = i * this.recordSize;
        records[i] = this.readRecord(r);
      }
      this.decoded = records;
    }
    return this.decoded;
  }
}

function order(le: boolean): string {
  return le ? 'little-endian' : 'big-endian';
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}
