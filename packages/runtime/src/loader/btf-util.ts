/** Size and alignment of BTF types, as libbpf's btf__resolve_size / btf__align_of compute them. */
import { type Btf, errors, Kind, type TypeId } from '../deps.ts';

const MAX_RESOLVE_DEPTH = 32;
const PTR_SIZE = 8;

export function resolveSize(btf: Btf, id: TypeId): number {
  let nelems = 1;
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    const t = btf.type(id);
    switch (t.kind) {
      case Kind.Int:
      case Kind.Struct:
      case Kind.Union:
      case Kind.Enum:
      case Kind.Enum64:
      case Kind.Datasec:
      case Kind.Float:
        return nelems * t.size;
      case Kind.Ptr:
        return nelems * PTR_SIZE;
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.TypeTag:
      case Kind.Var:
      case Kind.DeclTag:
        id = t.type;
        break;
      case Kind.Array:
        if (t.nelems && nelems > 0xffffffff / t.nelems)
          throw errors.badBtf(0, `array type ${id} is too large`);
        nelems *= t.nelems;
        id = t.type;
        break;
      default:
        throw errors.badBtf(0, `expected a type with a size at id ${id}, found kind ${t.kind}`);
    }
  }
  throw errors.badBtf(0, `type chain from ${id} is longer than ${MAX_RESOLVE_DEPTH}`);
}

export function alignOf(btf: Btf, id: TypeId): number {
  const rid = btf.skipModsAndTypedefs(id);
  const t = btf.type(rid);
  switch (t.kind) {
    case Kind.Int:
    case Kind.Enum:
    case Kind.Enum64:
    case Kind.Float:
      return Math.min(PTR_SIZE, t.size);
    case Kind.Ptr:
      return PTR_SIZE;
    case Kind.Array:
      return alignOf(btf, t.type);
    case Kind.Struct:
    case Kind.Union: {
      let max = 1;
      for (const m of t.members) {
        const a = alignOf(btf, m.type);
        // A member at an offset its natural alignment does not allow means a packed struct.
        if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
        max = Math.max(max, a);
      }
      return t.size % max === 0 ? max : 1;
    }
    default:
      return 1;
  }
}

/** The DATASEC named `name`, if any. */
export function findDatasec(btf: Btf, name: string): TypeId | undefined {
  for (const id of btf.byName(name)) if (btf.type(id).kind === Kind.Datasec) return id;
  return undefined;
}
