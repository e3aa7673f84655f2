import type { Btf } from '../btf/btf.ts';
import { KIND_NAMES } from '../btf/kinds.ts';
import { type BtfType, UNKNOWN_KIND } from '../btf/types.ts';
import { BtfKind } from '../btf/wire.ts';
import { NameBytes } from './names.ts';
import { dumpRawWasm } from './raw-wasm.ts';
import { ascii, type ByteSink, TextOut } from './text-out.ts';

/**
 * The bytes of `bpftool btf dump file F [--base-btf B]` (bpftool 7.1.0, raw format): one
 * `[id] KIND 'name' ...` line per type of this BTF (for split BTF, from its first own id),
 * members/values/params/vars on tab-indented lines below.
 */
export function dumpRaw(btf: Btf, opts: Pick<RawDumpOptions, 'printer'> = {}): Buffer {
  const parts: Uint8Array[] = [];
  dumpRawTo(btf, (c) => parts.push(c), opts);
  return Buffer.concat(parts);
}

/**
 * Streaming form of `dumpRaw`: the sink gets chunks of about 1 MiB, in order; with
 * `reuseChunks` each chunk's memory is overwritten after the sink returns (a sink that
 * writes synchronously). A decoded BTF
 * is printed straight from its record words (no type objects: a kernel has ~100k); a BTF
 * built from objects has each type packed into the same words first.
 */
export function dumpRawTo(btf: Btf, sink: ByteSink, opts: RawDumpOptions = {}): void {
  // The WebAssembly printer takes what it can (all but pathological records); this one the rest.
  const from = opts.printer === 'js' ? 0 : dumpRawWasm(btf, sink, opts);
  const records = btf.rawRecords;
  if (records && from === records.count) return;
  const out = new TextOut(sink, undefined, opts.reuseChunks === true);
  const p = new RawPrinter(btf, out);
  const { startId } = btf;
  if (records) {
    const w = records.words;
    for (let i = from; i < records.count; i++) {
      p.record(startId + i, w, records.wordAt(i));
      out.maybeFlush();
    }
  } else {
    const { types } = btf;
    for (let i = 0; i < types.length; i++) {
      p.record(startId + i, packRecord(types[i] as BtfType), 0);
      out.maybeFlush();
    }
  }
  out.flush();
}

export interface RawDumpOptions {
  /** The sink writes each chunk before it returns, so its memory may be reused. */
  reuseChunks?: boolean;
  /**
   * 'js' prints with the JavaScript printer below even where the WebAssembly one
   * (dump/raw-wasm.ts, the default for decoded non-split BTF) could: tests hold both to
   * bpftool's output.
   */
  printer?: 'js' | 'wasm';
}

const KIND_LIT = KIND_NAMES.map((k) => ascii(` ${k} '`));
const UNKNOWN_LIT = ascii(" UNKNOWN '");
const INT_ENCODINGS: Record<number, Uint8Array> = {
  0: ascii('(none)'),
  1: ascii('SIGNED'),
  2: ascii('CHAR'),
  4: ascii('BOOL'),
};
const INT_UNKN = ascii('UNKN');
const LINKAGE = [ascii('static'), ascii('global'), ascii('extern')];
const LINKAGE_UNKNOWN = ascii('(unknown)');
const L = {
  anon: ascii('(anon)'),
  quoteEnd: ascii("'"),
  size: ascii(' size='),
  bitsOffset: ascii(' bits_offset='),
  nrBits: ascii(' nr_bits='),
  encoding: ascii(' encoding='),
  typeId: ascii(' type_id='),
  indexTypeId: ascii(' index_type_id='),
  nrElems: ascii(' nr_elems='),
  vlen: ascii(' vlen='),
  memberStart: ascii("\n\t'"),
  memberTypeId: ascii("' type_id="),
  bitfieldSize: ascii(' bitfield_size='),
  signedEnc: ascii(' encoding=SIGNED size='),
  unsignedEnc: ascii(' encoding=UNSIGNED size='),
  val: ascii("' val="),
  ll: ascii('LL'),
  ull: ascii('ULL'),
  fwdStruct: ascii(' fwd_kind=struct'),
  fwdUnion: ascii(' fwd_kind=union'),
  linkage: ascii(' linkage='),
  varLinkage: ascii(', linkage='),
  retTypeId: ascii(' ret_type_id='),
  secVar: ascii('\n\ttype_id='),
  offset: ascii(' offset='),
  componentIdx: ascii(' component_idx='),
  kind: ascii(' kind='),
  sizeOrType: ascii(' size_or_type='),
  paren: ascii(' ('),
  parenEnd: ascii("')"),
};

/** Field order and spelling follow bpftool's dump_btf_type() (plain-text branch). */
class RawPrinter {
  private readonly names: NameBytes;
  constructor(
    private readonly btf: Btf,
    private readonly out: TextOut,
  ) {
    this.names = new NameBytes(btf);
  }

  /** bpftool's btf_str(): offset 0 prints as (anon), any other offset as the string there. */
  private name(off: number): void {
    if (off === 0) this.out.lit(L.anon);
    else this.names.write(this.out, off);
  }

  /**
   * Prints the record at word `p` of `w` (type section words, host order). One small method
   * per record shape, not one big switch: a CLI run is over before V8 would optimize a
   * function that large, while small hot ones (members, enumerators) are optimized within
   * the first thousand types.
   */
  record(id: number, w: Uint32Array, p: number): void {
    const o = this.out;
    const info = w[p + 1] as number;
    const rawKind = (info >>> 24) & 0x7f;
    o.byte(91 /* [ */);
    o.uint(id);
    o.byte(93 /* ] */);
    o.lit(KIND_LIT[rawKind] ?? UNKNOWN_LIT);
    this.name(w[p] as number);
    o.lit(L.quoteEnd);
    switch (rawKind) {
      case BtfKind.Int:
        this.int(w, p);
        break;
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        o.lit(L.typeId);
        o.uint(w[p + 2] as number);
        break;
      case BtfKind.Array:
        this.array(w, p + 3);
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        this.composite(w, p);
        break;
      case BtfKind.Enum:
        this.enumeration(w, p, false);
        break;
      case BtfKind.Enum64:
        this.enumeration(w, p, true);
        break;
      case BtfKind.Fwd:
        o.lit(info >>> 31 === 1 ? L.fwdUnion : L.fwdStruct);
        break;
      case BtfKind.Func:
        o.lit(L.typeId);
        o.uint(w[p + 2] as number);
        o.lit(L.linkage);
        o.lit(LINKAGE[info & 0xffffff] ?? LINKAGE_UNKNOWN);
        break;
      case BtfKind.FuncProto:
        this.funcProto(w, p);
        break;
      case BtfKind.Var:
        o.lit(L.typeId);
        o.uint(w[p + 2] as number);
        o.lit(L.varLinkage);
        o.lit(LINKAGE[w[p + 3] as number] ?? LINKAGE_UNKNOWN);
        break;
      case BtfKind.Datasec:
        this.datasec(w, p);
        break;
      case BtfKind.Float:
        o.lit(L.size);
        o.uint(w[p + 2] as number);
        break;
      case BtfKind.DeclTag:
        o.lit(L.typeId);
        o.uint(w[p + 2] as number);
        o.lit(L.componentIdx);
        o.int((w[p + 3] as number) | 0);
        break;
      default:
        // bpftool 7.1 cannot read kinds past ENUM64 at all; print what we know of the record.
        o.lit(L.kind);
        o.uint(rawKind);
        o.lit(L.vlen);
        o.uint(info & 0xffffff);
        o.lit(L.sizeOrType);
        o.uint(w[p + 2] as number);
        break;
    }
    o.byte(10 /* \n */);
  }

  private int(w: Uint32Array, p: number): void {
    const o = this.out;
    const enc = w[p + 3] as number;
    o.lit(L.size);
    o.uint(w[p + 2] as number);
    o.lit(L.bitsOffset);
    o.uint((enc >>> 16) & 0xff);
    o.lit(L.nrBits);
    o.uint(enc & 0xff);
    o.lit(L.encoding);
    o.lit(INT_ENCODINGS[(enc >>> 24) & 0x0f] ?? INT_UNKN);
  }

  /** `p`: the btf_array words. */
  private array(w: Uint32Array, p: number): void {
    const o = this.out;
    o.lit(L.typeId);
    o.uint(w[p] as number);
    o.lit(L.indexTypeId);
    o.uint(w[p + 1] as number);
    o.lit(L.nrElems);
    o.uint(w[p + 2] as number);
  }

  /** ` size=N vlen=M` and its kin: a field, its number, then the record's vlen. */
  private head(field: Uint8Array, value: number, vlen: number): void {
    const o = this.out;
    o.lit(field);
    o.uint(value);
    o.lit(L.vlen);
    o.uint(vlen);
  }

  /** STRUCT and UNION: size, vlen, then one line per member. */
  private composite(w: Uint32Array, p: number): void {
    const o = this.out;
    const info = w[p + 1] as number;
    const vlen = info & 0xffffff;
    this.head(L.size, w[p + 2] as number, vlen);
    // kflag: the offset word holds bitfield size (top 8 bits) and bit offset (low 24).
    // maybeFlush() per line here and below: a record's own output is unbounded (every
    // member may name one long string), so chunks end inside records too.
    const bitfields = info >>> 31 === 1;
    for (let i = 0, m = p + 3; i < vlen; i++, m += 3) {
      this.member(w, m, bitfields);
      o.maybeFlush();
    }
  }

  private member(w: Uint32Array, m: number, bitfields: boolean): void {
    const o = this.out;
    const off = w[m + 2] as number;
    o.lit(L.memberStart);
    this.name(w[m] as number);
    o.lit(L.memberTypeId);
    o.uint(w[m + 1] as number);
    o.lit(L.bitsOffset);
    o.uint(bitfields ? off & 0xffffff : off);
    if (bitfields && off >>> 24 !== 0) {
      o.lit(L.bitfieldSize);
      o.uint(off >>> 24);
    }
  }

  /** ENUM (`wide` false: name, value) and ENUM64 (`wide`: name, low, high) records. */
  private enumeration(w: Uint32Array, p: number, wide: boolean): void {
    const o = this.out;
    const info = w[p + 1] as number;
    const vlen = info & 0xffffff;
    const signed = info >>> 31 === 1;
    this.head(signed ? L.signedEnc : L.unsignedEnc, w[p + 2] as number, vlen);
    for (let i = 0, v = p + 3; i < vlen; i++, v += wide ? 3 : 2) {
      o.maybeFlush();
      o.lit(L.memberStart);
      this.name(w[v] as number);
      o.lit(L.val);
      if (wide) enum64(o, w[v + 1] as number, w[v + 2] as number, signed);
      // %d for signed enums, %u otherwise.
      else if (signed) o.int((w[v + 1] as number) | 0);
      else o.uint(w[v + 1] as number);
    }
  }

  private funcProto(w: Uint32Array, p: number): void {
    const o = this.out;
    const vlen = (w[p + 1] as number) & 0xffffff;
    this.head(L.retTypeId, w[p + 2] as number, vlen);
    for (let i = 0, a = p + 3; i < vlen; i++, a += 2) {
      o.maybeFlush();
      o.lit(L.memberStart);
      this.name(w[a] as number);
      o.lit(L.memberTypeId);
      o.uint(w[a + 1] as number);
    }
  }

  private datasec(w: Uint32Array, p: number): void {
    const o = this.out;
    const vlen = (w[p + 1] as number) & 0xffffff;
    this.head(L.size, w[p + 2] as number, vlen);
    for (let i = 0, v = p + 3; i < vlen; i++, v += 3) {
      o.maybeFlush();
      const type = w[v] as number;
      o.lit(L.secVar);
      o.uint(type);
      o.lit(L.offset);
      o.uint(w[v + 1] as number);
      o.lit(L.size);
      o.uint(w[v + 2] as number);
      // bpftool names the variable (its kind and name) when the id resolves.
      if (type < this.btf.typeCount) {
        const k = this.btf.kindOf(type);
        o.lit(L.paren);
        o.lit(k === UNKNOWN_KIND ? UNKNOWN_LIT : (KIND_LIT[k] ?? UNKNOWN_LIT).subarray(1));
        this.name(this.btf.nameOffOf(type));
        o.lit(L.parenEnd);
      }
    }
  }
}

/**
 * One type object as its record words (the fields the printer reads; unknown kinds'
 * trailing bytes are not printed, so not packed).
 */
function packRecord(t: BtfType): Uint32Array {
  const kind = t.kind === UNKNOWN_KIND ? t.rawKind : t.kind;
  const head = (vlen: number, sizeOrType: number, rest: number[]): Uint32Array => {
    const info = ((t.kflag ? 0x80000000 : 0) | ((kind & 0x7f) << 24) | (vlen & 0xffffff)) >>> 0;
    return Uint32Array.from([t.nameOff, info, sizeOrType, ...rest]);
  };
  switch (t.kind) {
    case BtfKind.Int:
      return head(0, t.size, [((t.encoding << 24) | (t.bitOffset << 16) | t.bits) >>> 0]);
    case BtfKind.Ptr:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      return head(0, t.type, []);
    case BtfKind.Array:
      return head(0, 0, [t.type, t.indexType, t.nelems]);
    case BtfKind.Struct:
    case BtfKind.Union:
      return head(
        t.members.length,
        t.size,
        t.members.flatMap((m) => [
          m.nameOff,
          m.type,
          t.kflag ? ((m.bitfieldSize << 24) | m.bitOffset) >>> 0 : m.bitOffset,
        ]),
      );
    case BtfKind.Enum:
      return head(
        t.values.length,
        t.size,
        t.values.flatMap((v) => [v.nameOff, v.value >>> 0]),
      );
    case BtfKind.Enum64:
      return head(
        t.values.length,
        t.size,
        t.values.flatMap((v) => [v.nameOff, v.lo >>> 0, v.hi >>> 0]),
      );
    case BtfKind.Fwd:
      return head(0, 0, []);
    case BtfKind.Func:
      return head(t.linkage, t.type, []);
    case BtfKind.FuncProto:
      return head(
        t.params.length,
        t.type,
        t.params.flatMap((p) => [p.nameOff, p.type]),
      );
    case BtfKind.Var:
      return head(0, t.type, [t.linkage]);
    case BtfKind.Datasec:
      return head(
        t.vars.length,
        t.size,
        t.vars.flatMap((v) => [v.type, v.offset, v.size]),
      );
    case BtfKind.Float:
      return head(0, t.size, []);
    case BtfKind.DeclTag:
      return head(0, t.type, [t.componentIdx >>> 0]);
    default:
      return t.kind === UNKNOWN_KIND ? head(t.vlen, t.sizeOrType, []) : head(0, 0, []);
  }
}

/** An ENUM64 value as bpftool prints it: `%lldLL` when signed, `%lluULL` otherwise. */
function enum64(o: TextOut, lo: number, hi: number, signed: boolean): void {
  if (hi === 0) o.uint(lo);
  else if (signed && hi === 0xffffffff && lo !== 0) o.int(lo - 0x100000000);
  else {
    const v = (BigInt(hi) << 32n) | BigInt(lo);
    o.str(String(signed ? BigInt.asIntN(64, v) : v));
  }
  o.lit(signed ? L.ll : L.ull);
}
