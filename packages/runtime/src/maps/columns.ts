/**
 * Columnar record batches: N records of one type decoded into one typed array per field
 * (core's columnLayout names them and picks the arrays), so a consumer of many events pays
 * no object, bigint or string per event. The arrays of a batch are made once and refilled by
 * every batch taken after it.
 *
 * The decoder is generated once per record type (`new Function`) from the layout: each field
 * is a straight-line copy with a constant offset from the record's start into its column,
 * through typed arrays over the source memory where the field is aligned and in host byte
 * order (a plain load), through a DataView otherwise. 64-bit values and doubles are copied as
 * two 32-bit words into a Uint32Array over their column, so no bigint is made and a NaN's
 * bits are kept. Binding the decoder to one source memory and one set of columns makes the
 * loop read them as closure constants, which V8 compiles far better than arrays passed in.
 */
import { type ColumnSpec, columnLayout, errors, type TypeDesc } from '../deps.ts';

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextDecoder('utf-8');

/** Typed arrays over one source region whose start is 8-byte aligned. */
export interface SourceMemory {
  u8: Uint8Array;
  i8: Int8Array;
  u16: Uint16Array;
  i16: Int16Array;
  u32: Uint32Array;
  i32: Int32Array;
  u64: BigUint64Array;
  dv: DataView;
}

export function sourceMemory(buffer: ArrayBufferLike, byteOffset: number, byteLength: number): SourceMemory {
  if (byteOffset & 7) throw errors.badOption(`columns: source memory at ${byteOffset} is not 8-byte aligned`);
  return {
    u8: new Uint8Array(buffer, byteOffset, byteLength),
    i8: new Int8Array(buffer, byteOffset, byteLength),
    u16: new Uint16Array(buffer, byteOffset, byteLength >> 1),
    i16: new Int16Array(buffer, byteOffset, byteLength >> 1),
    u32: new Uint32Array(buffer, byteOffset, byteLength >> 2),
    i32: new Int32Array(buffer, byteOffset, byteLength >> 2),
    u64: new BigUint64Array(buffer, byteOffset, byteLength >> 3),
    dv: new DataView(buffer, byteOffset, byteLength),
  };
}

/** char[N] fields: N bytes per record in one slab, decoded to a string only when asked. */
export class CharColumn {
  constructor(
    /** Bytes per record. */
    readonly size: number,
    /** Record i's bytes are [i * size, (i + 1) * size). */
    readonly bytes: Uint8Array,
  ) {}

  /** Record i's value as a C string: up to the first NUL, UTF-8 (as the record views read it). */
  string(i: number): string {
    const n = this.size;
    const at = i * n;
    const b = this.bytes;
    let s = '';
    for (let k = 0; k < n; k++) {
      const c = b[at + k] as number;
      if (c === 0) return s;
      if (c >= 0x80 || k >= 32) {
        const raw = b.subarray(at, at + n);
        const nul = raw.indexOf(0);
        return utf8.decode(nul < 0 ? raw : raw.subarray(0, nul));
      }
      s += String.fromCharCode(c);
    }
    return s;
  }

  /** Record i's bytes (a view into the slab, valid until the next batch). */
  at(i: number): Uint8Array {
    return this.bytes.subarray(i * this.size, (i + 1) * this.size);
  }
}

/** Raw-byte fields (odd-sized ints, opaque members): N bytes per record in one slab. */
export class BytesColumn {
  constructor(
    readonly size: number,
    readonly bytes: Uint8Array,
  ) {}

  at(i: number): Uint8Array {
    return this.bytes.subarray(i * this.size, (i + 1) * this.size);
  }
}

export type Column =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array
  | CharColumn
  | BytesColumn;

/**
 * One batch of records as columns. `columns[name]` holds `capacity` records; the first
 * `length` are this batch's. The same batch object and arrays are refilled by the next batch
 * taken from the same consumer: copy out (`slice`) what must outlive it.
 */
export class ColumnBatch<C = Record<string, Column>> {
  length = 0;
  /** Perf buffers: records the kernel reported lost since the previous batch. */
  lost = 0;
  /** Perf buffers: the CPU each record came from. */
  readonly cpu: Int32Array;
  readonly columns: C;

  constructor(
    readonly layout: readonly ColumnSpec[],
    readonly capacity: number,
    columns: Record<string, Column>,
  ) {
    this.columns = columns as C;
    this.cpu = new Int32Array(capacity);
  }

  /** An enum column's value for record i as the codec names it (the number when unnamed). */
  enumName(name: string, i: number): string | number | bigint {
    const spec = this.layout.find((c) => c.name === name);
    if (spec?.kind !== 'enum')
      throw errors.badOption(`columns: '${name}' is not an enum column of this record type`);
    const raw = (this.columns as Record<string, Column>)[name] as Int32Array | BigInt64Array;
    const v = raw[i] as number | bigint;
    const hit = spec.values?.find(([, x]) => x === String(v));
    return hit ? hit[0] : v;
  }
}

/** Decodes `n` records at payload offsets `offs` (with their sizes) into rows `row`.. */
export type ColumnDecode = (offs: Int32Array, sizes: Int32Array, n: number, row: number) => void;

/**
 * Walks a BPF ring buffer's data area from offset `off` (the consumer position masked) over
 * at most `avail` bytes and `max` records, decoding each record into rows 0..; returns how
 * many, `st[0]` the bytes walked. Offsets and counts stay below the ring's size, so the
 * walk is all small-integer arithmetic: a loop carrying the 64-bit position (a double once
 * it passes 2^31) spent half its time converting it, on the chain from one header to the next.
 */
export type RingDecode = (off: number, avail: number, max: number, mask: number, st: Int32Array) => number;

/** The ring buffer record header (kernel/bpf/ringbuf.c), as ringbuf.ts reads it. */
const RING_BUSY = 0x80000000;
const RING_DISCARD = 0x40000000;
const RING_LEN = 0x3fffffff;
const RING_HDR = 8;

/** Decoder bindings made in this process (see ColumnCodec.factory). */
let bindings = 0;

/**
 * A record type's columnar decoder, generated once: `bind()` ties it to a source memory and
 * a fresh batch of columns.
 */
export class ColumnCodec {
  readonly layout: ColumnSpec[];
  /** The record's size: shorter payloads are zero-filled to it before decoding. */
  readonly size: number;
  /** The decoder's source, made once per record type. */
  private readonly source: string;

  constructor(
    types: Record<string, TypeDesc>,
    desc: TypeDesc,
    size: number,
    readonly littleEndian: boolean,
  ) {
    this.layout = columnLayout(types, desc);
    this.size = size;
    this.source = decoderSource(this.layout, size, littleEndian);
  }

  /**
   * A decoder closure over `mem` and the column arrays. Each binding compiles the source
   * afresh: V8 folds a closure's captured values into its optimized code as constants only
   * while its function has made a single closure, and that is what makes the loop fast
   * (measured 15 ns/event with shared code, ~6 with a function per binding). The source
   * ends in a comment naming the binding: V8 caches `new Function` by its source text, and
   * two bindings of one text (a second ring of the record type, the zero-fill decoder below)
   * would share their functions' feedback, the fast code going for both (measured 11 against
   * 17-25 ns/event).
   */
  private factory(
    m: SourceMemory,
    a: unknown[],
    pad: (o: number, size: number, r: number) => void,
  ): { decode: ColumnDecode; ring: RingDecode } {
    const unique = `${this.source}\n// binding ${++bindings}`;
    return new Function('m', 'a', 'pad', unique)(m, a, pad);
  }

  /** A batch of `capacity` records and the decoder filling it from `mem`. */
  bind<C>(
    mem: SourceMemory,
    capacity: number,
  ): { batch: ColumnBatch<C>; decode: ColumnDecode; ring: RingDecode } {
    const columns: Record<string, Column> = {};
    const arrays: unknown[] = [];
    for (const c of this.layout) {
      const col = makeColumn(c, capacity);
      columns[c.name] = col;
      arrays.push(...decodeTargets(c, col));
    }
    // Records shorter than the type (variable-length events): zero-filled copies, decoded
    // by the same code bound to the scratch memory.
    const scratchSize = Math.max(8, (this.size + 7) & ~7);
    const scratch = sourceMemory(new ArrayBuffer(scratchSize), 0, scratchSize);
    const one = new Int32Array(1);
    const full = new Int32Array([this.size]);
    const src = mem.u8;
    const padded = this.factory(scratch, arrays, () => {
      throw errors.unsupported('columns: a zero-filled record is shorter than its type');
    }).decode;
    const pad = (o: number, size: number, r: number) => {
      const dst = scratch.u8;
      dst.fill(0);
      for (let k = 0; k < size; k++) dst[k] = src[o + k] as number;
      padded(one, full, 1, r);
    };
    return { batch: new ColumnBatch<C>(this.layout, capacity, columns), ...this.factory(mem, arrays, pad) };
  }
}

function makeColumn(c: ColumnSpec, capacity: number): Column {
  switch (c.kind) {
    case 'chars':
      return new CharColumn(c.size, new Uint8Array(c.size * capacity));
    case 'bytes':
      return new BytesColumn(c.size, new Uint8Array(c.size * capacity));
    default:
      return new (globalThis[c.array] as new (n: number) => Column)(capacity);
  }
}

/**
 * What the generated code writes for one column: the array, a 32-bit word alias and a 64-bit
 * alias of it (the latter two where its size allows; the array itself otherwise).
 */
function decodeTargets(c: ColumnSpec, col: Column): unknown[] {
  const bytes = col instanceof CharColumn || col instanceof BytesColumn ? col.bytes : col;
  const { buffer, byteOffset, byteLength } = bytes;
  const wide = c.kind === 'chars' || c.kind === 'bytes' || c.size >= 4;
  return [
    col instanceof CharColumn || col instanceof BytesColumn ? col.bytes : col,
    wide && byteLength % 4 === 0 ? new Uint32Array(buffer, byteOffset, byteLength >> 2) : bytes,
    wide && byteLength % 8 === 0 ? new BigUint64Array(buffer, byteOffset, byteLength >> 3) : bytes,
  ];
}

/**
 * The decoder's source. Column j's targets are a[3j] (its array), a[3j+1] (a 32-bit word
 * alias) and a[3j+2] (a 64-bit alias); payload offsets are 8-byte aligned in the source
 * memory (ring buffer records are; perf samples are copied to be).
 *
 * 64-bit values, doubles and 8-byte runs of char arrays at 8-aligned offsets are copied
 * BigUint64Array to BigUint64Array: V8 compiles an element copy between two such arrays to a
 * plain 64-bit move (no bigint is made; measured as fast as a Float64Array copy, which could
 * change a NaN's bits). Elsewhere they go as 32-bit words.
 */
function decoderSource(layout: ColumnSpec[], size: number, le: boolean): string {
  const native = le === HOST_LE;
  const decl: string[] = [
    'const u8 = m.u8, i8 = m.i8, u16 = m.u16, i16 = m.i16, u32 = m.u32, i32 = m.i32, u64 = m.u64, dv = m.dv;',
  ];
  const body: string[] = [];
  layout.forEach((c, j) => {
    const col = `c${j}`;
    const w = `w${j}`;
    const q = `q${j}`;
    decl.push(`const ${col} = a[${3 * j}], ${w} = a[${3 * j + 1}], ${q} = a[${3 * j + 2}];`);
    body.push(`// ${c.name}`);
    body.push(...fieldCode(c, col, w, q, native, le));
  });
  const copy = body.join('\n    ');
  // decode: records at given offsets. ring: walks a BPF ring buffer's records itself, from
  // `off` (8-byte headers: u32 length with BUSY and DISCARD bits, the payload 8-aligned
  // after it; see ringbuf.ts) and decodes each in the same pass, so the headers and the
  // payload are read once, while in cache. It stops after `avail` bytes, at `max` records or
  // at a record still being written; st[0] gets the bytes walked.
  return `${decl.join('\n')}
function decode(offs, sizes, n, row) {
  for (let i = 0; i < n; i++) {
    const o = offs[i];
    const r = row + i;
    if (sizes[i] < ${size}) { pad(o, sizes[i], r); continue; }
    ${copy}
  }
}
function ring(off, avail, max, mask, st) {
  let n = 0;
  let used = 0;
  while (n < max && used < avail) {
    const len = u32[off >> 2];
    if (len & ${RING_BUSY}) break;
    const size = len & ${RING_LEN};
    const step = (size + ${RING_HDR + 7}) & ~7;
    const o = off + ${RING_HDR};
    used += step;
    off = (off + step) & mask;
    if (len & ${RING_DISCARD}) continue;
    const r = n++;
    if (size < ${size}) { pad(o, size, r); continue; }
    ${copy}
  }
  st[0] = used;
  return n;
}
return { decode, ring };`;
}

const SMALL = {
  1: ['u8', 'i8', 'Uint8', 'Int8', 0],
  2: ['u16', 'i16', 'Uint16', 'Int16', 1],
  4: ['u32', 'i32', 'Uint32', 'Int32', 2],
} as const;

/** Statements copying column `c` of the record at `o` into row `r`. */
function fieldCode(
  c: ColumnSpec,
  col: string,
  w: string,
  q8: string,
  native: boolean,
  le: boolean,
): string[] {
  const k = c.offset;
  if (c.bitSize !== undefined && c.bitOffset !== undefined) return bitfieldCode(c, col, w, le);
  if (c.kind === 'chars' || c.kind === 'bytes') {
    const n = c.size;
    if (n % 8 === 0 && k % 8 === 0) {
      const q = n >> 3;
      if (q <= 8)
        return Array.from({ length: q }, (_, x) => `${q8}[r * ${q} + ${x}] = u64[((o + ${k}) >> 3) + ${x}];`);
      return [`for (let x = 0; x < ${q}; x++) ${q8}[r * ${q} + x] = u64[((o + ${k}) >> 3) + x];`];
    }
    // Word copies keep bytes as they are in any byte order; they need 4-aligned places.
    if (n % 4 === 0 && k % 4 === 0) {
      const q = n >> 2;
      if (q <= 16)
        return Array.from({ length: q }, (_, x) => `${w}[r * ${q} + ${x}] = u32[((o + ${k}) >> 2) + ${x}];`);
      return [`for (let x = 0; x < ${q}; x++) ${w}[r * ${q} + x] = u32[((o + ${k}) >> 2) + x];`];
    }
    if (n <= 16) return Array.from({ length: n }, (_, x) => `${col}[r * ${n} + ${x}] = u8[o + ${k + x}];`);
    return [`for (let x = 0; x < ${n}; x++) ${col}[r * ${n} + x] = u8[o + ${k} + x];`];
  }
  if (c.size === 8 && c.kind === 'bool') {
    const lo = `dv.getUint32(o + ${k}, ${le})`;
    const hi = `dv.getUint32(o + ${k + 4}, ${le})`;
    return [`${col}[r] = (${lo} | ${hi}) !== 0 ? 1 : 0;`];
  }
  if (native && c.size === 8 && k % 8 === 0) return [`${q8}[r] = u64[(o + ${k}) >> 3];`];
  if (c.size === 8) {
    // Two 32-bit words into the column's word alias: lower-addressed word first on this host.
    if (native && k % 4 === 0)
      return [`${w}[2 * r] = u32[(o + ${k}) >> 2];`, `${w}[2 * r + 1] = u32[((o + ${k}) >> 2) + 1];`];
    const lo = `dv.getUint32(o + ${le ? k : k + 4}, ${le})`;
    const hi = `dv.getUint32(o + ${le ? k + 4 : k}, ${le})`;
    return [`${w}[2 * r + ${HOST_LE ? 0 : 1}] = ${lo};`, `${w}[2 * r + ${HOST_LE ? 1 : 0}] = ${hi};`];
  }
  if (c.array === 'Float32Array') {
    if (native && k % 4 === 0) return [`${w}[r] = u32[(o + ${k}) >> 2];`];
    return [`${w}[r] = dv.getUint32(o + ${k}, ${le});`];
  }
  const s = SMALL[c.size as 1 | 2 | 4];
  if (!s) return [];
  const [ua, sa, ug, sg, shift] = s;
  const arr = c.signed ? sa : ua;
  const read =
    c.size === 1
      ? `${arr}[o + ${k}]`
      : native && k % c.size === 0
        ? `${arr}[(o + ${k}) >> ${shift}]`
        : `dv.get${c.signed ? sg : ug}(o + ${k}, ${le})`;
  if (c.kind === 'bool') return [`${col}[r] = ${read} !== 0 ? 1 : 0;`];
  return [`${col}[r] = ${read};`];
}

/**
 * A bitfield: the bytes it spans (BTF numbers bits from the low bit of byte 0 on little-endian
 * targets, from the high bit on big-endian ones, as the codec) combined into two 32-bit words,
 * shifted, masked and sign-extended with 32-bit integer operations: L the value's low 32
 * bits, H its high 32 (a 64-bit column gets both through its word alias). Only a 64-bit member
 * not starting on a byte spans 9 bytes; it takes bigints. (Doubles with `%`, a call to fmod,
 * and bigints for spans over 6 bytes made columns.h's struct rec, seven bitfields among its
 * 40 columns, 2.3 times as slow to decode.)
 */
function bitfieldCode(c: ColumnSpec, col: string, w: string, le: boolean): string[] {
  const bo = c.bitOffset as number;
  const bs = c.bitSize as number;
  const start = bo >> 3;
  const end = (bo + bs + 7) >> 3;
  const n = end - start;
  const shift = le ? bo - start * 8 : end * 8 - (bo + bs);
  if (n > 8) {
    const terms: string[] = [];
    for (let x = 0; x < n; x++) {
      const pos = le ? x : n - 1 - x;
      terms.push(`(BigInt(u8[o + ${start + x}]) << ${8 * pos}n)`);
    }
    const raw = `((${terms.join(' | ')}) >> ${shift}n) & ${(1n << BigInt(bs)) - 1n}n`;
    const v = c.signed ? `BigInt.asIntN(${bs}, ${raw})` : raw;
    if (c.kind === 'bool') return [`${col}[r] = (${raw}) !== 0n ? 1 : 0;`];
    return [`${col}[r] = ${c.signed ? v : `BigInt.asUintN(64, ${v})`};`];
  }
  // Byte p of the span counting from its least significant one.
  const byte = (p: number) => `u8[o + ${start + (le ? p : n - 1 - p)}]`;
  const word = (from: number) => {
    const terms: string[] = [];
    for (let p = from; p < Math.min(n, from + 4); p++)
      terms.push(p === from ? byte(p) : `(${byte(p)} << ${8 * (p - from)})`);
    return terms.join(' | ');
  };
  const mask = (bits: number) => (bits >= 32 ? '' : ` & ${2 ** bits - 1}`);
  const lines = ['{', `const lo = ${word(0)};`];
  // L0, H0: the span shifted right by `shift` (as int32 bit patterns).
  if (n > 4) {
    lines.push(`const hi = ${word(4)};`);
    lines.push(`const L0 = ${shift ? `(lo >>> ${shift}) | (hi << ${32 - shift})` : 'lo'};`);
    lines.push(`const H0 = hi >>> ${shift};`);
  } else lines.push(`const L0 = lo >>> ${shift};`, 'const H0 = 0;');
  if (bs <= 32) {
    const low = c.signed ? `(L0 << ${32 - bs}) >> ${32 - bs}` : bs === 32 ? 'L0 >>> 0' : `L0${mask(bs)}`;
    lines.push(`const L = ${low};`, `const H = ${c.signed ? 'L >> 31' : '0'};`);
  } else {
    const high = c.signed ? `(H0 << ${64 - bs}) >> ${64 - bs}` : `H0${mask(bs - 32)}`;
    lines.push('const L = L0 >>> 0;', `const H = ${high};`);
  }
  if (c.kind === 'bool') lines.push(`${col}[r] = (L | H) !== 0 ? 1 : 0;`);
  else if (c.size === 8)
    lines.push(`${w}[2 * r + ${HOST_LE ? 0 : 1}] = L;`, `${w}[2 * r + ${HOST_LE ? 1 : 0}] = H;`);
  else lines.push(`${col}[r] = L;`);
  lines.push('}');
  return lines;
}
