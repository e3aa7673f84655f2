import { Btf } from '../btf/btf.ts';
import { StringTableBuilder } from '../btf/encode.ts';
import { Kind } from '../btf/kinds.ts';
import type { BtfType, CompositeType, Member, TypeId } from '../btf/types.ts';
import { errors } from '../errors/index.ts';
import type { MarkSet } from './marks.ts';

/** Interns a string and returns its offset in the output string section. */
export interface StringSink {
  add(s: string): number;
}

/**
 * Phase 2 of bpftool's btfgen: copy the marked types of `src` with ids in [from, to), in
 * ascending id order, into a fresh type list. Structs and unions keep their size and only
 * their marked members; every other kind is copied whole. Strings are interned on first use
 * (type name, then member/enumerator/parameter names). Returns the new types with type ids
 * still pointing into `src`; `remap` receives old id → new id for each kept type.
 */
export function copyMarked(
  marks: MarkSet,
  from: TypeId,
  to: TypeId,
  firstNewId: TypeId,
  strings: StringSink,
  remap: Uint32Array,
): BtfType[] {
  const src = marks.btf;
  const out: BtfType[] = [];
  for (const id of marks.keptIds(from, to)) {
    const t = src.type(id);
    const copy =
      t.kind === Kind.Struct || t.kind === Kind.Union
        ? copyComposite(src, t, id, marks.members.get(id), strings)
        : copyWhole(src, t, strings);
    remap[id] = firstNewId + out.length;
    out.push(copy);
  }
  return out;
}

/**
 * libbpf's btf__add_struct + btf__add_field: the writer recomputes kind_flag (set once a kept
 * member is a bitfield or sits at a non-byte offset) and stores offsets as size<<24 | offset.
 */
function copyComposite(
  src: Btf,
  t: CompositeType,
  id: TypeId,
  kept: Uint8Array | undefined,
  strings: StringSink,
): CompositeType {
  const nameOff = strings.add(src.str(t.nameOff));
  const members: Member[] = [];
  let kflag = false;
  if (kept) {
    for (let i = 0; i < t.members.length; i++) {
      if (kept[i] !== 1) continue;
      const m = t.members[i] as Member;
      const isBitfield = m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0;
      // libbpf's btf__add_field refuses these, so bpftool fails on them; so do we.
      if (isBitfield && (m.bitfieldSize === 0 || m.bitfieldSize > 255 || m.bitOffset > 0xffffff)) {
        throw errors.minimize(
          `member ${i} of type [${id}] is a bitfield libbpf cannot write (bit offset ${m.bitOffset}, size ${m.bitfieldSize})`,
        );
      }
      if (t.kind === Kind.Union && m.bitOffset !== 0) {
        throw errors.minimize(`member ${i} of union [${id}] has non-zero bit offset ${m.bitOffset}`);
      }
      kflag ||= isBitfield;
      members.push({
        nameOff: strings.add(src.str(m.nameOff)),
        type: m.type,
        bitOffset: m.bitOffset,
        bitfieldSize: m.bitfieldSize,
      });
    }
  }
  return { kind: t.kind, nameOff, kflag, size: t.size, members };
}

/** libbpf's btf__add_type: the record verbatim, its strings re-interned in visiting order. */
function copyWhole(src: Btf, t: BtfType, strings: StringSink): BtfType {
  // libbpf leaves a zero name offset alone and re-adds every other string.
  const str = (off: number) => (off === 0 ? 0 : strings.add(src.str(off)));
  const nameOff = str(t.nameOff);
  switch (t.kind) {
    case Kind.Enum:
      return { ...t, nameOff, values: t.values.map((v) => ({ nameOff: str(v.nameOff), value: v.value })) };
    case Kind.Enum64:
      return {
        ...t,
        nameOff,
        values: t.values.map((v) => ({ nameOff: str(v.nameOff), lo: v.lo, hi: v.hi })),
      };
    case Kind.FuncProto:
      return { ...t, nameOff, params: t.params.map((p) => ({ nameOff: str(p.nameOff), type: p.type })) };
    case Kind.Struct:
    case Kind.Union:
      return { ...t, nameOff, members: t.members.map((m) => ({ ...m, nameOff: str(m.nameOff) })) };
    case Kind.Datasec:
      return { ...t, nameOff, vars: t.vars.map((v) => ({ ...v })) };
    default:
      return { ...t, nameOff };
  }
}

/**
 * Rewrites every type id field of the copied types through `remap`. Ids of types that were
 * not kept map to 0, so e.g. a kept pointer whose pointee was not needed becomes `void *`.
 */
export function remapIds(types: BtfType[], remap: Uint32Array): void {
  const map = (id: TypeId) => remap[id] ?? 0;
  for (const t of types) {
    switch (t.kind) {
      case Kind.Ptr:
      case Kind.Typedef:
      case Kind.Volatile:
      case Kind.Const:
      case Kind.Restrict:
      case Kind.TypeTag:
      case Kind.Func:
      case Kind.Var:
      case Kind.DeclTag:
        t.type = map(t.type);
        break;
      case Kind.Array:
        t.type = map(t.type);
        t.indexType = map(t.indexType);
        break;
      case Kind.Struct:
      case Kind.Union:
        for (const m of t.members) m.type = map(m.type);
        break;
      case Kind.FuncProto:
        t.type = map(t.type);
        for (const p of t.params) p.type = map(p.type);
        break;
      case Kind.Datasec:
        for (const v of t.vars) v.type = map(v.type);
        break;
      default:
        break;
    }
  }
}

/**
 * The minimized BTF of everything marked, as one non-split BTF (what bpftool writes):
 * types in ascending source id order, fresh string table.
 */
export function emitMinimized(marks: MarkSet, littleEndian: boolean): Btf {
  const strings = new StringTableBuilder();
  const remap = new Uint32Array(marks.btf.typeCount);
  const types = copyMarked(marks, 1, marks.btf.typeCount, 1, strings, remap);
  remapIds(types, remap);
  return new Btf({ types, strings: strings.finish(), littleEndian });
}

/**
 * Strings of a split BTF as libbpf's writer makes them: a string the base already has is
 * referenced there; others are appended to the split's own section (which, unlike a base's,
 * does not start with an empty string), at offsets continuing the base's.
 */
class SplitStrings implements StringSink {
  private readonly own: StringTableBuilder;

  constructor(
    private readonly base: ReadonlyMap<string, number>,
    startOff: number,
  ) {
    this.own = new StringTableBuilder(startOff);
  }

  add(s: string): number {
    return this.base.get(s) ?? this.own.add(s);
  }

  finish(): Uint8Array {
    return this.own.finish();
  }
}

/**
 * For a split (module) kernel BTF: the marked base types as a minimized base, and the marked
 * module types as a split BTF over that minimized base (ids and strings continue the new base's).
 */
export function emitMinimizedSplit(marks: MarkSet, littleEndian: boolean): { base: Btf; split: Btf } {
  const src = marks.btf;
  const splitStart = src.startId;
  if (src.base === undefined || splitStart <= 1)
    throw errors.minimize('emitMinimizedSplit needs a split BTF');
  const remap = new Uint32Array(src.typeCount);
  const baseStrings = new StringTableBuilder();
  const baseTypes = copyMarked(marks, 1, splitStart, 1, baseStrings, remap);
  const baseStrBytes = baseStrings.finish();
  const splitStrings = new SplitStrings(baseStrings.known, baseStrBytes.length);
  const splitTypes = copyMarked(marks, splitStart, src.typeCount, 1 + baseTypes.length, splitStrings, remap);
  remapIds(baseTypes, remap);
  remapIds(splitTypes, remap);
  const base = new Btf({ types: baseTypes, strings: baseStrBytes, littleEndian });
  const split = new Btf({ types: splitTypes, strings: splitStrings.finish(), littleEndian, base });
  return { base, split };
}
