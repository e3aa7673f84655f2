import type { Btf, TypeId } from '../btf/index.ts';

const UNDERSCORE = 0x5f;

/**
 * Length of a name's essential part: everything before the last flavor separator, where a
 * separator is exactly `___` with a non-underscore character on each side (`a___b` → 1,
 * `a___b___c` → 4, `a____b` → no separator). libbpf compares type names by this prefix so a
 * program can carry several "flavors" of one kernel type.
 */
export function essentialNameLength(name: string): number {
  const n = name.length;
  for (let i = n - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== UNDERSCORE &&
      name.charCodeAt(i + 1) === UNDERSCORE &&
      name.charCodeAt(i + 2) === UNDERSCORE &&
      name.charCodeAt(i + 3) === UNDERSCORE &&
      name.charCodeAt(i + 4) !== UNDERSCORE
    ) {
      return i + 1;
    }
  }
  return n;
}

/** The name without its flavor suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

/** Whether two names have the same essential part. */
export function essentialNamesEqual(a: string, b: string): boolean {
  const la = essentialNameLength(a);
  return la === essentialNameLength(b) && a.slice(0, la) === b.slice(0, la);
}

const INDEXES = new WeakMap<Btf, Map<string, TypeId[]>>();

/**
 * Ids of every named type of `btf` (and its base) whose essential name is `name`, ascending:
 * the order in which libbpf's candidate scan would meet them. The index is built once per
 * BTF from its name index, so a lookup never walks the kernel's types.
 */
export function typesByEssentialName(btf: Btf, name: string): readonly TypeId[] {
  const own = ownIndex(btf).get(name) ?? EMPTY;
  if (!btf.base) return own;
  const fromBase = typesByEssentialName(btf.base, name);
  if (fromBase.length === 0) return own;
  if (own.length === 0) return fromBase;
  return [...fromBase, ...own];
}

function ownIndex(btf: Btf): Map<string, TypeId[]> {
  let idx = INDEXES.get(btf);
  if (idx) return idx;
  idx = new Map();
  let needsSort = false;
  for (const [name, ids] of btf.names()) {
    const ess = essentialName(name);
    const list = idx.get(ess);
    if (list) {
      list.push(...ids);
      needsSort = true;
    } else idx.set(ess, [...ids]);
  }
  if (needsSort) for (const list of idx.values()) if (list.length > 1) list.sort((a, b) => a - b);
  INDEXES.set(btf, idx);
  return idx;
}

const EMPTY: readonly TypeId[] = Object.freeze([]);
