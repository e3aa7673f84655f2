import type { Btf, TypeId } from '../btf/index.ts';
import { kindsCoreCompat, typeById } from './btfview.ts';
import { essentialName, isDeclarationKind, typesByEssentialName } from './names.ts';

/** A target type that may be the local type under another flavor. */
export interface Candidate {
  btf: Btf;
  id: TypeId;
}

/**
 * `bpf_core_find_cands`: every type of the target whose kind is the local root's (enum and
 * enum64 count as one) and whose essential name equals the local name's, in id order.
 * Module BTFs are searched only if the main target yields nothing, as libbpf does without a
 * custom BTF path. The lookup goes through the essential-name index, never a scan.
 */
export function findCandidates(
  localBtf: Btf,
  localId: TypeId,
  target: Btf,
  modules: readonly Btf[],
): Candidate[] {
  const lt = typeById(localBtf, localId);
  if (!lt) return [];
  const name = localBtf.str(lt.nameOff);
  const ess = essentialName(name);
  const out: Candidate[] = [];
  // Candidates share the local kind (enum ~ enum64), so one group of the index suffices.
  const group = isDeclarationKind(lt.kind) ? 'declarations' : 'types';
  const add = (btf: Btf, fromId: TypeId) => {
    for (const id of typesByEssentialName(btf, ess, group)) {
      if (id < fromId) continue;
      if (kindsCoreCompat(btf.type(id), lt)) out.push({ btf, id });
    }
  };
  add(target, 1);
  if (out.length > 0) return out;
  for (const m of modules) add(m, m.startId);
  return out;
}
