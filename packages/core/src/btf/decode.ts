import { ByteReader } from '../bytes/reader.ts';
import { BtfkitError, errors, inFile } from '../errors/index.ts';
import { Btf, type BtfHeader, type LayoutEntry } from './btf.ts';
import { Kind } from './kinds.ts';
import { type ScanResult, scanTypes, type TypeRecords } from './records.ts';
import { type BtfType, UNKNOWN_KIND } from './types.ts';
import {
  ARRAY_BYTES,
  DECL_TAG_BYTES,
  ENUM_VALUE_BYTES,
  ENUM64_VALUE_BYTES,
  INT_ENCODING_BYTES,
  MEMBER_BYTES,
  PARAM_BYTES,
  RECORD_HEAD_BYTES,
  VAR_BYTES,
  VAR_SECINFO_BYTES,
} from './wire.ts';

export const BTF_MAGIC = 0xeb9f;
const CLASSIC_HDR_LEN = 24;
const LAYOUT_HDR_LEN = 32;

export interface DecodeOptions {
  /** For split BTF (kernel modules): the BTF whose ids and strings this one continues. */
  base?: Btf;
  /** Named in errors. */
  file?: string;
  /** Absolute position of `bytes[0]` in `file` (e.g. a .BTF section inside an ELF). */
  fileOffset?: number;
  /**
   * Run libbpf's sanity pass (every name offset valid, every referenced id in range, FUNC → FUNC_PROTO).
   * On by default: a dangling id is an error here, not a crash later.
   */
  validate?: boolean;
}

/** Whether these bytes start with the BTF magic in either byte order. */
export function isBtf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 2 &&
    ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f))
  );
}

/** Decodes raw BTF (a `.BTF` section or a `/sys/kernel/btf/*` file). */
export function decodeBtf(bytes: Uint8Array, opts: DecodeOptions = {}): Btf {
  const run = () => decode(bytes, opts);
  if (opts.file === undefined) return run();
  const btf = inFile(opts.file, run);
  btf.source = { file: opts.file, fileOffset: opts.fileOffset ?? 0 };
  return btf;
}

function decode(bytes: Uint8Array, opts: DecodeOptions): Btf {
  const base = opts.fileOffset ?? 0;
  if (bytes.length < CLASSIC_HDR_LEN) {
    throw errors.truncated(base, CLASSIC_HDR_LEN, 'BTF header', bytes.length);
  }
  let littleEndian: boolean;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) littleEndian = true;
  else if (bytes[0] === 0xeb && bytes[1] === 0x9f) littleEndian = false;
  else {
    throw errors.badMagic(base, 'BTF magic 0xeb9f', `bytes ${hex(bytes[0])} ${hex(bytes[1])}`);
  }
  const r = new ByteReader(bytes, littleEndian, base);
  const header = readHeader(r);
  const afterHdr = header.hdrLen;

  const typeStart = afterHdr + header.typeOff;
  const strStart = afterHdr + header.strOff;
  if (header.typeOff % 4 !== 0)
    throw errors.badHeader(r.abs(8), `type_off ${header.typeOff} is not 4-byte aligned`);
  if (strStart + header.strLen > bytes.length) {
    throw errors.truncated(r.abs(strStart), header.strLen, 'string section', bytes.length - strStart);
  }
  if (typeStart + header.typeLen > bytes.length) {
    throw errors.truncated(r.abs(typeStart), header.typeLen, 'type section', bytes.length - typeStart);
  }
  if (header.typeOff + header.typeLen > header.strOff) {
    throw errors.badHeader(
      r.abs(12),
      `type section (ends at ${header.typeOff + header.typeLen}) overlaps string section (starts at ${header.strOff})`,
    );
  }

  let layout: LayoutEntry[] | undefined;
  if (header.layoutLen !== undefined && header.layoutOff !== undefined && header.layoutLen > 0) {
    layout = readLayout(r, header);
  }

  const strings = bytes.subarray(strStart, strStart + header.strLen);
  checkStrings(strings, r.abs(strStart), opts.base !== undefined);

  const typeReader = r.slice(typeStart, header.typeLen, 'type section');
  const scan = scanTypes(typeReader, layout ?? opts.base?.layout, opts.base ? opts.base.typeCount : 1);
  const records = scan.records;

  const btf = new Btf({ types: records, strings, littleEndian, header, layout, base: opts.base });
  if (opts.validate !== false && !passesSanityChecks(btf, scan)) {
    validate(btf, records, records.words, typeReader);
  }
  return btf;
}

function readHeader(r: ByteReader): BtfHeader {
  r.seek(2);
  const version = r.u8('BTF version');
  const flags = r.u8('BTF flags');
  const hdrLen = r.u32('hdr_len');
  if (hdrLen < CLASSIC_HDR_LEN)
    throw errors.badHeader(r.abs(4), `hdr_len ${hdrLen} is shorter than the ${CLASSIC_HDR_LEN}-byte header`);
  if (hdrLen > r.length) throw errors.truncated(r.abs(0), hdrLen, 'BTF header (hdr_len)', r.length);
  if (hdrLen % 4 !== 0) throw errors.badHeader(r.abs(4), `hdr_len ${hdrLen} is not a multiple of 4`);
  const typeOff = r.u32('type_off');
  const typeLen = r.u32('type_len');
  const strOff = r.u32('str_off');
  const strLen = r.u32('str_len');
  const header: BtfHeader = { version, flags, hdrLen, typeOff, typeLen, strOff, strLen };
  if (hdrLen >= LAYOUT_HDR_LEN) {
    header.layoutOff = r.u32('layout_off');
    header.layoutLen = r.u32('layout_len');
  }
  if (hdrLen > LAYOUT_HDR_LEN) header.extra = r.bytes.slice(LAYOUT_HDR_LEN, hdrLen);
  if (version !== 1) throw errors.badHeader(r.abs(2), `BTF version ${version} (expected 1)`);
  return header;
}

function readLayout(r: ByteReader, h: BtfHeader): LayoutEntry[] {
  const off = h.layoutOff as number;
  const len = h.layoutLen as number;
  const at = h.hdrLen + off;
  if (off % 4 !== 0 || len % 4 !== 0)
    throw errors.badHeader(r.abs(24), `layout section offset ${off} / length ${len} not 4-byte aligned`);
  if (off < h.typeOff + h.typeLen || off + len > h.strOff) {
    throw errors.badHeader(
      r.abs(24),
      `layout section [${off}, ${off + len}) must lie between the type and string sections`,
    );
  }
  const lr = r.slice(at, len, 'layout section');
  const entries: LayoutEntry[] = [];
  while (lr.remaining > 0) {
    const infoSz = lr.u8('layout info_sz');
    const elemSz = lr.u8('layout elem_sz');
    const flags = lr.u16('layout flags');
    if (infoSz % 4 !== 0 || elemSz % 4 !== 0) {
      throw errors.badHeader(
        lr.abs(lr.pos - 4),
        `layout entry for kind ${entries.length} has sizes ${infoSz}/${elemSz}, not multiples of 4`,
      );
    }
    entries.push({ infoSz, elemSz, flags });
  }
  return entries;
}

function checkStrings(strings: Uint8Array, at: number, split: boolean): void {
  if (strings.length === 0) {
    if (split) return;
    throw errors.badString(at, 'empty string section (a base BTF needs at least the empty string)');
  }
  if (!split && strings[0] !== 0) {
    throw errors.badString(
      at,
      'string section does not start with the empty string (split BTF without its base?)',
    );
  }
  if (strings[strings.length - 1] !== 0) {
    throw errors.badString(at + strings.length - 1, 'string section does not end with a NUL byte');
  }
}

/**
 * The sanity pass's verdict from what the scan noted, without a second walk over members:
 * every name offset below this BTF's own strings is valid (the sections of a split chain are
 * contiguous from 0), so names fail only past the end of its own; ids fail only at or past
 * `typeCount`; and FUNCs need a FUNC_PROTO. False sends the input to `validate`, which finds
 * and reports the first offending record.
 */
function passesSanityChecks(btf: Btf, scan: ScanResult): boolean {
  if (scan.maxNameOff >= btf.startStrOff + btf.strings.length) return false;
  if (scan.maxTypeRef >= btf.typeCount) return false;
  if (scan.funcProtosOk === true) return true;
  const { records } = scan;
  const words = records.words;
  for (let i = 0; i < records.count; i++) {
    if (records.kind(i) !== Kind.Func) continue;
    if (btf.kindOf(words[records.wordAt(i) + 2] as number) !== Kind.FuncProto) return false;
  }
  return true;
}

/**
 * libbpf's sanity pass (≥ 1.3): names point into the string section, referenced ids exist,
 * FUNC refers to a FUNC_PROTO. Errors point at the offending record. Reads the records'
 * words, so no type object is built for it.
 */
function validate(btf: Btf, records: TypeRecords, words: Uint32Array, tr: ByteReader): void {
  const n = btf.typeCount;
  // Offsets at or past the split's own start are checked inline; lower ones go to the base.
  const ownStart = btf.startStrOff;
  const strEnd = ownStart + btf.strings.length;
  let pos = 0;
  const fail = (field: string, id: number, msg: string): never => {
    throw errors.badBtf(tr.abs(pos), `${field} of type [${id}] ${msg}`);
  };
  const checkName = (off: number, id: number, field: string) => {
    if (off >= ownStart ? off >= strEnd : !btf.hasString(off)) {
      fail(field, id, `has string offset ${off} outside the string section`);
    }
  };
  const checkId = (ref: number, id: number, field: string) => {
    if (ref >= n) fail(field, id, `refers to type id ${ref}, but the last id is ${n - 1}`);
  };
  for (let i = 0; i < records.count; i++) {
    const w = records.wordAt(i);
    pos = w * 4;
    const id = btf.startId + i;
    const info = words[w + 1] as number;
    const vlen = info & 0xffffff;
    const ref = words[w + 2] as number;
    checkName(words[w] as number, id, 'name');
    let p = w + 3;
    switch ((info >>> 24) & 0x7f) {
      case Kind.Ptr:
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.TypeTag:
      case Kind.Var:
      case Kind.DeclTag:
        checkId(ref, id, 'type');
        break;
      case Kind.Func:
        checkId(ref, id, 'type');
        if (btf.kindOf(ref) !== Kind.FuncProto) fail('type', id, `is [${ref}], not a FUNC_PROTO`);
        break;
      case Kind.Array:
        checkId(words[p] as number, id, 'element type');
        checkId(words[p + 1] as number, id, 'index type');
        break;
      case Kind.Struct:
      case Kind.Union:
        for (let j = 0; j < vlen; j++, p += 3) {
          checkName(words[p] as number, id, 'member name');
          checkId(words[p + 1] as number, id, 'member type');
        }
        break;
      case Kind.Enum:
        for (let j = 0; j < vlen; j++, p += 2) checkName(words[p] as number, id, 'enumerator name');
        break;
      case Kind.Enum64:
        for (let j = 0; j < vlen; j++, p += 3) checkName(words[p] as number, id, 'enumerator name');
        break;
      case Kind.FuncProto:
        checkId(ref, id, 'return type');
        for (let j = 0; j < vlen; j++, p += 2) {
          checkName(words[p] as number, id, 'parameter name');
          checkId(words[p + 1] as number, id, 'parameter type');
        }
        break;
      case Kind.Datasec:
        for (let j = 0; j < vlen; j++, p += 3) checkId(words[p] as number, id, 'variable type');
        break;
    }
  }
}

/** Size in bytes of a type record on the wire. */
export function recordSize(t: BtfType): number {
  switch (t.kind) {
    case Kind.Int:
      return RECORD_HEAD_BYTES + INT_ENCODING_BYTES;
    case Kind.Var:
      return RECORD_HEAD_BYTES + VAR_BYTES;
    case Kind.DeclTag:
      return RECORD_HEAD_BYTES + DECL_TAG_BYTES;
    case Kind.Array:
      return RECORD_HEAD_BYTES + ARRAY_BYTES;
    case Kind.Struct:
    case Kind.Union:
      return RECORD_HEAD_BYTES + MEMBER_BYTES * t.members.length;
    case Kind.Enum:
      return RECORD_HEAD_BYTES + ENUM_VALUE_BYTES * t.values.length;
    case Kind.Enum64:
      return RECORD_HEAD_BYTES + ENUM64_VALUE_BYTES * t.values.length;
    case Kind.FuncProto:
      return RECORD_HEAD_BYTES + PARAM_BYTES * t.params.length;
    case Kind.Datasec:
      return RECORD_HEAD_BYTES + VAR_SECINFO_BYTES * t.vars.length;
    case UNKNOWN_KIND:
      return RECORD_HEAD_BYTES + t.trailing.length;
    default:
      return RECORD_HEAD_BYTES;
  }
}

function hex(b: number | undefined): string {
  return b === undefined ? '(none)' : `0x${b.toString(16).padStart(2, '0')}`;
}

export { BtfkitError };
