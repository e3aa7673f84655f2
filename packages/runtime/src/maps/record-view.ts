/**
 * Lazy record views: for a struct's layout descriptor (codegen's TypeDesc, from BTF), a class
 * generated once whose instances wrap (DataView, offset) and whose getters read each field at
 * its fixed offset when asked. Consuming an event then costs only the fields the application
 * reads: no object with every field, no string decoding of fields nobody looks at.
 *
 * The class is generated as source (`new Function`) so every getter is a straight-line
 * DataView read with constant offset and byte order, which V8 compiles to a plain load. Each
 * getter returns what the eager codec's `decode` gives for that field (numbers up to 32 bits,
 * bigints for 64, strings for char arrays, enum names, nested views for structs, arrays
 * through the codec); `toJSON()` gives the codec's whole-record decode, built from the
 * getters (one generated object literal: ~4x faster than the codec's walk of the layout).
 *
 * A view reads the memory it wraps each time a getter runs: views over a ring buffer's pages
 * are valid only while the batch they came from is (see RingBuffer.read()).
 */
import { inspect } from 'node:util';
import { createCodecs, errors, type RuntimeCodec, type TypeDesc } from '../deps.ts';

export interface RecordView {
  /** Every field, decoded eagerly into a plain object (what the codec's decode returns). */
  toJSON(): unknown;
}

export type RecordClass<T = RecordView> = (new (
  view: DataView,
  offset: number,
) => T) & {
  readonly size: number;
};

type Leaf = Exclude<TypeDesc, { kind: 'ref' }>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const utf8Decoder = new TextDecoder('utf-8');

/**
 * A C string of at most `n` bytes at `at`: up to the first NUL, UTF-8. Short ASCII is built
 * byte by byte (for a few bytes that beats crossing into TextDecoder); anything else goes
 * through TextDecoder, as the eager codec does.
 */
function cString(v: DataView, at: number, n: number): string {
  if (n > 32) return decodeUtf8(v, at, n);
  let s = '';
  for (let i = 0; i < n; i++) {
    const b = v.getUint8(at + i);
    if (b === 0) return s;
    if (b >= 0x80) return decodeUtf8(v, at, n);
    s += String.fromCharCode(b);
  }
  return s;
}

function decodeUtf8(v: DataView, at: number, n: number): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset + at, n);
  const nul = bytes.indexOf(0);
  return utf8Decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** This host's byte order: where a record's matches it, 64-bit fields can be typed-array reads. */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * 64-bit integer reads through typed arrays instead of DataView: V8 (Node 20) compiles
 * DataView's getBigUint64/getBigInt64 to a call, a BigUint64Array element load to inline code,
 * about twice as fast. A typed array needs 8-byte alignment, so it is made for one DataView
 * at a time, one whose start is 8-aligned, and used for fields at 8-aligned offsets in it
 * (a ring buffer's records are); anything else reads through the DataView. The arrays are
 * made only once the same DataView is read twice in a row, so views over many small buffers
 * (or two alternating ones) do not make arrays per read. Only for records in host byte order.
 * Keeps the last such DataView's buffer alive until another takes its place.
 */
class WideReader {
  private v: DataView | undefined;
  private seen: DataView | undefined;
  private u: BigUint64Array = new BigUint64Array(0);
  private s: BigInt64Array = new BigInt64Array(0);

  u64(v: DataView, o: number): bigint {
    if (v === this.v && (o & 7) === 0) {
      // Past the end the array gives undefined; the DataView then throws as it always did.
      const x = this.u[o >> 3];
      if (x !== undefined) return x;
    }
    this.learn(v);
    return v.getBigUint64(o, HOST_LE);
  }

  s64(v: DataView, o: number): bigint {
    if (v === this.v && (o & 7) === 0) {
      const x = this.s[o >> 3];
      if (x !== undefined) return x;
    }
    this.learn(v);
    return v.getBigInt64(o, HOST_LE);
  }

  private learn(v: DataView): void {
    if (v === this.v) return;
    if (v !== this.seen) {
      this.seen = v;
      return;
    }
    if ((v.byteOffset & 7) !== 0) return;
    const n = v.byteLength >> 3;
    this.u = new BigUint64Array(v.buffer, v.byteOffset, n);
    this.s = new BigInt64Array(v.buffer, v.byteOffset, n);
    this.v = v;
  }
}

/** Entries of a string field's cache (a power of two). */
const STRING_CACHE = 64;

/**
 * Interns a short char-array field: events repeat the same few task names, so the string of
 * a byte pattern seen recently is handed back instead of built again. Direct-mapped on a hash
 * of the field's 32-bit words; a hit compares every word, so it is exact. For fields whose
 * size is a multiple of 4, up to 64 bytes.
 */
class StringCache {
  private readonly nw: number;
  private readonly words: Int32Array;
  private readonly strings: (string | undefined)[] = new Array(STRING_CACHE).fill(undefined);
  private readonly scratch: Int32Array;
  /** The words and string of the last get(), which fast() compares first. */
  readonly last: Int32Array;
  lastString: string | undefined;
  /**
   * get() with the last string checked first, unrolled for this size (generated): events in a
   * row mostly carry the same name, and then no hash is computed and nothing is stored.
   */
  readonly fast: (v: DataView, at: number) => string;

  constructor(readonly size: number) {
    this.nw = size >> 2;
    this.words = new Int32Array(STRING_CACHE * this.nw);
    this.scratch = new Int32Array(this.nw);
    this.last = new Int32Array(this.nw);
    const same = Array.from({ length: this.nw }, (_, k) => `v.getInt32(at + ${4 * k}, true) === m[${k}]`);
    this.fast = new Function(
      'c',
      'm',
      `return (v, at) => { const s = c.lastString; return s !== undefined && ${same.join(' && ')} ? s : c.get(v, at); };`,
    )(this, this.last);
  }

  get(v: DataView, at: number): string {
    const nw = this.nw;
    const w = this.scratch;
    let h = 0;
    for (let k = 0; k < nw; k++) {
      const x = v.getInt32(at + 4 * k, true);
      w[k] = x;
      h = Math.imul(h ^ x, 0x9e3779b1);
    }
    const e = h >>> 26; // top 6 bits: STRING_CACHE entries
    const base = e * nw;
    const words = this.words;
    const hit = this.strings[e];
    if (hit !== undefined) {
      let k = 0;
      while (k < nw && words[base + k] === w[k]) k++;
      if (k === nw) {
        this.last.set(w);
        this.lastString = hit;
        return hit;
      }
    }
    const s = cString(v, at, this.size);
    words.set(w, base);
    this.strings[e] = s;
    this.last.set(w);
    this.lastString = s;
    return s;
  }
}

/** Bits [bitOffset, bitOffset+bits) from `base`, as the codec numbers them (see codec.js). */
function readBits(v: DataView, base: number, bitOffset: number, bits: number, signed: boolean, le: boolean) {
  const start = Math.floor(bitOffset / 8);
  const end = Math.ceil((bitOffset + bits) / 8);
  let x = 0n;
  for (let i = start; i < end; i++) {
    const b = BigInt(v.getUint8(base + i));
    x |= le ? b << BigInt(8 * (i - start)) : b << BigInt(8 * (end - 1 - i));
  }
  const shift = le ? bitOffset - start * 8 : end * 8 - (bitOffset + bits);
  const raw = (x >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  return signed ? BigInt.asIntN(bits, raw) : raw;
}

/**
 * readBits for fields of at most 32 bits, in 32-bit integer operations: the span's bytes (5
 * at most) as a low word and a high byte, shifted, masked and sign-extended, a number out.
 * Bigints cost a few hundred ns per field; this, a few.
 */
function readSmallBits(
  v: DataView,
  base: number,
  bitOffset: number,
  bits: number,
  signed: boolean,
  le: boolean,
): number {
  const start = bitOffset >> 3;
  const end = (bitOffset + bits + 7) >> 3;
  const n = end - start;
  let lo = 0;
  let hi = 0;
  for (let p = 0; p < n; p++) {
    const b = v.getUint8(base + start + (le ? p : n - 1 - p));
    if (p < 4) lo |= b << (8 * p);
    else hi = b;
  }
  const shift = le ? bitOffset - start * 8 : end * 8 - (bitOffset + bits);
  const x = shift ? (lo >>> shift) | (hi << (32 - shift)) : lo;
  if (bits === 32) return signed ? x | 0 : x >>> 0;
  return signed ? (x << (32 - bits)) >> (32 - bits) : x & (2 ** bits - 1);
}

/**
 * Generates record classes over one table of named types (TypeDescriber.named) and one byte
 * order. Classes are cached per descriptor, so nested and repeated types are generated once.
 */
export class RecordViews {
  private readonly codecs: ReturnType<typeof createCodecs>;
  private readonly classes = new Map<TypeDesc, RecordClass<unknown>>();
  /** 64-bit reads for every class of this table, when its byte order is the host's. */
  private readonly wide: WideReader | undefined;

  constructor(
    private readonly types: Record<string, TypeDesc>,
    private readonly littleEndian: boolean,
  ) {
    this.codecs = createCodecs(types, littleEndian);
    this.wide = littleEndian === HOST_LE ? new WideReader() : undefined;
  }

  private resolve(desc: TypeDesc): Leaf {
    let d = desc;
    for (let i = 0; d.kind === 'ref' && i < 64; i++) {
      const next = this.types[d.name];
      if (!next) throw errors.unsupported(`record view: the type table has no type '${d.name}'`);
      d = next;
    }
    if (d.kind === 'ref')
      throw errors.unsupported(
        `record view: type '${d.name}' refers to itself (a cycle of 64 or more names)`,
      );
    return d;
  }

  /** The view class of a struct or union descriptor; undefined for any other kind. */
  classOf<T = RecordView>(desc: TypeDesc): RecordClass<T> | undefined {
    const d = this.resolve(desc);
    if (d.kind !== 'struct' && d.kind !== 'union') return undefined;
    const hit = this.classes.get(d);
    if (hit) return hit as RecordClass<T>;
    const made = this.generate(d, desc.kind === 'ref' ? desc.name : 'Record');
    this.classes.set(d, made as RecordClass<unknown>);
    return made as RecordClass<T>;
  }

  private generate(d: Extract<Leaf, { kind: 'struct' | 'union' }>, name: string): RecordClass<unknown> {
    const le = String(this.littleEndian);
    // Values the generated code closes over: codecs, nested classes, helpers.
    const deps: unknown[] = [];
    const dep = (x: unknown) => {
      deps.push(x);
      return `d[${deps.length - 1}]`;
    };
    // Two fields of one name (anonymous members flattened): the last wins, as in the codec.
    const getters = new Map<string, string>();
    // Each field's value in toJSON(): the getter's, made plain for nested views.
    const plain = new Map<string, string>();
    const add = (field: string, body: string, nested = false) => {
      getters.delete(field);
      getters.set(field, `get ${JSON.stringify(field)}() { ${body} }`);
      plain.delete(field);
      plain.set(field, `this[${JSON.stringify(field)}]${nested ? '.toJSON()' : ''}`);
    };
    const walk = (s: Extract<Leaf, { kind: 'struct' | 'union' }>, baseBits: number) => {
      for (const f of s.fields) {
        const ft = this.resolve(f.type);
        const bitOffset = baseBits + f.bitOffset;
        if (f.bitSize) {
          const signed = ft.kind === 'int' || ft.kind === 'enum' ? ft.signed : false;
          const small = f.bitSize <= 32;
          const read = small ? readSmallBits : readBits;
          const raw = `${dep(read)}(this.#v, this.#o, ${bitOffset}, ${f.bitSize}, ${signed}, ${le})`;
          add(f.name, `return ${this.fromRaw(ft, raw, dep, small)};`);
          continue;
        }
        if (f.name === '' && (ft.kind === 'struct' || ft.kind === 'union')) {
          walk(ft, bitOffset);
          continue;
        }
        const read = this.read(f.type, ft, `this.#o + ${bitOffset / 8}`, dep);
        add(f.name, `return ${read};`, read.startsWith('new '));
      }
    };
    walk(d, 0);
    const size = this.codecs.sizeOf(d);
    const className = IDENT.test(name) ? name : 'Record';
    // The view and offset live in private fields, which no C field name can clash with.
    const src = `
      return class ${className} {
        #v; #o;
        constructor(v, o) { this.#v = v; this.#o = o; }
        ${[...getters.values()].join('\n        ')}
        toJSON() { return { ${[...plain].map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')} }; }
        [${dep(inspect.custom)}]() { return this.toJSON(); }
        static get size() { return ${size}; }
      };`;
    return new Function('d', src)(deps) as RecordClass<unknown>;
  }

  /** The expression reading a non-bitfield member of type `ft` at byte expression `at`. */
  private read(desc: TypeDesc, ft: Leaf, at: string, dep: (x: unknown) => string): string {
    const le = String(this.littleEndian);
    switch (ft.kind) {
      case 'int': {
        if (ft.size === 8 && !ft.bool && this.wide)
          return `${dep(this.wide)}.${ft.signed ? 's64' : 'u64'}(this.#v, ${at})`;
        const fn = INT_READERS[`${ft.signed ? 's' : 'u'}${ft.size}`];
        if (!fn) break;
        const read = `this.#v.${fn}(${at}${ft.size > 1 ? `, ${le}` : ''})`;
        return ft.bool ? `${read} !== ${ft.size === 8 ? '0n' : '0'}` : read;
      }
      case 'float':
        if (ft.size === 4) return `this.#v.getFloat32(${at}, ${le})`;
        if (ft.size === 8) return `this.#v.getFloat64(${at}, ${le})`;
        break;
      case 'ptr':
        if (this.wide) return `${dep(this.wide)}.u64(this.#v, ${at})`;
        return `this.#v.getBigUint64(${at}, ${le})`;
      case 'string':
        if (ft.size % 4 === 0 && ft.size <= 64)
          return `${dep(new StringCache(ft.size).fast)}(this.#v, ${at})`;
        return `${dep(cString)}(this.#v, ${at}, ${ft.size})`;
      case 'struct':
      case 'union': {
        const cls = this.classOf(desc);
        if (cls) return `new ${dep(cls)}(this.#v, ${at})`;
        break;
      }
    }
    // Enums (names), arrays, odd-sized ints and floats, raw bytes: the codec, on demand.
    const c: RuntimeCodec = this.codecs.codec(desc);
    return `${dep(c)}.decode(this.#v, ${at})`;
  }

  /**
   * A bitfield's raw value (a bigint, or a number from readSmallBits when `number`) as the
   * codec presents it: enum name, bool, number or bigint (for members of 64-bit types).
   */
  private fromRaw(ft: Leaf, raw: string, dep: (x: unknown) => string, number: boolean): string {
    const wide = 'size' in ft && ft.size > 4;
    if (ft.kind === 'enum') {
      const byValue = new Map(ft.values.map(([n, v]) => [v, n]));
      const other = wide ? (number ? 'BigInt(r)' : 'r') : number ? 'r' : 'Number(r)';
      return `((r) => ${dep(byValue)}.get(String(r)) ?? ${other})(${raw})`;
    }
    if (ft.kind === 'int' && ft.bool) return `${raw} !== ${number ? '0' : '0n'}`;
    if (ft.kind === 'int' && wide) return number ? `BigInt(${raw})` : raw;
    return number ? raw : `Number(${raw})`;
  }
}

const INT_READERS: Record<string, string> = {
  u1: 'getUint8',
  s1: 'getInt8',
  u2: 'getUint16',
  s2: 'getInt16',
  u4: 'getUint32',
  s4: 'getInt32',
  u8: 'getBigUint64',
  s8: 'getBigInt64',
};
