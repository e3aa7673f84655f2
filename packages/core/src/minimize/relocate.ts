import type { Btf } from '../btf/btf.ts';
import { type LibbpfVersion, libbpfRules } from '../core/profile.ts';
import {
  type Decision,
  isFailed,
  isPoisoned,
  owningProgram,
  type Relocation,
  relocateObject,
} from '../core/relocate.ts';
import type { BpfObject } from '../elf/object.ts';
import { BtfkitError } from '../errors/index.ts';
import type { TargetSpec } from './marks.ts';

/** One relocation record as bpftool's btfgen sees it, and what the kernel made of it. */
export interface RelocationDecision {
  /** The program owning the instruction ('?' if none does: bpftool does not care). */
  prog: string;
  section: string;
  /** Index of the record within its section's list in .BTF.ext. */
  relo: number;
  kind: number;
  /** The relocated thing in C terms: "task_struct.mm", "enum bpf_map_type::X". */
  cPath: string;
  /** The first matching candidate's target spec: what bpftool marks. */
  targetSpec?: TargetSpec;
  outcome: 'patched' | 'poisoned' | 'error';
  /** Why: for errors libbpf's reason, for poisons what the kernel lacks. */
  message?: string;
}

/**
 * bpftool's btfgen_record_obj, which is the CO-RE engine's `allRecords` walk: every record of
 * every section (no program or autoload filtering), candidates from the kernel only, one
 * pruned candidate cache per object, libbpf's calculation and ambiguity checks, stopping at
 * the first error. Like btfgen, it does not read the object's programs: `toDecision` names
 * the owning program of the few decisions that get reported. With `bpftoolCompat`, access
 * strings are parsed as that bpftool's own libbpf parses them (7.1.0's refuses negative
 * indices, 7.7.0's libbpf 1.7 accepts them). Only reported decisions get a C path (`cPath`
 * is '' for records that resolve).
 */
export function walkRecords(
  obj: BpfObject,
  kernel: Btf,
  release?: string,
  opts: { libbpf?: LibbpfVersion; bpftoolCompat?: boolean } = {},
): Relocation<Decision>[] {
  const rejectNegativeIndices =
    opts.bpftoolCompat === true && libbpfRules(opts.libbpf).btfgenRejectsNegativeIndices;
  return relocateObject(obj, kernel, {
    allRecords: true,
    skipPrograms: true,
    describeResolved: false,
    release,
    libbpf: opts.libbpf,
    rejectNegativeIndices,
  }).relocations;
}

/** One record's outcome in the minimizer's terms, for a report or an error. */
export function toDecision(obj: BpfObject, r: Relocation<Decision>): RelocationDecision {
  const o = r.outcome;
  const reported = isFailed(o) || isPoisoned(o);
  const prog = reported ? (ownerName(obj, r.section, r.insn) ?? r.prog) : r.prog;
  const base = { prog, section: r.section, relo: r.relo, kind: r.kindNumber, cPath: r.cPath };
  if (isFailed(o)) return { ...base, outcome: 'error', message: o.error };
  const targetSpec = r.targetSpec ? { rootId: r.targetSpec.rootId, raw: r.targetSpec.raw } : undefined;
  if (isPoisoned(o)) return { ...base, targetSpec, outcome: 'poisoned', message: o.reason };
  return { ...base, targetSpec, outcome: 'patched' };
}

/**
 * The owning program's name, or undefined when no program owns the instruction or the
 * programs cannot be read (the minimizer, like btfgen, needs only .BTF and .BTF.ext).
 */
function ownerName(obj: BpfObject, section: string, secInsn: number): string | undefined {
  try {
    return owningProgram(obj, section, secInsn)?.prog;
  } catch (e) {
    if (e instanceof BtfkitError) return undefined;
    throw e;
  }
}
