/**
 * Which libbpf's CO-RE decisions to reproduce. Debian 12 ships libbpf 1.1.2 and bpftool
 * 7.1.0; users run libbpf 1.5-1.7 and bpftool 7.5-7.7 too. On the whole corpus 1.7.0 decides
 * as 1.1 does; it differs on a few rules (test/corpus/profiles/README.md):
 * - libbpf >= 1.6 checks a direct load/store of an array member against the size of the
 *   innermost element, not of the whole array (commit "fix LDX/STX/ST CO-RE relocation size
 *   adjustment logic"): an 8-byte load of a moved `char name[8]` is patched, not poisoned;
 * - libbpf >= 1.3 answers FIELD_SIGNED with 0 for a member that is neither an INT nor an
 *   enum; 1.1 reads whatever word follows the type's common part as an INT encoding;
 * - bpftool 7.1.0's bundled libbpf refuses negative accessor indices when parsing a spec
 *   (so `gen min_core_btf` stops); libbpf 1.1.2 and 1.7.0 accept them at parse time (the
 *   patch then fails), and bpftool 7.7.0 bundles 1.7.0.
 */
export type LibbpfVersion = '1.1' | '1.7';

export const LIBBPF_VERSIONS: readonly LibbpfVersion[] = ['1.1', '1.7'];

/** The default until the corpus says otherwise: Debian 12's libbpf 1.1.2 / bpftool 7.1.0. */
export const DEFAULT_LIBBPF: LibbpfVersion = '1.1';

export interface LibbpfRules {
  /** Load/store size adjustment compares innermost array element sizes (>= 1.6). */
  arrayElementMemSize: boolean;
  /** FIELD_SIGNED is 0 on a member that is not an INT or an enum (>= 1.3). */
  signedOnlyIntOrEnum: boolean;
  /** bpftool gen min_core_btf refuses negative accessor indices at parse (7.1.0's libbpf). */
  btfgenRejectsNegativeIndices: boolean;
}

const RULES: Record<LibbpfVersion, LibbpfRules> = {
  '1.1': { arrayElementMemSize: false, signedOnlyIntOrEnum: false, btfgenRejectsNegativeIndices: true },
  '1.7': { arrayElementMemSize: true, signedOnlyIntOrEnum: true, btfgenRejectsNegativeIndices: false },
};

export function libbpfRules(version: LibbpfVersion = DEFAULT_LIBBPF): LibbpfRules {
  return RULES[version];
}

export function isLibbpfVersion(v: unknown): v is LibbpfVersion {
  return typeof v === 'string' && (LIBBPF_VERSIONS as readonly string[]).includes(v);
}
