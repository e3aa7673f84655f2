import type { Btf } from '../btf/btf.ts';
import { IntEncoding, Kind } from '../btf/kinds.ts';
import type { CompositeType, TypeId } from '../btf/types.ts';
import { errors } from '../errors/index.ts';
import type { FieldDesc, NamedTypeDesc, TypeDesc } from './runtime/codec.ts';

/**
 * Turns BTF types into plain, JSON-serialisable layout descriptors (`TypeDesc`) that the codec
 * runtime interprets. Everything comes from BTF: sizes, offsets, bitfields, signedness. Named
 * structs, unions and enums become entries of a shared table referenced by name, so that a
 * type used by several maps is described (and typed) once.
 */
export class TypeDescriber {
  /** Named types reached so far, keyed by their TS-safe table name. */
  readonly named = new Map<string, NamedTypeDesc>();
  private readonly keyById = new Map<TypeId, string>();
  private readonly inProgress = new Set<TypeId>();

  constructor(readonly btf: Btf) {}

  /** The descriptor of a type (typedefs and modifiers are looked through). */
  describe(id: TypeId, depth = 0): TypeDesc {
    if (depth > MAX_DEPTH) throw errors.badBtf(0, `type ${id} nests more than ${MAX_DEPTH} levels deep`);
    const btf = this.btf;
    const rid = btf.skipModsAndTypedefs(id);
    const t = btf.type(rid);
    switch (t.kind) {
      case Kind.Int: {
        const signed = (t.encoding & IntEncoding.Signed) !== 0;
        const d: TypeDesc = { kind: 'int', size: t.size, signed };
        if (t.encoding & IntEncoding.Bool) d.bool = true;
        if (t.encoding & IntEncoding.Char || btf.name(rid) === 'char') d.char = true;
        return d;
      }
      case Kind.Float:
        return { kind: 'float', size: t.size };
      case Kind.Ptr:
        return { kind: 'ptr', size: 8 };
      case Kind.Enum:
      case Kind.Enum64:
        return this.namedRef(rid, 'enum', depth) ?? this.enumDesc(rid);
      case Kind.Array: {
        const elemId = btf.skipModsAndTypedefs(t.type);
        const elem = this.describe(elemId, depth + 1);
        if (elem.kind === 'int' && elem.char && elem.size === 1) return { kind: 'string', size: t.nelems };
        const stride = this.sizeOf(elemId);
        return { kind: 'array', elem, count: t.nelems, stride };
      }
      case Kind.Struct:
      case Kind.Union:
        return (
          this.namedRef(rid, t.kind === Kind.Struct ? 'struct' : 'union', depth) ??
          this.compositeDesc(rid, depth)
        );
      case Kind.Fwd:
        return { kind: 'bytes', size: 0, note: `forward declaration ${btf.name(rid)}` };
      case Kind.Unkn:
        return { kind: 'bytes', size: 0, note: 'void' };
      default:
        return { kind: 'bytes', size: this.sizeOf(rid), note: `BTF kind ${t.kind}` };
    }
  }

  /** Byte size of a type, as the kernel's btf__resolve_size computes it. */
  sizeOf(id: TypeId): number {
    const btf = this.btf;
    let n = 1;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const t = btf.type(btf.skipModsAndTypedefs(id));
      switch (t.kind) {
        case Kind.Int:
        case Kind.Float:
        case Kind.Struct:
        case Kind.Union:
        case Kind.Enum:
        case Kind.Enum64:
        case Kind.Datasec:
          return n * t.size;
        case Kind.Ptr:
          return n * 8;
        case Kind.Array:
          n *= t.nelems;
          id = t.type;
          continue;
        case Kind.Var:
          id = t.type;
          continue;
        default:
          return 0;
      }
    }
    throw errors.badBtf(0, `type ${id} nests more than ${MAX_DEPTH} levels deep`);
  }

  /** For a named struct/union/enum: registers it in the table and returns a reference. */
  private namedRef(id: TypeId, what: 'struct' | 'union' | 'enum', depth: number): TypeDesc | undefined {
    const name = this.btf.name(id);
    if (name === '') return undefined;
    const existing = this.keyById.get(id);
    if (existing !== undefined) return { kind: 'ref', name: existing };
    const key = this.tableKey(name, what);
    this.keyById.set(id, key);
    if (this.inProgress.has(id)) return { kind: 'ref', name: key };
    this.inProgress.add(id);
    const body = what === 'enum' ? this.enumDesc(id) : this.compositeDesc(id, depth);
    this.inProgress.delete(id);
    this.named.set(key, { ...body, cName: `${what} ${name}` } as NamedTypeDesc);
    return { kind: 'ref', name: key };
  }

  /** A name for the type table: the C name, suffixed when a struct and an enum share it. */
  private tableKey(name: string, what: string): string {
    const safe = /^[A-Za-z_$][\w$]*$/.test(name) ? name : name.replace(/[^\w$]/g, '_');
    if (!this.named.has(safe) && ![...this.keyById.values()].includes(safe)) return safe;
    for (let i = 0; ; i++) {
      const k = i === 0 ? `${safe}_${what}` : `${safe}_${what}${i}`;
      if (!this.named.has(k) && ![...this.keyById.values()].includes(k)) return k;
    }
  }

  private enumDesc(id: TypeId): TypeDesc {
    const t = this.btf.type(id);
    if (t.kind === Kind.Enum) {
      const values: [string, string][] = t.values.map((v) => [
        this.btf.str(v.nameOff),
        String(t.kflag ? v.value | 0 : v.value >>> 0),
      ]);
      return { kind: 'enum', size: t.size, signed: t.kflag, values };
    }
    if (t.kind === Kind.Enum64) {
      const values: [string, string][] = t.values.map((v) => {
        const u = (BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0);
        return [this.btf.str(v.nameOff), String(t.kflag ? BigInt.asIntN(64, u) : u)];
      });
      return { kind: 'enum', size: t.size, signed: t.kflag, values };
    }
    throw errors.badBtf(0, `type ${id} is not an enum`);
  }

  private compositeDesc(id: TypeId, depth: number): TypeDesc {
    const t = this.btf.type(id) as CompositeType;
    const fields: FieldDesc[] = [];
    for (const m of t.members) {
      const name = this.btf.str(m.nameOff);
      let bitSize = m.bitfieldSize;
      let bitOffset = m.bitOffset;
      // Legacy (non-kflag) bitfields are INTs whose own encoding carries the width and offset.
      const mt = this.btf.type(this.btf.skipModsAndTypedefs(m.type));
      if (bitSize === 0 && mt.kind === Kind.Int && (mt.bits !== mt.size * 8 || mt.bitOffset !== 0)) {
        bitSize = mt.bits;
        bitOffset += mt.bitOffset;
      }
      const type = this.describe(m.type, depth + 1);
      const f: FieldDesc = { name, bitOffset, type };
      if (bitSize > 0) f.bitSize = bitSize;
      fields.push(f);
    }
    return { kind: t.kind === Kind.Struct ? 'struct' : 'union', size: t.size, fields };
  }
}

const MAX_DEPTH = 64;
