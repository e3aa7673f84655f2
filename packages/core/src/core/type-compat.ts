import { type Btf, type BtfType, IntEncoding, Kind, type TypeId } from '../btf/index.ts';
import {
  intOffset,
  isAnyEnum,
  isComposite,
  kindsCoreCompat,
  skipModsAndTypedefs,
  typeById,
} from './btfview.ts';
import { Errno } from './errno.ts';
import { essentialNameLength } from './names.ts';

/**
 * Type compatibility as libbpf 1.1 judges it. Each function returns 1 (yes), 0 (no) or a
 * negative errno, like the C it mirrors, because a negative answer aborts the relocation
 * while 0 only rules out one candidate.
 */

const MAX_DEPTH = 32;

function nameOf(btf: Btf, t: BtfType): string {
  return btf.hasString(t.nameOff) ? btf.str(t.nameOff) : '';
}

function resolved(btf: Btf, id: TypeId): [TypeId, BtfType] | undefined {
  const r = skipModsAndTypedefs(btf, id);
  if (r < 0) return undefined;
  return [r, btf.type(r)];
}

/**
 * `bpf_core_types_are_compat` (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET): same kind family at
 * every level; names below the root are ignored; INTs must not be legacy bitfields; pointers
 * and arrays recurse; function prototypes compare arity, parameters and return type.
 */
export function typesAreCompat(lb: Btf, lid: TypeId, tb: Btf, tid: TypeId, level = MAX_DEPTH): number {
  const lt0 = typeById(lb, lid);
  const tt0 = typeById(tb, tid);
  if (!lt0 || !tt0) return Errno.EINVAL;
  if (!kindsCoreCompat(lt0, tt0)) return 0;
  let depth = MAX_DEPTH;
  for (;;) {
    depth--;
    if (depth < 0) return Errno.EINVAL;
    const l = resolved(lb, lid);
    const t = resolved(tb, tid);
    if (!l || !t) return Errno.EINVAL;
    const [, lt] = l;
    const [, tt] = t;
    if (!kindsCoreCompat(lt, tt)) return 0;
    switch (lt.kind) {
      case Kind.Unkn:
      case Kind.Struct:
      case Kind.Union:
      case Kind.Enum:
      case Kind.Fwd:
      case Kind.Enum64:
        return 1;
      case Kind.Int:
        return intOffset(lt) === 0 && intOffset(tt) === 0 ? 1 : 0;
      case Kind.Ptr:
        lid = lt.type;
        tid = (tt as { type: TypeId }).type;
        continue;
      case Kind.Array:
        lid = lt.type;
        tid = (tt as { type: TypeId }).type;
        continue;
      case Kind.FuncProto: {
        if (tt.kind !== Kind.FuncProto) return 0;
        if (lt.params.length !== tt.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) return Errno.EINVAL;
          const lp = skipModsAndTypedefs(lb, (lt.params[i] as { type: TypeId }).type);
          const tp = skipModsAndTypedefs(tb, (tt.params[i] as { type: TypeId }).type);
          if (lp < 0 || tp < 0) return Errno.EINVAL;
          const r = typesAreCompat(lb, lp, tb, tp, level - 1);
          if (r <= 0) return r;
        }
        const lr = skipModsAndTypedefs(lb, lt.type);
        const tr = skipModsAndTypedefs(tb, tt.type);
        if (lr < 0 || tr < 0) return Errno.EINVAL;
        lid = lr;
        tid = tr;
        continue;
      }
      default:
        return 0;
    }
  }
}

/**
 * `bpf_core_fields_are_compat`: whether a local member type can stand for a target member
 * type. Any two composites agree; otherwise kinds must agree, FWD/enums compare essential
 * names (an anonymous side matches anything), INTs only refuse legacy bitfield encodings.
 */
export function fieldsAreCompat(lb: Btf, lid: TypeId, tb: Btf, tid: TypeId): number {
  for (let guard = 0; guard < 4096; guard++) {
    const l = resolved(lb, lid);
    const t = resolved(tb, tid);
    if (!l || !t) return Errno.EINVAL;
    const [, lt] = l;
    const [, tt] = t;
    if (isComposite(lt) && isComposite(tt)) return 1;
    if (!kindsCoreCompat(lt, tt)) return 0;
    switch (lt.kind) {
      case Kind.Ptr:
      case Kind.Float:
        return 1;
      case Kind.Fwd:
      case Kind.Enum:
      case Kind.Enum64: {
        const ln = nameOf(lb, lt);
        const tn = nameOf(tb, tt);
        const ll = essentialNameLength(ln);
        const tl = essentialNameLength(tn);
        return ll === 0 || tl === 0 || (ll === tl && ln.slice(0, ll) === tn.slice(0, ll)) ? 1 : 0;
      }
      case Kind.Int:
        return intOffset(lt) === 0 && intOffset(tt) === 0 ? 1 : 0;
      case Kind.Array:
        lid = lt.type;
        tid = (tt as { type: TypeId }).type;
        continue;
      default:
        return 0;
    }
  }
  return Errno.EINVAL;
}

/** `bpf_core_names_match`: an anonymous target only matches an anonymous local. */
function namesMatch(lb: Btf, lOff: number, tb: Btf, tOff: number): boolean {
  const ln = lb.hasString(lOff) ? lb.str(lOff) : '';
  const tn = tb.hasString(tOff) ? tb.str(tOff) : '';
  if (tn === '') return ln === '';
  const tl = essentialNameLength(tn);
  return tl === essentialNameLength(ln) && ln.slice(0, tl) === tn.slice(0, tl);
}

/**
 * `bpf_core_types_match` (TYPE_MATCHES, libbpf ≥ 1.0): a stricter, name-aware comparison.
 * Behind a pointer, composites and forward declarations only need to agree on their kind.
 */
export function typesMatch(
  lb: Btf,
  lid: TypeId,
  tb: Btf,
  tid: TypeId,
  behindPtr = false,
  level = MAX_DEPTH,
): number {
  if (level <= 0) return Errno.EINVAL;
  let depth = MAX_DEPTH;
  for (;;) {
    depth--;
    if (depth < 0) return Errno.EINVAL;
    const l = resolved(lb, lid);
    const t = resolved(tb, tid);
    if (!l || !t) return Errno.EINVAL;
    const [, lt] = l;
    const [, tt] = t;
    if (!namesMatch(lb, lt.nameOff, tb, tt.nameOff)) return 0;
    const lk = lt.kind;
    const tk = tt.kind;
    switch (lk) {
      case Kind.Unkn:
        return lk === tk ? 1 : 0;
      case Kind.Fwd: {
        const lf = lt.kflag;
        if (behindPtr) {
          if (lk === tk) return lf === tt.kflag ? 1 : 0;
          return (tk === Kind.Struct && !lf) || (tk === Kind.Union && lf) ? 1 : 0;
        }
        if (lk !== tk) return 0;
        return lf === tt.kflag ? 1 : 0;
      }
      case Kind.Enum:
      case Kind.Enum64:
        if (!isAnyEnum(tt)) return 0;
        return enumsMatch(lb, lt, tb, tt);
      case Kind.Struct:
      case Kind.Union:
        if (behindPtr) {
          if (lk === tk) return 1;
          if (tk !== Kind.Fwd) return 0;
          return (lk === Kind.Union) === tt.kflag ? 1 : 0;
        }
        if (lk !== tk) return 0;
        return compositesMatch(lb, lt, tb, tt as typeof lt, behindPtr, level);
      case Kind.Int: {
        if (tt.kind !== Kind.Int) return 0;
        const ls = lt.encoding & IntEncoding.Signed;
        const ts = tt.encoding & IntEncoding.Signed;
        return lt.size === tt.size && ls === ts ? 1 : 0;
      }
      case Kind.Ptr:
        if (tt.kind !== Kind.Ptr) return 0;
        behindPtr = true;
        lid = lt.type;
        tid = tt.type;
        continue;
      case Kind.Array:
        if (tt.kind !== Kind.Array) return 0;
        if (lt.nelems !== tt.nelems) return 0;
        lid = lt.type;
        tid = tt.type;
        continue;
      case Kind.FuncProto: {
        if (tt.kind !== Kind.FuncProto) return 0;
        if (lt.params.length !== tt.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          const r = typesMatch(
            lb,
            (lt.params[i] as { type: TypeId }).type,
            tb,
            (tt.params[i] as { type: TypeId }).type,
            behindPtr,
            level - 1,
          );
          if (r <= 0) return r;
        }
        lid = lt.type;
        tid = tt.type;
        continue;
      }
      default:
        return 0;
    }
  }
}

function enumsMatch(lb: Btf, lt: BtfType, tb: Btf, tt: BtfType): number {
  if (!isAnyEnum(lt) || !isAnyEnum(tt)) return 0;
  const lv = (lt as { values: { nameOff: number }[] }).values;
  const tv = (tt as { values: { nameOff: number }[] }).values;
  if ((lt as { size: number }).size !== (tt as { size: number }).size) return 0;
  if (lv.length > tv.length) return 0;
  for (const l of lv) {
    if (!tv.some((t) => namesMatch(lb, l.nameOff, tb, t.nameOff))) return 0;
  }
  return 1;
}

function compositesMatch(
  lb: Btf,
  lt: BtfType & { members: { nameOff: number; type: TypeId }[] },
  tb: Btf,
  tt: BtfType & { members: { nameOff: number; type: TypeId }[] },
  behindPtr: boolean,
  level: number,
): number {
  if (lt.members.length > tt.members.length) return 0;
  for (const lm of lt.members) {
    let matched = false;
    for (const tm of tt.members) {
      if (!namesMatch(lb, lm.nameOff, tb, tm.nameOff)) continue;
      const r = typesMatch(lb, lm.type, tb, tm.type, behindPtr, level - 1);
      if (r < 0) return r;
      if (r > 0) {
        matched = true;
        break;
      }
    }
    if (!matched) return 0;
  }
  return 1;
}
