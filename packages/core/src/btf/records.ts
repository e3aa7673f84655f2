import type { ByteReader } from '../bytes/reader.ts';
import { errors } from '../errors/index.ts';
import { scanTypesFast } from './btf-wasm-kit.ts';
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
import {
  ARRAY_BYTES,
  BtfKind,
  DECL_TAG_BYTES,
  ENUM_VALUE_BYTES,
  ENUM64_VALUE_BYTES,
  INT_ENCODING_BYTES,
  MAX_KNOWN_KIND,
  MEMBER_BYTES,
  PARAM_BYTES,
  RECORD_HEAD_BYTES,
  VAR_BYTES,
  VAR_SECINFO_BYTES,
} from './wire.ts';

/** One record of the layout section: how to skip a kind (sizes in bytes). */
export interface LayoutEntry {
  infoSz: number;
  elemSz: number;
  flags: number;
}

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The type section of a decoded BTF, kept as words with one offset per record, so a type
 * becomes a JS object only when someone asks for it. A kernel has ~100k records; a CO-RE
 * relocation or a minimization looks at a few thousand of them, and building all 100k
 * objects (plus their member arrays) cost more than everything else in those commands.
 * Kinds and name offsets are read from the words directly (name indexes need nothing more).
 */
export class TypeRecords {
  /** Number of records. */
  readonly count: number;

  constructor(
    /** The type section as 32-bit words in host byte order (read-only for users). */
    readonly words: Uint32Array,
    /** The type section as in the file (unknown kinds keep their trailing bytes verbatim). */
    private readonly bytes: Uint8Array,
    /** Word index of each record's first word. */
    private readonly offs: Uint32Array,
    private readonly layout: LayoutEntry[] | undefined,
  ) {
    this.count = offs.length;
  }

  /** Word index of each record's first word (read-only: for printers that copy them). */
  get offsets(): Uint32Array {
    return this.offs;
  }

  /** Word index where record `i` starts (byte offset in the type section / 4). */
  wordAt(i: number): number {
    return this.offs[i] as number;
  }

  /** The `kind` that the materialized record would have (UNKNOWN_KIND for layout-described kinds). */
  kind(i: number): number {
    const k = ((this.words[(this.offs[i] as number) + 1] as number) >>> 24) & 0x7f;
    return k >= 1 && k <= MAX_KNOWN_KIND ? k : UNKNOWN_KIND;
  }

  nameOff(i: number): number {
    return this.words[this.offs[i] as number] as number;
  }

  /** Builds record `i` as a BtfType, exactly as an eager decode would have. */
  materialize(i: number): BtfType {
    const w = this.words;
    let p = this.offs[i] as number;
    const nameOff = w[p] as number;
    const info = w[p + 1] as number;
    const sizeOrType = w[p + 2] as number;
    p += 3;
    // Wide masks (24-bit vlen, 7-bit kind): old producers always wrote zeros there.
    const vlen = info & 0xffffff;
    const kind = (info >>> 24) & 0x7f;
    const kflag = info >>> 31 === 1;
    switch (kind) {
      case BtfKind.Int: {
        const enc = w[p] as number;
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
        return it;
      }
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag: {
        const t = { kind, nameOff, kflag, type: sizeOrType } as RefType;
        if (vlen) t.rawVlen = vlen;
        return t;
      }
      case BtfKind.Fwd: {
        const t: BtfType = { kind, nameOff, kflag };
        if (sizeOrType || vlen) {
          t.rawVlen = vlen;
          t.rawSizeOrType = sizeOrType;
        }
        return t;
      }
      case BtfKind.Float: {
        const t: BtfType = { kind, nameOff, kflag, size: sizeOrType };
        if (vlen) t.rawVlen = vlen;
        return t;
      }
      case BtfKind.Array: {
        const t: BtfType = {
          kind,
          nameOff,
          kflag,
          type: w[p] as number,
          indexType: w[p + 1] as number,
          nelems: w[p + 2] as number,
        };
        if (vlen || sizeOrType) {
          t.rawVlen = vlen;
          t.rawSizeOrType = sizeOrType;
        }
        return t;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        const members: Member[] = new Array(vlen);
        for (let j = 0; j < vlen; j++, p += 3) {
          const off = w[p + 2] as number;
          members[j] = {
            nameOff: w[p] as number,
            type: w[p + 1] as number,
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        return { kind, nameOff, kflag, size: sizeOrType, members } as CompositeType;
      }
      case BtfKind.Enum: {
        const values: EnumValue[] = new Array(vlen);
        for (let j = 0; j < vlen; j++, p += 2)
          values[j] = { nameOff: w[p] as number, value: w[p + 1] as number };
        return { kind, nameOff, kflag, size: sizeOrType, values };
      }
      case BtfKind.Enum64: {
        const values: Enum64Value[] = new Array(vlen);
        for (let j = 0; j < vlen; j++, p += 3)
          values[j] = { nameOff: w[p] as number, lo: w[p + 1] as number, hi: w[p + 2] as number };
        return { kind, nameOff, kflag, size: sizeOrType, values };
      }
      case BtfKind.Func:
        return { kind, nameOff, kflag, type: sizeOrType, linkage: vlen };
      case BtfKind.FuncProto: {
        const params: Param[] = new Array(vlen);
        for (let j = 0; j < vlen; j++, p += 2)
          params[j] = { nameOff: w[p] as number, type: w[p + 1] as number };
        return { kind, nameOff, kflag, type: sizeOrType, params };
      }
      case BtfKind.Var: {
        const t: BtfType = { kind, nameOff, kflag, type: sizeOrType, linkage: w[p] as number };
        if (vlen) t.rawVlen = vlen;
        return t;
      }
      case BtfKind.Datasec: {
        const vars: DatasecVar[] = new Array(vlen);
        for (let j = 0; j < vlen; j++, p += 3)
          vars[j] = { type: w[p] as number, offset: w[p + 1] as number, size: w[p + 2] as number };
        return { kind, nameOff, kflag, size: sizeOrType, vars };
      }
      case BtfKind.DeclTag: {
        const t: BtfType = { kind, nameOff, kflag, type: sizeOrType, componentIdx: (w[p] as number) | 0 };
        if (vlen) t.rawVlen = vlen;
        return t;
      }
      default: {
        // The scan accepted this record only because the layout section describes its kind.
        const entry = this.layout?.[kind] as LayoutEntry;
        const n = entry.infoSz + vlen * entry.elemSz;
        const trailing = this.bytes.slice(p * 4, p * 4 + n);
        return { kind: UNKNOWN_KIND, rawKind: kind, nameOff, kflag, vlen, sizeOrType, trailing };
      }
    }
  }
}

/** The type section's bytes as host-order words: a view when possible, else one copy. */
function toWords(r: ByteReader): Uint32Array {
  const bytes = r.bytes;
  const n = bytes.length >>> 2;
  if (r.littleEndian === HOST_LE) {
    if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, n);
    const words = new Uint32Array(n);
    new Uint8Array(words.buffer).set(bytes.subarray(0, n * 4));
    return words;
  }
  const words = new Uint32Array(n);
  const v = r.view;
  for (let i = 0; i < n; i++) words[i] = v.getUint32(i * 4, r.littleEndian);
  return words;
}

/** Names the record being read in errors ("members of type #12"); built only on failure. */
function recordWhat(field: string, index: number): string {
  return `${field} of type #${index + 1}`;
}

/** What one scan found besides the records: the largest string offset and type id used. */
export interface ScanResult {
  records: TypeRecords;
  /** Largest string offset any record refers to (type, member, enumerator, parameter names). */
  maxNameOff: number;
  /** Largest type id any record refers to (the references libbpf's sanity pass checks). */
  maxTypeRef: number;
  /**
   * True when the scan saw every FUNC refer to a FUNC_PROTO among these records (the fast
   * scan checks it on the way); otherwise decode.ts checks.
   */
  funcProtosOk?: boolean;
}

/**
 * One pass over the type section recording where each record starts. Every record's full
 * size is checked against the section before the next one is looked at, and a kind we do not
 * know is accepted only when the layout section says how to skip it, so everything
 * `materialize` reads later is known to be there. On the way it notes the largest name
 * offset and referenced id, so validation needs a second look only at input that fails.
 */
export function scanTypes(r: ByteReader, layout: LayoutEntry[] | undefined, firstId = 1): ScanResult {
  const words = toWords(r);
  // WebAssembly first (btf-wasm-kit.ts); what it does not take, the JavaScript scan scans or refuses.
  const fast = scanTypesFast(words, r.length, firstId);
  if (!fast) return scanTypesJs(r, layout, words);
  return {
    records: new TypeRecords(words, r.bytes, fast.offs, layout),
    maxNameOff: fast.maxNameOff,
    maxTypeRef: fast.maxTypeRef,
    funcProtosOk: fast.funcProtosOk,
  };
}

/** scanTypes in JavaScript alone (exported for the test that holds the fast path to it). */
export function scanTypesJs(
  r: ByteReader,
  layout: LayoutEntry[] | undefined,
  words = toWords(r),
): ScanResult {
  const end = r.length;
  // At least 12 bytes a record, so this many offsets suffice.
  const offs = new Uint32Array(Math.floor(end / 12) + 1);
  let count = 0;
  let pos = 0;
  let maxName = 0;
  let maxRef = 0;
  const need = (n: number, field: string) => {
    if (pos + n > end) throw errors.truncated(r.abs(pos), n, recordWhat(field, count), end - pos);
  };
  while (pos < end) {
    const start = pos;
    need(RECORD_HEAD_BYTES, 'type record');
    const w = pos >>> 2;
    const nameOff = words[w] as number;
    if (nameOff > maxName) maxName = nameOff;
    const info = words[w + 1] as number;
    const ref = words[w + 2] as number;
    pos += RECORD_HEAD_BYTES;
    const vlen = info & 0xffffff;
    const kind = (info >>> 24) & 0x7f;
    switch (kind) {
      case BtfKind.Int:
        need(INT_ENCODING_BYTES, 'INT encoding');
        pos += INT_ENCODING_BYTES;
        break;
      case BtfKind.Fwd:
      case BtfKind.Float:
        break;
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.Func:
      case BtfKind.TypeTag:
        if (ref > maxRef) maxRef = ref;
        break;
      case BtfKind.Array: {
        need(ARRAY_BYTES, 'ARRAY info');
        const elem = words[w + 3] as number;
        const index = words[w + 4] as number;
        if (elem > maxRef) maxRef = elem;
        if (index > maxRef) maxRef = index;
        pos += ARRAY_BYTES;
        break;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        need(vlen * MEMBER_BYTES, `${vlen} members`);
        for (let p = w + 3, e = p + vlen * 3; p < e; p += 3) {
          const n = words[p] as number;
          const t = words[p + 1] as number;
          if (n > maxName) maxName = n;
          if (t > maxRef) maxRef = t;
        }
        pos += vlen * MEMBER_BYTES;
        break;
      }
      case BtfKind.Enum:
        need(vlen * ENUM_VALUE_BYTES, `${vlen} enumerators`);
        for (let p = w + 3, e = p + vlen * 2; p < e; p += 2) {
          const n = words[p] as number;
          if (n > maxName) maxName = n;
        }
        pos += vlen * ENUM_VALUE_BYTES;
        break;
      case BtfKind.Enum64:
        need(vlen * ENUM64_VALUE_BYTES, `${vlen} enumerators`);
        for (let p = w + 3, e = p + vlen * 3; p < e; p += 3) {
          const n = words[p] as number;
          if (n > maxName) maxName = n;
        }
        pos += vlen * ENUM64_VALUE_BYTES;
        break;
      case BtfKind.FuncProto:
        need(vlen * PARAM_BYTES, `${vlen} parameters`);
        if (ref > maxRef) maxRef = ref;
        for (let p = w + 3, e = p + vlen * 2; p < e; p += 2) {
          const n = words[p] as number;
          const t = words[p + 1] as number;
          if (n > maxName) maxName = n;
          if (t > maxRef) maxRef = t;
        }
        pos += vlen * PARAM_BYTES;
        break;
      case BtfKind.Var:
        need(VAR_BYTES, 'VAR linkage');
        if (ref > maxRef) maxRef = ref;
        pos += VAR_BYTES;
        break;
      case BtfKind.Datasec:
        need(vlen * VAR_SECINFO_BYTES, `${vlen} section variables`);
        for (let p = w + 3, e = p + vlen * 3; p < e; p += 3) {
          const t = words[p] as number;
          if (t > maxRef) maxRef = t;
        }
        pos += vlen * VAR_SECINFO_BYTES;
        break;
      case BtfKind.DeclTag:
        need(DECL_TAG_BYTES, 'DECL_TAG component_idx');
        if (ref > maxRef) maxRef = ref;
        pos += DECL_TAG_BYTES;
        break;
      default: {
        const entry = kind > MAX_KNOWN_KIND || kind === BtfKind.Unkn ? layout?.[kind] : undefined;
        if (!entry) {
          throw errors.badBtf(
            r.abs(start + 4),
            `unsupported BTF kind ${kind} (no layout section entry describes it)`,
          );
        }
        const n = entry.infoSz + vlen * entry.elemSz;
        need(n, `kind ${kind} trailing data`);
        pos += n;
      }
    }
    offs[count++] = start >>> 2;
  }
  return {
    records: new TypeRecords(words, r.bytes, offs.slice(0, count), layout),
    maxNameOff: maxName,
    maxTypeRef: maxRef,
  };
}
