import type { Btf } from '../btf/btf.ts';
import { KIND_NAMES, Kind } from '../btf/kinds.ts';
import { type BtfType, UNKNOWN_KIND } from '../btf/types.ts';
import { NameTable } from './names.ts';

/** Receives the output in large latin1 chunks (one char per output byte). */
export type ChunkSink = (chunk: string) => void;

/** Flush to the sink once a chunk holds about this many chars: few, large writes. */
const CHUNK_CHARS = 1 << 20;

/**
 * The text of `bpftool btf dump file F [--base-btf B]` (bpftool 7.1.0, raw format): one
 * `[id] KIND 'name' ...` line per type of this BTF (for split BTF, from its first own id),
 * members/values/params/vars on tab-indented lines below. The result is a latin1 string:
 * write it with `Buffer.from(s, 'latin1')` to get bpftool's bytes.
 */
export function dumpRaw(btf: Btf): string {
  const parts: string[] = [];
  dumpRawTo(btf, (c) => parts.push(c));
  return parts.join('');
}

/** Streaming form of `dumpRaw`: the sink gets chunks of about 1 MiB, in order. */
export function dumpRawTo(btf: Btf, sink: ChunkSink): void {
  const names = new NameTable(btf);
  // bpftool's btf_str(): offset 0 prints as (anon), any other offset as the string there.
  const name = (off: number) => (off === 0 ? '(anon)' : names.get(off));
  const { types, startId } = btf;
  let out = '';
  for (let i = 0; i < types.length; i++) {
    const t = types[i] as BtfType;
    out += line(btf, startId + i, t, name);
    if (out.length >= CHUNK_CHARS) {
      sink(out);
      out = '';
    }
  }
  if (out.length > 0) sink(out);
}

const INT_ENCODINGS: Record<number, string> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };
const FUNC_LINKAGE = ['static', 'global', 'extern'];
const VAR_LINKAGE = ['static', 'global', 'extern'];

function kindName(t: BtfType): string {
  const k = t.kind === UNKNOWN_KIND ? t.rawKind : t.kind;
  return KIND_NAMES[k] ?? 'UNKNOWN';
}

/** One type's text, ending in a newline. Field order and spelling follow bpftool's dump_btf_type(). */
function line(btf: Btf, id: number, t: BtfType, name: (off: number) => string): string {
  let s = `[${id}] ${kindName(t)} '${name(t.nameOff)}'`;
  switch (t.kind) {
    case Kind.Int:
      s += ` size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${INT_ENCODINGS[t.encoding] ?? 'UNKN'}`;
      break;
    case Kind.Ptr:
    case Kind.Const:
    case Kind.Volatile:
    case Kind.Restrict:
    case Kind.Typedef:
    case Kind.TypeTag:
      s += ` type_id=${t.type}`;
      break;
    case Kind.Array:
      s += ` type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
      break;
    case Kind.Struct:
    case Kind.Union: {
      const ms = t.members;
      s += ` size=${t.size} vlen=${ms.length}`;
      for (let i = 0; i < ms.length; i++) {
        const m = ms[i] as (typeof ms)[number];
        s += `\n\t'${name(m.nameOff)}' type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize !== 0) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      break;
    }
    case Kind.Enum: {
      const vs = t.values;
      s += ` encoding=${t.kflag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${vs.length}`;
      for (let i = 0; i < vs.length; i++) {
        const v = vs[i] as (typeof vs)[number];
        s += `\n\t'${name(v.nameOff)}' val=${t.kflag ? v.value | 0 : v.value >>> 0}`;
      }
      break;
    }
    case Kind.Enum64: {
      const vs = t.values;
      s += ` encoding=${t.kflag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${vs.length}`;
      for (let i = 0; i < vs.length; i++) {
        const v = vs[i] as (typeof vs)[number];
        s += `\n\t'${name(v.nameOff)}' val=${enum64Text(v.lo, v.hi, t.kflag)}`;
      }
      break;
    }
    case Kind.Fwd:
      s += ` fwd_kind=${t.kflag ? 'union' : 'struct'}`;
      break;
    case Kind.Func:
      s += ` type_id=${t.type} linkage=${FUNC_LINKAGE[t.linkage] ?? '(unknown)'}`;
      break;
    case Kind.FuncProto: {
      const ps = t.params;
      s += ` ret_type_id=${t.type} vlen=${ps.length}`;
      for (let i = 0; i < ps.length; i++) {
        const p = ps[i] as (typeof ps)[number];
        s += `\n\t'${name(p.nameOff)}' type_id=${p.type}`;
      }
      break;
    }
    case Kind.Var:
      s += ` type_id=${t.type}, linkage=${VAR_LINKAGE[t.linkage] ?? '(unknown)'}`;
      break;
    case Kind.Datasec: {
      const vs = t.vars;
      s += ` size=${t.size} vlen=${vs.length}`;
      for (let i = 0; i < vs.length; i++) {
        const v = vs[i] as (typeof vs)[number];
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        // bpftool names the variable (its kind and name) when the id resolves.
        if (v.type < btf.typeCount) {
          const vt = btf.type(v.type);
          s += ` (${kindName(vt)} '${name(vt.nameOff)}')`;
        }
      }
      break;
    }
    case Kind.Float:
      s += ` size=${t.size}`;
      break;
    case Kind.DeclTag:
      s += ` type_id=${t.type} component_idx=${t.componentIdx}`;
      break;
    case UNKNOWN_KIND:
      // bpftool 7.1 cannot read kinds past ENUM64 at all; print what we know of the record.
      s += ` kind=${t.rawKind} vlen=${t.vlen} size_or_type=${t.sizeOrType}`;
      break;
  }
  return `${s}\n`;
}

/** An ENUM64 value as bpftool prints it: `%lldLL` when signed, `%lluULL` otherwise. */
function enum64Text(lo: number, hi: number, signed: boolean): string {
  lo >>>= 0;
  hi >>>= 0;
  if (hi === 0) return `${lo}${signed ? 'LL' : 'ULL'}`;
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  return signed ? `${BigInt.asIntN(64, v)}LL` : `${v}ULL`;
}
