import { type Btf, type CompositeType, Kind, type TypeId } from '../btf/index.ts';
import { isAnyEnum, isComposite, resolveSize, skipModsAndTypedefs, typeById } from './btfview.ts';
import { Errno } from './errno.ts';
import { isEnumvalBased, isFieldBased, isTypeBased, RelocationKind } from './kinds.ts';
import { essentialNameLength } from './names.ts';
import { type Accessor, isFlexArray, SPEC_MAX_LEN, type Spec } from './spec.ts';
import { fieldsAreCompat, typesAreCompat, typesMatch } from './type-compat.ts';

/**
 * Why a candidate did not match, for the human explanation of a poisoned relocation.
 * `step` is the index of the local accessor that found no counterpart.
 */
export interface Mismatch {
  step: number;
  why: 'missing' | 'incompatible' | 'not-composite' | 'not-array' | 'out-of-bounds' | 'type' | 'enumerator';
}

export interface MatchResult {
  /** 1 match, 0 no match, negative errno: the relocation fails. */
  code: number;
  spec: Spec;
  mismatch?: Mismatch;
}

/**
 * `bpf_core_spec_match`: tries to find the local spec inside one target candidate, building
 * the target spec (with the target's own anonymous levels in `raw`) along the way.
 */
export function matchCandidate(local: Spec, tb: Btf, candId: TypeId): MatchResult {
  const targ: Spec = { btf: tb, rootTypeId: candId, kind: local.kind, accessors: [], raw: [], bitOffset: 0 };
  const res = (code: number, mismatch?: Mismatch): MatchResult =>
    mismatch ? { code, spec: targ, mismatch } : { code, spec: targ };

  if (isTypeBased(local.kind)) {
    const code =
      local.kind === RelocationKind.TypeMatches
        ? typesMatch(local.btf, local.rootTypeId, tb, candId)
        : typesAreCompat(local.btf, local.rootTypeId, tb, candId);
    return res(code, code === 0 ? { step: 0, why: 'type' } : undefined);
  }

  const la0 = local.accessors[0] as Accessor;
  if (isEnumvalBased(local.kind)) {
    const tid = skipModsAndTypedefs(tb, candId);
    const t = tid < 0 ? undefined : tb.type(tid);
    if (!t || !isAnyEnum(t)) return res(0, { step: 0, why: 'type' });
    const lname = la0.name ?? '';
    const llen = essentialNameLength(lname);
    const values = (t as { values: { nameOff: number }[] }).values;
    for (let i = 0; i < values.length; i++) {
      const tname = tb.str((values[i] as { nameOff: number }).nameOff);
      if (essentialNameLength(tname) !== llen) continue;
      if (lname.slice(0, llen) === tname.slice(0, llen)) {
        targ.accessors.push({ typeId: tid, idx: i, name: tname });
        targ.raw.push(i);
        return res(1);
      }
    }
    return res(0, { step: 0, why: 'enumerator' });
  }

  if (!isFieldBased(local.kind)) return res(Errno.EINVAL);

  let targId = candId;
  for (let i = 0; i < local.accessors.length; i++) {
    const la = local.accessors[i] as Accessor;
    targId = skipModsAndTypedefs(tb, targId);
    if (targId < 0) return res(Errno.EINVAL);
    const tt = tb.type(targId);
    if (la.name !== undefined) {
      const found = matchMember(local.btf, la, tb, targId, targ);
      if (found.code <= 0) return res(found.code, found.code === 0 ? { step: i, why: found.why } : undefined);
      targId = found.next;
    } else {
      if (i > 0) {
        if (tt.kind !== Kind.Array) return res(0, { step: i, why: 'not-array' });
        const flex = isFlexArray(tb, targ.accessors[targ.accessors.length - 1] as Accessor, tt.nelems);
        // libbpf compares the int index against the u32 element count.
        if (!flex && la.idx >>> 0 >= tt.nelems) return res(0, { step: i, why: 'out-of-bounds' });
        targId = skipModsAndTypedefs(tb, tt.type);
        if (targId < 0) return res(Errno.EINVAL);
      }
      if (targ.raw.length === SPEC_MAX_LEN) return res(Errno.E2BIG);
      targ.accessors.push({ typeId: targId, idx: la.idx });
      targ.raw.push(la.idx);
      const sz = resolveSize(tb, targId);
      if (sz < 0) return res(sz);
      targ.bitOffset = (targ.bitOffset + Math.imul(Math.imul(la.idx, sz), 8)) >>> 0;
    }
  }
  return res(1);
}

interface MemberFound {
  code: number;
  next: TypeId;
  why: Mismatch['why'];
}

/**
 * `bpf_core_match_member`: depth-first search of a named local member in a target
 * struct/union, descending into anonymous members. Each visited member is pushed onto the
 * raw spec speculatively and popped when it is not the one. The first member with the right
 * name decides: if its type is incompatible there is no match, later members are not tried.
 */
function matchMember(lb: Btf, la: Accessor, tb: Btf, targId: TypeId, spec: Spec): MemberFound {
  const resolvedId = skipModsAndTypedefs(tb, targId);
  if (resolvedId < 0) return { code: Errno.EINVAL, next: 0, why: 'missing' };
  const tt = tb.type(resolvedId);
  if (!isComposite(tt)) return { code: 0, next: 0, why: 'not-composite' };
  const lt = typeById(lb, la.typeId) as CompositeType;
  const lm = lt.members[la.idx];
  if (!lm) return { code: Errno.EINVAL, next: 0, why: 'missing' };
  const lname = lb.str(lm.nameOff);
  const members = (tt as CompositeType).members;
  for (let i = 0; i < members.length; i++) {
    const m = members[i] as CompositeType['members'][number];
    if (spec.raw.length === SPEC_MAX_LEN) return { code: Errno.E2BIG, next: 0, why: 'missing' };
    spec.bitOffset = (spec.bitOffset + m.bitOffset) >>> 0;
    spec.raw.push(i);
    const tname = tb.hasString(m.nameOff) ? tb.str(m.nameOff) : '';
    if (tname === '') {
      const found = matchMember(lb, la, tb, m.type, spec);
      if (found.code !== 0) return found;
    } else if (tname === lname) {
      spec.accessors.push({ typeId: resolvedId, idx: i, name: tname });
      const code = fieldsAreCompat(lb, lm.type, tb, m.type);
      if (code === 0) spec.accessors.pop();
      return { code, next: m.type, why: 'incompatible' };
    }
    spec.bitOffset = (spec.bitOffset - m.bitOffset) >>> 0;
    spec.raw.pop();
  }
  return { code: 0, next: 0, why: 'missing' };
}
