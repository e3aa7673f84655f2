import { ByteReader } from '../bytes/reader.ts';
import { BtfkitError, errors, inFile } from '../errors/index.ts';
import { Btf, type BtfHeader, type LayoutEntry } from './btf.ts';
import { Kind, MAX_KNOWN_KIND } from './kinds.ts';
import {
  type BtfType,
  type CompositeType,
  type DatasecVar,
  type Enum64Value,
  type EnumValue,
  type IntType,
  type Member,
  type Param,
  type RefType,
  UNKNOWN_KIND,
} from './types.ts';

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

/** Names the record being read in errors ("members of type #12"); built only on failure. */
function recordWhat(field: string, index: number): string {
  return `${field} of type #${index + 1}`;
}

/**
 * Reads the type records. This is the hot loop of every kernel load (100k+ records), so it
 * reads through the DataView directly, checks each record's full size once before reading
 * it, and builds each kind's object with one fixed shape (optional raw fields are added
 * only when present) to keep allocation and GC low.
 */
function readTypes(r: ByteReader, layout: LayoutEntry[] | undefined): BtfType[] {
  const types: BtfType[] = [];
  const v = r.view;
  const le = r.littleEndian;
  const end = r.length;
  let pos = 0;
  const need = (n: number, field: string) => {
    if (pos + n > end) throw errors.truncated(r.abs(pos), n, recordWhat(field, types.length), end - pos);
  };
  while (pos < end) {
    const start = pos;
    need(12, 'type record');
    const nameOff = v.getUint32(pos, le);
    const info = v.getUint32(pos + 4, le);
    const sizeOrType = v.getUint32(pos + 8, le);
    pos += 12;
    // Wide masks (24-bit vlen, 7-bit kind): old producers always wrote zeros there.
    const vlen = info & 0xffffff;
    const kind = (info >>> 24) & 0x7f;
    const kflag = info >>> 31 === 1;
    let t: BtfType;
    switch (kind) {
      case 1 /* Kind.Int */:
        {
          need(4, 'INT encoding');
          const enc = v.getUint32(pos, le);
          pos += 4;
          const it: IntType = {
            kind,
            nameOff,
            kflag,
            size: sizeOrType,
            encoding: (enc >>> 24) & 0x0f,
            bitOffset: (enc >>> 16) & 0xff,
            bits: enc & 0xff,
          };
          if (enc & 0xf000ff00) it.rawEncoding = enc;
          if (vlen) it.rawVlen = vlen;
          t = it;
          break;
        }
      case 2 /* Kind.Ptr */:
      case 8 /* Kind.Typedef */:
      case 9 /* Kind.Volatile */:
      case 10 /* Kind.Const */:
      case 11 /* Kind.Restrict */:
      case 18 /* Kind.TypeTag */:
        t = { kind, nameOff, kflag, type: sizeOrType } as RefType;
        if (vlen) t.rawVlen = vlen;
        break;
      case 7 /* Kind.Fwd */:
        t = { kind, nameOff, kflag };
        if (sizeOrType || vlen) {
          t.rawVlen = vlen;
          t.rawSizeOrType = sizeOrType;
        }
        break;
      case 16 /* Kind.Float */:
        t = { kind, nameOff, kflag, size: sizeOrType };
        if (vlen) t.rawVlen = vlen;
        break;
      case 3 /* Kind.Array */:
        {
          need(12, 'ARRAY info');
          t = {
            kind,
            nameOff,
            kflag,
            type: v.getUint32(pos, le),
            indexType: v.getUint32(pos + 4, le),
            nelems: v.getUint32(pos + 8, le),
          };
          pos += 12;
          if (vlen || sizeOrType) {
            t.rawVlen = vlen;
            t.rawSizeOrType = sizeOrType;
          }
          break;
        }
      case 4 /* Kind.Struct */:
      case 5 /* Kind.Union */:
        {
          need(vlen * 12, `${vlen} members`);
          const members: Member[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, pos += 12) {
            const off = v.getUint32(pos + 8, le);
            members[i] = {
              nameOff: v.getUint32(pos, le),
              type: v.getUint32(pos + 4, le),
              bitOffset: kflag ? off & 0xffffff : off,
              bitfieldSize: kflag ? off >>> 24 : 0,
            };
          }
          t = { kind, nameOff, kflag, size: sizeOrType, members } as CompositeType;
          break;
        }
      case 6 /* Kind.Enum */:
        {
          need(vlen * 8, `${vlen} enumerators`);
          const values: EnumValue[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, pos += 8)
            values[i] = { nameOff: v.getUint32(pos, le), value: v.getUint32(pos + 4, le) };
          t = { kind, nameOff, kflag, size: sizeOrType, values };
          break;
        }
      case 19 /* Kind.Enum64 */:
        {
          need(vlen * 12, `${vlen} enumerators`);
          const values: Enum64Value[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, pos += 12) {
            values[i] = {
              nameOff: v.getUint32(pos, le),
              lo: v.getUint32(pos + 4, le),
              hi: v.getUint32(pos + 8, le),
            };
          }
          t = { kind, nameOff, kflag, size: sizeOrType, values };
          break;
        }
      case 12 /* Kind.Func */:
        t = { kind, nameOff, kflag, type: sizeOrType, linkage: vlen };
        break;
      case 13 /* Kind.FuncProto */:
        {
          need(vlen * 8, `${vlen} parameters`);
          const params: Param[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, pos += 8)
            params[i] = { nameOff: v.getUint32(pos, le), type: v.getUint32(pos + 4, le) };
          t = { kind, nameOff, kflag, type: sizeOrType, params };
          break;
        }
      case 14 /* Kind.Var */:
        need(4, 'VAR linkage');
        t = { kind, nameOff, kflag, type: sizeOrType, linkage: v.getUint32(pos, le) };
        pos += 4;
        if (vlen) t.rawVlen = vlen;
        break;
      case 15 /* Kind.Datasec */:
        {
          need(vlen * 12, `${vlen} section variables`);
          const vars: DatasecVar[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, pos += 12) {
            vars[i] = {
              type: v.getUint32(pos, le),
              offset: v.getUint32(pos + 4, le),
              size: v.getUint32(pos + 8, le),
            };
          }
          t = { kind, nameOff, kflag, size: sizeOrType, vars };
          break;
        }
      case 17 /* Kind.DeclTag */:
        need(4, 'DECL_TAG component_idx');
        t = { kind, nameOff, kflag, type: sizeOrType, componentIdx: v.getInt32(pos, le) };
        pos += 4;
        if (vlen) t.rawVlen = vlen;
        break;
      default: {
        const entry = kind > MAX_KNOWN_KIND || kind === 0 ? layout?.[kind] : undefined;
        if (!entry) {
          throw errors.badBtf(
            r.abs(start + 4),
            `unsupported BTF kind ${kind} (no layout section entry describes it)`,
          );
        }
        const n = entry.infoSz + vlen * entry.elemSz;
        need(n, `kind ${kind} trailing data`);
        const trailing = r.bytes.slice(pos, pos + n);
        pos += n;
        t = { kind: UNKNOWN_KIND, rawKind: kind, nameOff, kflag, vlen, sizeOrType, trailing };
      }
    }
    types.push(t);
  }
  return types;
}

/**
 * libbpf's sanity pass (≥ 1.3): names point into the string section, referenced ids exist,
 * FUNC refers to a FUNC_PROTO. Errors point at the offending record.
 */
function validate(btf: Btf, tr: ByteReader): void {
  const n = btf.typeCount;
  const types = btf.types;
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
  for (let i = 0; i < types.length; i++) {
    const t = types[i] as BtfType;
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
      case Kind.Union: {
        const ms = t.members;
        for (let j = 0; j < ms.length; j++) {
          const m = ms[j] as Member;
          checkName(m.nameOff, id, 'member name');
          checkId(m.type, id, 'member type');
        }
        break;
      }
      case Kind.Enum:
      case Kind.Enum64: {
        const vs: { nameOff: number }[] = t.values;
        for (let j = 0; j < vs.length; j++)
          checkName((vs[j] as { nameOff: number }).nameOff, id, 'enumerator name');
        break;
      }
      case Kind.FuncProto: {
        checkId(t.type, id, 'return type');
        const ps = t.params;
        for (let j = 0; j < ps.length; j++) {
          const p = ps[j] as Param;
          checkName(p.nameOff, id, 'parameter name');
          checkId(p.type, id, 'parameter type');
        }
        break;
      }
      case Kind.Datasec: {
        const vs = t.vars;
        for (let j = 0; j < vs.length; j++) checkId((vs[j] as DatasecVar).type, id, 'variable type');
        break;
      }
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
