import { type Btf, Kind, type TypeId } from '../btf/index.ts';
import { typeById } from './btfview.ts';
import { isEnumvalBased, isTypeBased } from './kinds.ts';
import type { Mismatch } from './match.ts';
import { essentialName } from './names.ts';
import type { Accessor, Spec } from './spec.ts';

/**
 * Human wording for relocations: the relocated thing in C terms and, when a relocation is
 * poisoned or fails, why, naming the kernel.
 */

const KEYWORDS: Partial<Record<number, string>> = {
  [Kind.Struct]: 'struct',
  [Kind.Union]: 'union',
  [Kind.Enum]: 'enum',
  [Kind.Enum64]: 'enum',
};

/**
 * `struct task_struct`, `union bpf_attr`, `enum x`, a typedef's bare name, `<anon>`.
 * `essential` drops a flavor suffix (`task_struct___old` → `task_struct`): the kernel's name.
 */
export function cTypeName(btf: Btf, id: TypeId, essential = false): string {
  const t = typeById(btf, id);
  if (!t) return `[${id}]`;
  if (id === 0) return 'void';
  const full = btf.hasString(t.nameOff) ? btf.str(t.nameOff) : '';
  const name = essential ? essentialName(full) : full;
  if (t.kind === Kind.Fwd) return `${t.kflag ? 'union' : 'struct'} ${name}`;
  const kw = KEYWORDS[t.kind];
  if (name === '') return kw ? `${kw} <anon>` : '<anon>';
  return kw ? `${kw} ${name}` : name;
}

/**
 * The relocated expression: `task_struct.mm`, `sock.__sk_common.skc_num`,
 * `task_struct.comm[0]`, `struct task_struct`, `enum bpf_map_type::BPF_MAP_TYPE_HASH`.
 * Anonymous struct/union levels are invisible, as in C.
 */
export function cPath(btf: Btf, rootTypeId: TypeId, spec: Spec | undefined, kind: number): string {
  if (isTypeBased(kind) || !spec) return cTypeName(btf, rootTypeId);
  if (isEnumvalBased(kind)) {
    const acc = spec.accessors[0] as Accessor;
    return `${cTypeName(btf, rootTypeId)}::${acc.name ?? acc.idx}`;
  }
  return fieldPath(btf, rootTypeId, spec.accessors, spec.accessors.length);
}

/** The C path of the first `n` accessors of a field spec. */
export function fieldPath(btf: Btf, rootTypeId: TypeId, accessors: readonly Accessor[], n: number): string {
  const root = typeById(btf, rootTypeId);
  let s =
    root && btf.hasString(root.nameOff) && root.nameOff !== 0
      ? btf.str(root.nameOff)
      : cTypeName(btf, rootTypeId);
  const first = accessors[0];
  if (first && first.idx !== 0) s += `[${first.idx}]`;
  for (let i = 1; i < n; i++) {
    const a = accessors[i] as Accessor;
    s += a.name !== undefined ? `.${a.name}` : `[${a.idx}]`;
  }
  return s;
}

function where(release: string | undefined): string {
  return release ? `in ${release}` : 'in the target kernel';
}

/** Why a relocation found nothing, given the first candidate's mismatch (if any candidate existed). */
export function missingReason(
  btf: Btf,
  local: Spec,
  kind: number,
  candidates: number,
  mismatch: Mismatch | undefined,
  release: string | undefined,
): string {
  const root = cTypeName(btf, local.rootTypeId, true);
  const at = where(release);
  if (candidates === 0) return `\`${root}\` does not exist ${at}`;
  if (isTypeBased(kind)) return `\`${root}\` exists ${at} but its layout is not compatible`;
  if (isEnumvalBased(kind)) {
    const acc = local.accessors[0] as Accessor;
    return `enumerator \`${acc.name}\` of \`${root}\` does not exist ${at}`;
  }
  const step = mismatch?.step ?? local.accessors.length - 1;
  const acc = local.accessors[step] as Accessor | undefined;
  if (!acc) return `\`${root}\` does not match ${at}`;
  const path = fieldPath(btf, local.rootTypeId, local.accessors, step);
  if (acc.name !== undefined) {
    // Name the struct that should hold the field; an anonymous one by the path leading to it.
    const holder = cTypeName(btf, acc.typeId, true);
    const owner = holder.endsWith('<anon>') ? `\`${path}\`` : `\`${holder}\``;
    if (mismatch?.why === 'incompatible')
      return `field \`${acc.name}\` of ${owner} has an incompatible type ${at}`;
    if (mismatch?.why === 'not-composite') return `\`${path}\` is not a struct or union ${at}`;
    return `field \`${acc.name}\` of ${owner} does not exist ${at}`;
  }
  if (mismatch?.why === 'out-of-bounds') return `index ${acc.idx} of \`${path}\` is out of bounds ${at}`;
  return `\`${path}\` is not an array ${at}`;
}
