import { ByteReader } from '../bytes/reader.ts';
import { BtfkitError, errors, inFile } from '../errors/index.ts';
import { Btf, type BtfHeader, type LayoutEntry } from './btf.ts';
import { Kind, MAX_KNOWN_KIND } from './kinds.ts';
import { type BtfType, type Member, UNKNOWN_KIND } from './types.ts';

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
  return bytes.length >= 2 && ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f));
}

/** Decodes raw BTF (a `.BTF` section or a `/sys/kernel/btf/*` file). */
export function decodeBtf(bytes: Uint8Array, opts: DecodeOptions = {}): Btf {
  const run = () => decode(bytes, opts);
  return opts.file === undefined ? run() : inFile(opts.file, run);
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
  if (header.typeOff % 4 !== 0) throw errors.badHeader(r.abs(8), `type_off ${header.typeOff} is not 4-byte aligned`);
  if (strStart + header.strLen > bytes.length) {
    throw errors.truncated(r.abs(strStart), header.strLen, 'string section', bytes.length - strStart);
  }
  if (typeStart + header.typeLen > bytes.length) {
    throw errors.truncated(r.abs(typeStart), header.typeLen, 'type section', bytes.length - typeStart);
  }
  if (header.typeOff + header.typeLen > header.strOff) {
    throw errors.badHeader(r.abs(12), `type section (ends at ${header.typeOff + header.typeLen}) overlaps string section (starts at ${header.strOff})`);
  }

  let layout: LayoutEntry[] | undefined;
  if (header.layoutLen !== undefined && header.layoutOff !== undefined && header.layoutLen > 0) {
    layout = readLayout(r, header);
  }

  const strings = bytes.subarray(strStart, strStart + header.strLen);
  checkStrings(strings, r.abs(strStart), opts.base !== undefined);

  const typeReader = r.slice(typeStart, header.typeLen, 'type section');
  const types = readTypes(typeReader, layout ?? opts.base?.layout);

  const btf = new Btf({ types, strings, littleEndian, header, layout, base: opts.base });
  if (opts.validate !== false) validate(btf, typeReader);
  return btf;
}

function readHeader(r: ByteReader): BtfHeader {
  r.seek(2);
  const version = r.u8('BTF version');
  const flags = r.u8('BTF flags');
  const hdrLen = r.u32('hdr_len');
  if (hdrLen < CLASSIC_HDR_LEN) throw errors.badHeader(r.abs(4), `hdr_len ${hdrLen} is shorter than the ${CLASSIC_HDR_LEN}-byte header`);
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
  if (off % 4 !== 0 || len % 4 !== 0) throw errors.badHeader(r.abs(24), `layout section offset ${off} / length ${len} not 4-byte aligned`);
  if (off < h.typeOff + h.typeLen || off + len > h.strOff) {
    throw errors.badHeader(r.abs(24), `layout section [${off}, ${off + len}) must lie between the type and string sections`);
  }
  const lr = r.slice(at, len, 'layout section');
  const entries: LayoutEntry[] = [];
  while (lr.remaining > 0) {
    const infoSz = lr.u8('layout info_sz');
    const elemSz = lr.u8('layout elem_sz');
    const flags = lr.u16('layout flags');
    if (infoSz % 4 !== 0 || elemSz % 4 !== 0) {
      throw errors.badHeader(lr.abs(lr.pos - 4), `layout entry for kind ${entries.length} has sizes ${infoSz}/${elemSz}, not multiples of 4`);
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
    throw errors.badString(at, 'string section does not start with the empty string (split BTF without its base?)');
  }
  if (strings[strings.length - 1] !== 0) {
    throw errors.badString(at + strings.length - 1, 'string section does not end with a NUL byte');
  }
}

function readTypes(r: ByteReader, layout: LayoutEntry[] | undefined): BtfType[] {
  const types: BtfType[] = [];
  const end = r.length;
  while (r.pos < end) {
    const start = r.pos;
    const nameOff = r.u32('type name_off');
    const info = r.u32('type info');
    const sizeOrType = r.u32('type size/type');
    // Wide masks (24-bit vlen, 7-bit kind): old producers always wrote zeros there.
    const vlen = info & 0xffffff;
    const kind = (info >>> 24) & 0x7f;
    const kflag = info >>> 31 === 1;
    const what = (field: string) => `${field} of type #${types.length + 1}`;
    switch (kind) {
      case Kind.Int: {
        const enc = r.u32(what('INT encoding'));
        types.push({
          kind,
          nameOff,
          kflag,
          size: sizeOrType,
          encoding: (enc >>> 24) & 0x0f,
          bitOffset: (enc >>> 16) & 0xff,
          bits: enc & 0xff,
          ...(enc & 0xf000ff00 ? { rawEncoding: enc } : {}),
        });
        break;
      }
      case Kind.Ptr:
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.TypeTag:
        types.push({ kind, nameOff, kflag, type: sizeOrType, ...(vlen ? { rawVlen: vlen } : {}) });
        break;
      case Kind.Fwd:
        types.push({ kind, nameOff, kflag, ...(sizeOrType || vlen ? { rawVlen: vlen, rawSizeOrType: sizeOrType } : {}) });
        break;
      case Kind.Float:
        types.push({ kind, nameOff, kflag, size: sizeOrType, ...(vlen ? { rawVlen: vlen } : {}) });
        break;
      case Kind.Array: {
        r.need(12, what('ARRAY info'));
        const type = r.u32();
        const indexType = r.u32();
        const nelems = r.u32();
        types.push({ kind, nameOff, kflag, type, indexType, nelems, ...(vlen || sizeOrType ? { rawVlen: vlen, rawSizeOrType: sizeOrType } : {}) });
        break;
      }
      case Kind.Struct:
      case Kind.Union: {
        r.need(vlen * 12, what(`${vlen} members`));
        const members: Member[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const mName = r.u32();
          const mType = r.u32();
          const off = r.u32();
          members[i] = kflag
            ? { nameOff: mName, type: mType, bitOffset: off & 0xffffff, bitfieldSize: off >>> 24 }
            : { nameOff: mName, type: mType, bitOffset: off, bitfieldSize: 0 };
        }
        types.push({ kind, nameOff, kflag, size: sizeOrType, members });
        break;
      }
      case Kind.Enum: {
        r.need(vlen * 8, what(`${vlen} enumerators`));
        const values = new Array(vlen);
        for (let i = 0; i < vlen; i++) values[i] = { nameOff: r.u32(), value: r.u32() };
        types.push({ kind, nameOff, kflag, size: sizeOrType, values });
        break;
      }
      case Kind.Enum64: {
        r.need(vlen * 12, what(`${vlen} enumerators`));
        const values = new Array(vlen);
        for (let i = 0; i < vlen; i++) values[i] = { nameOff: r.u32(), lo: r.u32(), hi: r.u32() };
        types.push({ kind, nameOff, kflag, size: sizeOrType, values });
        break;
      }
      case Kind.Func:
        types.push({ kind, nameOff, kflag, type: sizeOrType, linkage: vlen });
        break;
      case Kind.FuncProto: {
        r.need(vlen * 8, what(`${vlen} parameters`));
        const params = new Array(vlen);
        for (let i = 0; i < vlen; i++) params[i] = { nameOff: r.u32(), type: r.u32() };
        types.push({ kind, nameOff, kflag, type: sizeOrType, params });
        break;
      }
      case Kind.Var:
        types.push({ kind, nameOff, kflag, type: sizeOrType, linkage: r.u32(what('VAR linkage')), ...(vlen ? { rawVlen: vlen } : {}) });
        break;
      case Kind.Datasec: {
        r.need(vlen * 12, what(`${vlen} section variables`));
        const vars = new Array(vlen);
        for (let i = 0; i < vlen; i++) vars[i] = { type: r.u32(), offset: r.u32(), size: r.u32() };
        types.push({ kind, nameOff, kflag, size: sizeOrType, vars });
        break;
      }
      case Kind.DeclTag:
        types.push({ kind, nameOff, kflag, type: sizeOrType, componentIdx: r.i32(what('DECL_TAG component_idx')), ...(vlen ? { rawVlen: vlen } : {}) });
        break;
      default: {
        const entry = kind > MAX_KNOWN_KIND || kind === 0 ? layout?.[kind] : undefined;
        if (!entry) {
          throw errors.badBtf(r.abs(start + 4), `unsupported BTF kind ${kind} (no layout section entry describes it)`);
        }
        const n = entry.infoSz + vlen * entry.elemSz;
        r.need(n, what(`kind ${kind} trailing data`));
        const trailing = r.bytes.slice(r.pos, r.pos + n);
        r.pos += n;
        types.push({ kind: UNKNOWN_KIND, rawKind: kind, nameOff, kflag, vlen, sizeOrType, trailing });
      }
    }
  }
  return types;
}

/**
 * libbpf's sanity pass (≥ 1.3): names point into the string section, referenced ids exist,
 * FUNC refers to a FUNC_PROTO. Errors point at the offending record.
 */
function validate(btf: Btf, tr: ByteReader): void {
  const n = btf.typeCount;
  let pos = 0;
  const fail = (field: string, id: number, msg: string): never => {
    throw errors.badBtf(tr.abs(pos), `${field} of type [${id}] ${msg}`);
  };
  const checkName = (off: number, id: number, field: string) => {
    if (!btf.hasString(off)) fail(field, id, `has string offset ${off} outside the string section`);
  };
  const checkId = (ref: number, id: number, field: string) => {
    if (ref >= n) fail(field, id, `refers to type id ${ref}, but the last id is ${n - 1}`);
  };
  for (let i = 0; i < btf.types.length; i++) {
    const t = btf.types[i] as BtfType;
    const id = btf.startId + i;
    checkName(t.nameOff, id, 'name');
    switch (t.kind) {
      case Kind.Ptr:
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.TypeTag:
      case Kind.Var:
      case Kind.DeclTag:
        checkId(t.type, id, 'type');
        break;
      case Kind.Func:
        checkId(t.type, id, 'type');
        if (btf.type(t.type).kind !== Kind.FuncProto) fail('type', id, `is [${t.type}], not a FUNC_PROTO`);
        break;
      case Kind.Array:
        checkId(t.type, id, 'element type');
        checkId(t.indexType, id, 'index type');
        break;
      case Kind.Struct:
      case Kind.Union:
        for (const m of t.members) {
          checkName(m.nameOff, id, 'member name');
          checkId(m.type, id, 'member type');
        }
        break;
      case Kind.Enum:
      case Kind.Enum64:
        for (const v of t.values) checkName(v.nameOff, id, 'enumerator name');
        break;
      case Kind.FuncProto:
        checkId(t.type, id, 'return type');
        for (const p of t.params) {
          checkName(p.nameOff, id, 'parameter name');
          checkId(p.type, id, 'parameter type');
        }
        break;
      case Kind.Datasec:
        for (const v of t.vars) checkId(v.type, id, 'variable type');
        break;
    }
    pos += recordSize(t);
  }
}

/** Size in bytes of a type record on the wire. */
export function recordSize(t: BtfType): number {
  switch (t.kind) {
    case Kind.Int:
    case Kind.Var:
    case Kind.DeclTag:
      return 16;
    case Kind.Array:
      return 24;
    case Kind.Struct:
    case Kind.Union:
      return 12 + 12 * t.members.length;
    case Kind.Enum:
      return 12 + 8 * t.values.length;
    case Kind.Enum64:
      return 12 + 12 * t.values.length;
    case Kind.FuncProto:
      return 12 + 8 * t.params.length;
    case Kind.Datasec:
      return 12 + 12 * t.vars.length;
    case UNKNOWN_KIND:
      return 12 + t.trailing.length;
    default:
      return 12;
  }
}

function hex(b: number | undefined): string {
  return b === undefined ? '(none)' : `0x${b.toString(16).padStart(2, '0')}`;
}

export { BtfkitError };
