import { errors } from '../errors/index.ts';

/**
 * A bounds-checked cursor over a byte slice with an explicit byte order. Every read checks
 * the bytes are there first and fails with a TRUNCATED error naming the absolute offset and
 * what was being read, so no parser in btfkit can read past its input.
 *
 * `base` is the absolute position of `bytes[0]` within the original file, so offsets in
 * errors point into the file the user gave us, not into a sub-slice.
 */
export class ByteReader {
  readonly view: DataView;
  pos = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly base = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Absolute file offset of a position in this slice. */
  abs(pos: number = this.pos): number {
    return this.base + pos;
  }

  need(n: number, what: string, at: number = this.pos): void {
    if (at < 0 || n < 0 || at + n > this.bytes.length) {
      throw errors.truncated(this.abs(at), n, what, this.bytes.length - at, this.abs(this.bytes.length));
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }
  i32(what = 'i32'): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }
  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }
  /**
   * A u64 that must fit in a JS number (file offsets and sizes). Read as two u32 halves: no
   * BigInt per field (an object's symbols and sections have thousands of them).
   */
  u64n(what = 'u64'): number {
    const at = this.pos;
    this.need(8, what);
    const le = this.littleEndian;
    const lo = this.view.getUint32(le ? at : at + 4, le);
    const hi = this.view.getUint32(le ? at + 4 : at, le);
    // Above 2^53 - 1 (hi past 21 bits) a double would round.
    if (hi > 0x1fffff) {
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      throw errors.badHeader(this.abs(at), `${what} ${v} is too large`);
    }
    this.pos = at + 8;
    // hi is nearly always 0: unoptimized code would box both products of the general form.
    return hi === 0 ? lo : hi * 0x100000000 + lo;
  }

  /** Zero-copy sub-slice [at, at+len), bounds checked; its reader keeps absolute offsets. */
  slice(at: number, len: number, what: string): ByteReader {
    this.need(len, what, at);
    return new ByteReader(this.bytes.subarray(at, at + len), this.littleEndian, this.base + at);
  }

  seek(pos: number): this {
    this.pos = pos;
    return this;
  }
}

/** Growable little/big-endian writer used by the BTF encoder and instruction patcher. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(
    readonly littleEndian: boolean,
    initial = 4096,
  ) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v, this.littleEndian);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v >>> 0, this.littleEndian);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v | 0, this.littleEndian);
    this.length += 4;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** Overwrite a u32 already written at `at`. */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, this.littleEndian);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
