/**
 * An ASCII/byte output buffer for the printers: numbers are written as digits and names are
 * copied byte for byte from the string section, so printing a 100k-type kernel creates
 * almost no JS strings (and so almost no garbage). Full chunks go to the sink in order.
 */
export type ByteSink = (chunk: Uint8Array) => void;

const DEFAULT_CHUNK = 1 << 20;

/** "00" to "99" as ASCII byte pairs: uint() writes two digits per division. */
const PAIRS = Uint8Array.from(
  { length: 200 },
  (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)),
);

export class TextOut {
  private buf: Uint8Array;
  private len = 0;
  private readonly digits = new Uint8Array(24);

  /**
   * `reuse`: the sink is done with a chunk when it returns (a synchronous write), so one
   * buffer serves the whole output instead of a fresh megabyte per chunk.
   */
  constructor(
    private readonly sink: ByteSink,
    private readonly chunkSize = DEFAULT_CHUNK,
    private readonly reuse = false,
  ) {
    // Room for one chunk plus the longest single write that can follow it.
    this.buf = new Uint8Array(chunkSize + 4096);
  }

  /** Call between records: hands a full chunk to the sink. */
  maybeFlush(): void {
    if (this.len >= this.chunkSize) this.flush();
  }

  /** Hands the filled part of the buffer over (no copy) and starts a fresh one. */
  flush(): void {
    if (this.len === 0) return;
    this.sink(this.buf.subarray(0, this.len));
    if (!this.reuse) this.buf = new Uint8Array(this.buf.length);
    this.len = 0;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** A constant ASCII fragment, pre-encoded with `ascii()`. */
  lit(b: Uint8Array): void {
    const n = b.length;
    this.reserve(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) buf[at++] = b[i] as number;
    this.len = at;
  }

  byte(c: number): void {
    this.reserve(1);
    this.buf[this.len++] = c;
  }

  /**
   * The NUL-terminated string at `src[start]` (to the end of `src` without a NUL), verbatim:
   * found and copied in one loop. (Buffer#indexOf, to find the end first, is a JS wrapper
   * with argument validation around a native call: slower than the copy for short names.)
   */
  cString(src: Uint8Array, start: number): void {
    const n = src.length;
    let at = this.len;
    let buf = this.buf;
    for (let i = start; i < n; i++) {
      const c = src[i] as number;
      if (c === 0) break;
      if (at === buf.length) {
        this.len = at;
        this.reserve(1);
        buf = this.buf;
      }
      buf[at++] = c;
    }
    this.len = at;
  }

  /** A non-negative integer below 2^53, in decimal (printf %u). */
  uint(v: number): void {
    this.reserve(20);
    const buf = this.buf;
    if (v < 10) {
      buf[this.len++] = 48 + v;
      return;
    }
    if (v < 100) {
      const pair = v << 1;
      buf[this.len] = PAIRS[pair] as number;
      buf[this.len + 1] = PAIRS[pair + 1] as number;
      this.len += 2;
      return;
    }
    const d = this.digits;
    let n = 0;
    // Beyond int32 (rare: u32 enum values, 64-bit halves) one digit at a time in doubles.
    while (v >= 0x80000000) {
      const q = Math.floor(v / 10);
      d[n++] = 48 + (v - q * 10);
      v = q;
    }
    // Two digits per division, from the table.
    while (v >= 100) {
      const q = (v / 100) | 0;
      const pair = (v - q * 100) << 1;
      d[n++] = PAIRS[pair + 1] as number;
      d[n++] = PAIRS[pair] as number;
      v = q;
    }
    if (v >= 10) {
      d[n++] = PAIRS[(v << 1) + 1] as number;
      d[n++] = PAIRS[v << 1] as number;
    } else d[n++] = 48 + v;
    let at = this.len;
    while (n > 0) buf[at++] = d[--n] as number;
    this.len = at;
  }

  /** A signed integer (printf %d). */
  int(v: number): void {
    if (v < 0) {
      this.byte(45);
      this.uint(-v);
    } else this.uint(v);
  }

  /** Any string of char codes < 256 (latin1), e.g. a bigint's digits. */
  str(s: string): void {
    const n = s.length;
    this.reserve(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i) & 0xff;
    this.len = at;
  }
}

/** Pre-encodes a constant fragment for `TextOut.lit`. */
export function ascii(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}
