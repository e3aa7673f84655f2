import { ByteWriter, HOST_LITTLE_ENDIAN } from '../bytes/reader.ts';
import type { Btf } from './btf.ts';
import { BTF_MAGIC } from './decode.ts';
import { Kind } from './kinds.ts';
import { type BtfType, UNKNOWN_KIND } from './types.ts';

export interface EncodeOptions {
  /** Byte order of the output; default: the BTF's own. */
  littleEndian?: boolean;
  /**
   * 24 (classic; what bpftool ≤ 7.7 writes) or 32 (with layout fields). Default: the header
   * length the BTF was decoded with, else 24.
   */
  hdrLen?: 24 | 32;
}

/**
 * Encodes a BTF to raw bytes: header ‖ types ‖ [layout] ‖ strings, the layout libbpf writes.
 * A BTF decoded from bytes re-encodes to the same bytes (header offsets and gaps included)
 * unless options change the byte order or header form.
 */
export function encodeBtf(btf: Btf, opts: EncodeOptions = {}): Uint8Array {
  const le = opts.littleEndian ?? btf.littleEndian;
  const h = btf.header;
  const hdrLen = opts.hdrLen ?? (h && h.hdrLen >= 32 ? h.hdrLen : 24);
  const types = encodeTypes(btf.types, le);
  const layoutBytes = encodeLayout(btf, le);
  const keepOffsets =
    h !== undefined &&
    opts.hdrLen === undefined &&
    fitsOriginal(h, types.length, layoutBytes?.length, btf.strings.length);

  const typeOff = keepOffsets ? h.typeOff : 0;
  const layoutOff = keepOffsets && h.layoutOff !== undefined ? h.layoutOff : types.length;
  const strOff = keepOffsets ? h.strOff : types.length + (layoutBytes?.length ?? 0);
  const total = hdrLen + Math.max(strOff + btf.strings.length, typeOff + types.length);

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint16(0, BTF_MAGIC, le);
  out[2] = h?.version ?? 1;
  out[3] = h?.flags ?? 0;
  view.setUint32(4, hdrLen, le);
  view.setUint32(8, typeOff, le);
  view.setUint32(12, types.length, le);
  view.setUint32(16, strOff, le);
  view.setUint32(20, btf.strings.length, le);
  if (hdrLen >= 32) {
    view.setUint32(24, layoutBytes ? layoutOff : 0, le);
    view.setUint32(28, layoutBytes?.length ?? 0, le);
    if (h?.extra && hdrLen === h.hdrLen) out.set(h.extra, 32);
  }
  out.set(types, hdrLen + typeOff);
  if (layoutBytes && hdrLen >= 32) out.set(layoutBytes, hdrLen + layoutOff);
  out.set(btf.strings, hdrLen + strOff);
  return out;
}

function fitsOriginal(
  h: NonNullable<Btf['header']>,
  typeLen: number,
  layoutLen: number | undefined,
  strLen: number,
): boolean {
  return h.typeLen === typeLen && h.strLen === strLen && (h.layoutLen ?? 0) === (layoutLen ?? 0);
}

function encodeLayout(btf: Btf, le: boolean): Uint8Array | undefined {
  if (!btf.layout || btf.layout.length === 0) return undefined;
  const w = new ByteWriter(le, btf.layout.length * 4);
  for (const e of btf.layout) {
    w.u8(e.infoSz);
    w.u8(e.elemSz);
    w.u16(e.flags);
  }
  return w.finish();
}

function info(kind: number, vlen: number, kflag: boolean): number {
  return ((kflag ? 0x80000000 : 0) | ((kind & 0x7f) << 24) | (vlen & 0xffffff)) >>> 0;
}

/** Encodes type records only (no header), in the given order. */
export function encodeTypes(types: readonly BtfType[], le: boolean): Uint8Array {
  const w = new ByteWriter(le, Math.max(4096, types.length * 32));
  for (const t of types) writeType(w, t);
  return w.finish();
}

function writeType(w: ByteWriter, t: BtfType): void {
  w.u32(t.nameOff);
  switch (t.kind) {
    case Kind.Int:
      w.u32(info(t.kind, t.rawVlen ?? 0, t.kflag));
      w.u32(t.size);
      w.u32(t.rawEncoding ?? ((t.encoding & 0x0f) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff));
      return;
    case Kind.Ptr:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
    case Kind.TypeTag:
      w.u32(info(t.kind, t.rawVlen ?? 0, t.kflag));
      w.u32(t.type);
      return;
    case Kind.Fwd:
      w.u32(info(t.kind, t.rawVlen ?? 0, t.kflag));
      w.u32(t.rawSizeOrType ?? 0);
      return;
    case Kind.Float:
      w.u32(info(t.kind, t.rawVlen ?? 0, t.kflag));
      w.u32(t.size);
      return;
    case Kind.Array:
      w.u32(info(t.kind, t.rawVlen ?? 0, t.kflag));
      w.u32(t.rawSizeOrType ?? 0);
      w.u32(t.type);
      w.u32(t.indexType);
      w.u32(t.nelems);
      return;
    case Kind.Struct:
    case Kind.Union:
      w.u32(info(t.kind, t.members.length, t.kflag));
      w.u32(t.size);
      for (const m of t.members) {
        w.u32(m.nameOff);
        w.u32(m.type);
        w.u32(t.kflag ? ((m.bitfieldSize << 24) | (m.bitOffset & 0xffffff)) >>> 0 : m.bitOffset);
      }
      return;
    case Kind.Enum:
      w.u32(info(t.kind, t.values.length, t.kflag));
      w.u32(t.size);
      for (const v of t.values) {
        w.u32(v.nameOff);
        w.u32(v.value);
      }
      return;
    case Kind.Enum64:
      w.u32(info(t.kind, t.values.length, t.kflag));
      w.u32(t.size);
      for (const v of t.values) {
        w.u32(v.nameOff);
        w.u32(v.lo);
        w.u32(v.hi);
      }
      return;
    case Kind.Func:
      w.u32(info(t.kind, t.linkage, t.kflag));
      w.u32(t.type);
      return;
    case Kind.FuncProto:
      w.u32(info(t.kind, t.params.length, t.kflag));
      w.u32(t.type);
      for (const p of t.params) {
        w.u32(p.nameOff);
        w.u32(p.type);
      }
      return;
    case Kind.Var:
      w.u32(info(t.kind, t.rawVlen ?? 0, t.kflag));
      w.u32(t.type);
      w.u32(t.linkage);
      return;
    case Kind.Datasec:
      w.u32(info(t.kind, t.vars.length, t.kflag));
      w.u32(t.size);
      for (const v of t.vars) {
        w.u32(v.type);
        w.u32(v.offset);
        w.u32(v.size);
      }
      return;
    case Kind.DeclTag:
      w.u32(info(t.kind, t.rawVlen ?? 0, t.kflag));
      w.u32(t.type);
      w.i32(t.componentIdx);
      return;
    case UNKNOWN_KIND:
      w.u32(info(t.rawKind, t.vlen, t.kflag));
      w.u32(t.sizeOrType);
      w.bytes(t.trailing);
      return;
    case Kind.Unkn:
      throw new Error('void (id 0) is never encoded');
  }
}

/**
 * Builds a string section the way libbpf's writer does: the empty string at offset 0,
 * then each distinct string once, in first-use order.
 *
 * With `splitStartOff`, the section of a split BTF instead: no leading empty string (the
 * base has it), offsets continuing at `splitStartOff`, the base's string section length.
 */
export class StringTableBuilder {
  private readonly offsets = new Map<string, number>();
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  private readonly startOff: number;
  private static readonly enc = new TextEncoder();

  constructor(splitStartOff?: number) {
    if (splitStartOff === undefined) {
      this.startOff = 0;
      this.add('');
    } else {
      this.startOff = splitStartOff;
    }
  }

  /** Every string added so far, with its offset. */
  get known(): ReadonlyMap<string, number> {
    return this.offsets;
  }

  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const bytes = StringTableBuilder.enc.encode(s);
    const off = this.startOff + this.size;
    const chunk = new Uint8Array(bytes.length + 1);
    chunk.set(bytes);
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.offsets.set(s, off);
    return off;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Host byte order: what `btf__new_empty()` (and so bpftool's min_core_btf) writes. */
export const HOST_ENDIAN_LITTLE = HOST_LITTLE_ENDIAN;
