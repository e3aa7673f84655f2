// AssemblyScript, compiled to WebAssembly by scripts/build-wasm.mjs into
// packages/core/src/dump/raw-printer-wasm.ts. The raw printer of dump/raw.ts (bpftool
// 7.1.0's `btf dump file` format), line for line, for a decoded non-split BTF.
//
// Why WebAssembly for this one loop: a CLI dump of a kernel is ~10 MB of text made in one
// short process, and V8 runs JavaScript unoptimized for much of such a run (the printer
// took ~60 ms cold against ~35 ms warm). WebAssembly is compiled before it runs (Liftoff,
// in well under a millisecond for this module) and needs no warm-up.
//
// Memory, laid out by dump/raw-wasm.ts: the type section as host-order u32 words at `words`,
// the record start (word index) of each record at `offs`, the string section at `strs`, and
// the output from `out` on, which grows the memory as it needs. print() prints whole records
// until about a chunk is out and returns the index of the first record it did not print; the
// caller writes the chunk out and calls again.

import { BtfIntEncoding, BtfKind, BtfLinkage, MAX_KNOWN_KIND } from '../src/btf/wire';

let words: usize = 0;
let offs: usize = 0;
let strs: usize = 0;
let strLen: u32 = 0;
let count: u32 = 0;
let startId: u32 = 1;
let out: usize = 0;
let outLen: u32 = 0;

/** print() returns at the first record boundary past this many bytes. */
const CHUNK: u32 = 1 << 20;
/**
 * A record whose own output would pass this stops the printer (a trap): BTF lets one record
 * print without bound (every member may name one long string), and the JavaScript printer,
 * which can end its chunks inside a record, takes over from it (pending()/pendingOut()).
 */
const MAX_OUT: u32 = 64 << 20;
/** The record being printed and where its output began, for that hand-over. */
let current: u32 = 0;
let currentOut: u32 = 0;

export function pending(): u32 {
  return current;
}

export function pendingOut(): u32 {
  return currentOut;
}
/** Enough for any line's fixed text and numbers (names are made room for apart). */
const LINE_ROOM: u32 = 256;

export function setup(
  wordsPtr: usize,
  offsPtr: usize,
  recordCount: u32,
  strsPtr: usize,
  stringsLength: u32,
  firstId: u32,
  outPtr: usize,
): void {
  words = wordsPtr;
  offs = offsPtr;
  count = recordCount;
  strs = strsPtr;
  strLen = stringsLength;
  startId = firstId;
  out = outPtr;
}

/** Bytes written by the last print(). */
export function written(): u32 {
  return outLen;
}

/** Grows the memory so that `n` more bytes of output fit. */
function room(n: u32): void {
  if (<u64>outLen + <u64>n > <u64>MAX_OUT) unreachable();
  const end = out + <usize>outLen + <usize>n;
  const have = <usize>memory.size() << 16;
  if (end > have) {
    if (memory.grow(<i32>((end - have + 0xffff) >> 16)) < 0) unreachable();
  }
}

@inline
function word(i: u32): u32 {
  return load<u32>(words + (<usize>i << 2));
}

@inline
function recordWord(record: u32): u32 {
  return load<u32>(offs + (<usize>record << 2));
}

@inline
function byte(c: u32): void {
  store<u8>(out + outLen, c);
  outLen++;
}

/** A string literal's characters (all ASCII) as bytes: AssemblyScript keeps them as UTF-16. */
function lit(s: string): void {
  const p = changetype<usize>(s);
  const n = <u32>s.length;
  const dst = out + outLen;
  for (let i: u32 = 0; i < n; i++) store<u8>(dst + i, load<u16>(p + (<usize>i << 1)));
  outLen += n;
}

/**
 * A u32 in decimal: digits counted first, then written from the last one back, each by a
 * multiply-shift (exact for every u32) instead of a division, which Liftoff, the compiler
 * that runs this first, would emit as a real divide.
 */
function uint(v: u32): void {
  const n: u32 =
    v < 10
      ? 1
      : v < 100
        ? 2
        : v < 1000
          ? 3
          : v < 10000
            ? 4
            : v < 100000
              ? 5
              : v < 1000000
                ? 6
                : v < 10000000
                  ? 7
                  : v < 100000000
                    ? 8
                    : v < 1000000000
                      ? 9
                      : 10;
  let p = out + <usize>outLen + <usize>n;
  outLen += n;
  while (v >= 10) {
    const q = <u32>((<u64>v * 0xcccccccd) >> 35);
    p--;
    store<u8>(p, v - q * 10 + 48);
    v = q;
  }
  store<u8>(p - 1, v + 48);
}

function uint64(v: u64): void {
  // Digits backwards into the output, then reversed in place.
  const start = outLen;
  do {
    const q = v / 10;
    byte(<u32>(v - q * 10) + 48);
    v = q;
  } while (v != 0);
  let a = out + start;
  let b = out + outLen - 1;
  while (a < b) {
    const t = load<u8>(a);
    store<u8>(a, load<u8>(b));
    store<u8>(b, t);
    a++;
    b--;
  }
}

function int64(v: i64): void {
  if (v < 0) {
    byte(45);
    // Two's complement negation as unsigned: right for i64's minimum too.
    uint64(<u64>0 - <u64>v);
  } else uint64(<u64>v);
}

function int32(v: i32): void {
  if (v < 0) {
    byte(45);
    uint(<u32>0 - <u32>v);
  } else uint(<u32>v);
}

/** bpftool's btf_str(): offset 0 prints as (anon), any other offset as the string there. */
function name(off: u32): void {
  if (off == 0) {
    lit('(anon)');
    return;
  }
  if (off >= strLen) return;
  const start = strs + off;
  const end = strs + strLen;
  let p = start;
  while (p < end && load<u8>(p) != 0) p++;
  const n = <u32>(p - start);
  room(n + LINE_ROOM);
  memory.copy(out + outLen, start, n);
  outLen += n;
}

function kindName(kind: u32): string {
  switch (kind) {
    case BtfKind.Unkn:
      return 'UNKNOWN';
    case BtfKind.Int:
      return 'INT';
    case BtfKind.Ptr:
      return 'PTR';
    case BtfKind.Array:
      return 'ARRAY';
    case BtfKind.Struct:
      return 'STRUCT';
    case BtfKind.Union:
      return 'UNION';
    case BtfKind.Enum:
      return 'ENUM';
    case BtfKind.Fwd:
      return 'FWD';
    case BtfKind.Typedef:
      return 'TYPEDEF';
    case BtfKind.Volatile:
      return 'VOLATILE';
    case BtfKind.Const:
      return 'CONST';
    case BtfKind.Restrict:
      return 'RESTRICT';
    case BtfKind.Func:
      return 'FUNC';
    case BtfKind.FuncProto:
      return 'FUNC_PROTO';
    case BtfKind.Var:
      return 'VAR';
    case BtfKind.Datasec:
      return 'DATASEC';
    case BtfKind.Float:
      return 'FLOAT';
    case BtfKind.DeclTag:
      return 'DECL_TAG';
    case BtfKind.TypeTag:
      return 'TYPE_TAG';
    case BtfKind.Enum64:
      return 'ENUM64';
    default:
      return 'UNKNOWN';
  }
}

function linkage(l: u32): void {
  if (l == BtfLinkage.Static) lit('static');
  else if (l == BtfLinkage.Global) lit('global');
  else if (l == BtfLinkage.Extern) lit('extern');
  else lit('(unknown)');
}

function intEncoding(e: u32): void {
  if (e == 0) lit('(none)');
  else if (e == BtfIntEncoding.Signed) lit('SIGNED');
  else if (e == BtfIntEncoding.Char) lit('CHAR');
  else if (e == BtfIntEncoding.Bool) lit('BOOL');
  else lit('UNKN');
}

/** Prints records [from, to) until about a chunk is out; returns the first one not printed. */
export function print(from: u32, to: u32): u32 {
  outLen = 0;
  for (let i = from; i < to; i++) {
    if (outLen >= CHUNK) return i;
    current = i;
    currentOut = outLen;
    record(startId + i, recordWord(i));
  }
  return to;
}

function record(id: u32, p: u32): void {
  const nameOff = word(p);
  const info = word(p + 1);
  const sizeOrType = word(p + 2);
  const vlen = info & 0xffffff;
  const rawKind = (info >>> 24) & 0x7f;
  const kflag = info >>> 31 == 1;
  room(LINE_ROOM);
  byte(91); // [
  uint(id);
  byte(93); // ]
  byte(32);
  lit(kindName(rawKind));
  lit(" '");
  name(nameOff);
  byte(39); // '
  switch (rawKind) {
    case BtfKind.Int: {
      const enc = word(p + 3);
      lit(' size=');
      uint(sizeOrType);
      lit(' bits_offset=');
      uint((enc >>> 16) & 0xff);
      lit(' nr_bits=');
      uint(enc & 0xff);
      lit(' encoding=');
      intEncoding((enc >>> 24) & 0x0f);
      break;
    }
    case BtfKind.Ptr:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      lit(' type_id=');
      uint(sizeOrType);
      break;
    case BtfKind.Array:
      lit(' type_id=');
      uint(word(p + 3));
      lit(' index_type_id=');
      uint(word(p + 4));
      lit(' nr_elems=');
      uint(word(p + 5));
      break;
    case BtfKind.Struct:
    case BtfKind.Union:
      lit(' size=');
      uint(sizeOrType);
      lit(' vlen=');
      uint(vlen);
      for (let i: u32 = 0, m = p + 3; i < vlen; i++, m += 3) {
        const off = word(m + 2);
        room(LINE_ROOM);
        lit("\n\t'");
        name(word(m));
        lit("' type_id=");
        uint(word(m + 1));
        lit(' bits_offset=');
        // kflag: the offset word holds bitfield size (top 8 bits) and bit offset (low 24).
        uint(kflag ? off & 0xffffff : off);
        if (kflag && off >>> 24 != 0) {
          lit(' bitfield_size=');
          uint(off >>> 24);
        }
      }
      break;
    case BtfKind.Enum:
      lit(kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=');
      uint(sizeOrType);
      lit(' vlen=');
      uint(vlen);
      for (let i: u32 = 0, v = p + 3; i < vlen; i++, v += 2) {
        room(LINE_ROOM);
        lit("\n\t'");
        name(word(v));
        lit("' val=");
        // %d for signed enums, %u otherwise.
        if (kflag) int32(<i32>word(v + 1));
        else uint(word(v + 1));
      }
      break;
    case BtfKind.Enum64:
      lit(kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=');
      uint(sizeOrType);
      lit(' vlen=');
      uint(vlen);
      for (let i: u32 = 0, v = p + 3; i < vlen; i++, v += 3) {
        room(LINE_ROOM);
        lit("\n\t'");
        name(word(v));
        lit("' val=");
        const value = (<u64>word(v + 2) << 32) | <u64>word(v + 1);
        if (value >> 32 == 0) uint(<u32>value);
        else if (kflag) int64(<i64>value);
        else uint64(value);
        lit(kflag ? 'LL' : 'ULL');
      }
      break;
    case BtfKind.Fwd:
      lit(kflag ? ' fwd_kind=union' : ' fwd_kind=struct');
      break;
    case BtfKind.Func:
      lit(' type_id=');
      uint(sizeOrType);
      lit(' linkage=');
      linkage(vlen);
      break;
    case BtfKind.FuncProto:
      lit(' ret_type_id=');
      uint(sizeOrType);
      lit(' vlen=');
      uint(vlen);
      for (let i: u32 = 0, a = p + 3; i < vlen; i++, a += 2) {
        room(LINE_ROOM);
        lit("\n\t'");
        name(word(a));
        lit("' type_id=");
        uint(word(a + 1));
      }
      break;
    case BtfKind.Var:
      lit(' type_id=');
      uint(sizeOrType);
      lit(', linkage=');
      linkage(word(p + 3));
      break;
    case BtfKind.Datasec:
      lit(' size=');
      uint(sizeOrType);
      lit(' vlen=');
      uint(vlen);
      for (let i: u32 = 0, v = p + 3; i < vlen; i++, v += 3) {
        const type = word(v);
        room(LINE_ROOM);
        lit('\n\ttype_id=');
        uint(type);
        lit(' offset=');
        uint(word(v + 1));
        lit(' size=');
        uint(word(v + 2));
        // bpftool names the variable (its kind and name) when the id resolves.
        if (type < startId + count) {
          lit(' (');
          if (type == 0) {
            lit("UNKNOWN '(anon)");
          } else {
            const q = recordWord(type - startId);
            const k = (word(q + 1) >>> 24) & 0x7f;
            // A kind this codec does not know keeps the leading space dump/raw.ts prints.
            if (k < <u32>BtfKind.Int || k > <u32>MAX_KNOWN_KIND) lit(" UNKNOWN '");
            else {
              lit(kindName(k));
              lit(" '");
            }
            name(word(q));
          }
          lit("')");
        }
      }
      break;
    case BtfKind.Float:
      lit(' size=');
      uint(sizeOrType);
      break;
    case BtfKind.DeclTag:
      lit(' type_id=');
      uint(sizeOrType);
      lit(' component_idx=');
      int32(<i32>word(p + 3));
      break;
    default:
      // bpftool 7.1 cannot read kinds past ENUM64 at all; print what we know of the record.
      lit(' kind=');
      uint(rawKind);
      lit(' vlen=');
      uint(vlen);
      lit(' size_or_type=');
      uint(sizeOrType);
      break;
  }
  byte(10);
}
