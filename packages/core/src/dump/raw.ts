import type { Btf } from '../btf/btf.ts';
import { KIND_NAMES } from '../btf/kinds.ts';
import { type BtfType, UNKNOWN_KIND } from '../btf/types.ts';
import { NameBytes } from './names.ts';
import { ascii, type ByteSink, TextOut } from './text-out.ts';

/**
 * The bytes of `bpftool btf dump file F [--base-btf B]` (bpftool 7.1.0, raw format): one
 * `[id] KIND 'name' ...` line per type of this BTF (for split BTF, from its first own id),
 * members/values/params/vars on tab-indented lines below.
 */
export function dumpRaw(btf: Btf): Buffer {
  const parts: Uint8Array[] = [];
  dumpRawTo(btf, (c) => parts.push(c));
  return Buffer.concat(parts);
}

/** Streaming form of `dumpRaw`: the sink gets chunks of about 1 MiB, in order. */
export function dumpRawTo(btf: Btf, sink: ByteSink): void {
  const out = new TextOut(sink);
  const p = new RawPrinter(btf, out);
  const { types, startId } = btf;
  for (let i = 0; i < types.length; i++) {
    p.type(startId + i, types[i] as BtfType);
    out.maybeFlush();
  }
  out.flush();
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

  type(id: number, t: BtfType): void {
    const o = this.out;
    o.byte(91 /* [ */);
    o.uint(id);
    o.byte(93 /* ] */);
    const k = t.kind === UNKNOWN_KIND ? t.rawKind : t.kind;
    o.lit(KIND_LIT[k] ?? UNKNOWN_LIT);
    this.name(t.nameOff);
    o.lit(L.quoteEnd);
    switch (t.kind) {
      case 1 /* INT */:
        o.lit(L.size);
        o.uint(t.size);
        o.lit(L.bitsOffset);
        o.uint(t.bitOffset);
        o.lit(L.nrBits);
        o.uint(t.bits);
        o.lit(L.encoding);
        o.lit(INT_ENCODINGS[t.encoding] ?? INT_UNKN);
        break;
      case 2 /* PTR */:
      case 8 /* TYPEDEF */:
      case 9 /* VOLATILE */:
      case 10 /* CONST */:
      case 11 /* RESTRICT */:
      case 18 /* TYPE_TAG */:
        o.lit(L.typeId);
        o.uint(t.type);
        break;
      case 3 /* ARRAY */:
        o.lit(L.typeId);
        o.uint(t.type);
        o.lit(L.indexTypeId);
        o.uint(t.indexType);
        o.lit(L.nrElems);
        o.uint(t.nelems);
        break;
      case 4 /* STRUCT */:
      case 5 /* UNION */:
        {
          const ms = t.members;
          o.lit(L.size);
          o.uint(t.size);
          o.lit(L.vlen);
          o.uint(ms.length);
          for (let i = 0; i < ms.length; i++) {
            const m = ms[i] as (typeof ms)[number];
            o.lit(L.memberStart);
            this.name(m.nameOff);
            o.lit(L.memberTypeId);
            o.uint(m.type);
            o.lit(L.bitsOffset);
            o.uint(m.bitOffset);
            if (m.bitfieldSize !== 0) {
              o.lit(L.bitfieldSize);
              o.uint(m.bitfieldSize);
            }
          }
          break;
        }
      case 6 /* ENUM */:
        {
          const vs = t.values;
          o.lit(t.kflag ? L.signedEnc : L.unsignedEnc);
          o.uint(t.size);
          o.lit(L.vlen);
          o.uint(vs.length);
          for (let i = 0; i < vs.length; i++) {
            const v = vs[i] as (typeof vs)[number];
            o.lit(L.memberStart);
            this.name(v.nameOff);
            o.lit(L.val);
            // %d for signed enums, %u otherwise.
            if (t.kflag) o.int(v.value | 0);
            else o.uint(v.value >>> 0);
          }
          break;
        }
      case 19 /* ENUM64 */:
        {
          const vs = t.values;
          o.lit(t.kflag ? L.signedEnc : L.unsignedEnc);
          o.uint(t.size);
          o.lit(L.vlen);
          o.uint(vs.length);
          for (let i = 0; i < vs.length; i++) {
            const v = vs[i] as (typeof vs)[number];
            o.lit(L.memberStart);
            this.name(v.nameOff);
            o.lit(L.val);
            enum64(o, v.lo >>> 0, v.hi >>> 0, t.kflag);
          }
          break;
        }
      case 7 /* FWD */:
        o.lit(t.kflag ? L.fwdUnion : L.fwdStruct);
        break;
      case 12 /* FUNC */:
        o.lit(L.typeId);
        o.uint(t.type);
        o.lit(L.linkage);
        o.lit(LINKAGE[t.linkage] ?? LINKAGE_UNKNOWN);
        break;
      case 13 /* FUNC_PROTO */:
        {
          const ps = t.params;
          o.lit(L.retTypeId);
          o.uint(t.type);
          o.lit(L.vlen);
          o.uint(ps.length);
          for (let i = 0; i < ps.length; i++) {
            const p = ps[i] as (typeof ps)[number];
            o.lit(L.memberStart);
            this.name(p.nameOff);
            o.lit(L.memberTypeId);
            o.uint(p.type);
          }
          break;
        }
      case 14 /* VAR */:
        o.lit(L.typeId);
        o.uint(t.type);
        o.lit(L.varLinkage);
        o.lit(LINKAGE[t.linkage] ?? LINKAGE_UNKNOWN);
        break;
      case 15 /* DATASEC */:
        {
          const vs = t.vars;
          o.lit(L.size);
          o.uint(t.size);
          o.lit(L.vlen);
          o.uint(vs.length);
          for (let i = 0; i < vs.length; i++) {
            const v = vs[i] as (typeof vs)[number];
            o.lit(L.secVar);
            o.uint(v.type);
            o.lit(L.offset);
            o.uint(v.offset);
            o.lit(L.size);
            o.uint(v.size);
            // bpftool names the variable (its kind and name) when the id resolves.
            if (v.type < this.btf.typeCount) {
              const vt = this.btf.type(v.type);
              o.lit(L.paren);
              o.lit(vt.kind === UNKNOWN_KIND ? UNKNOWN_LIT : (KIND_LIT[vt.kind] ?? UNKNOWN_LIT).subarray(1));
              this.name(vt.nameOff);
              o.lit(L.parenEnd);
            }
          }
          break;
        }
      case 16 /* FLOAT */:
        o.lit(L.size);
        o.uint(t.size);
        break;
      case 17 /* DECL_TAG */:
        o.lit(L.typeId);
        o.uint(t.type);
        o.lit(L.componentIdx);
        o.int(t.componentIdx);
        break;
      case UNKNOWN_KIND:
        // bpftool 7.1 cannot read kinds past ENUM64 at all; print what we know of the record.
        o.lit(L.kind);
        o.uint(t.rawKind);
        o.lit(L.vlen);
        o.uint(t.vlen);
        o.lit(L.sizeOrType);
        o.uint(t.sizeOrType);
        break;
    }
    o.byte(10 /* \n */);
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
