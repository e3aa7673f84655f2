import type { Btf } from '../btf/btf.ts';
import { Kind } from '../btf/kinds.ts';
import type { TypeId } from '../btf/types.ts';
import { extSectionName } from '../btfext/btfext.ts';
import { RelocationKind } from '../core/kinds.ts';
import { matchCandidate } from '../core/match.ts';
import { essentialName, typesByEssentialName } from '../core/names.ts';
import { isSpecFailure, parseSpec, type Spec } from '../core/spec.ts';
import { calcRelocation, isCalcFailure } from '../core/value.ts';
import type { BpfObject } from '../elf/object.ts';
import type { TargetSpec } from './marks.ts';

/** One relocation record as bpftool's btfgen sees it, and what the kernel made of it. */
export interface RelocationDecision {
  /** The program owning the instruction ('?' if none does: bpftool does not care). */
  prog: string;
  section: string;
  /** Index of the record within its section's list in .BTF.ext. */
  relo: number;
  kind: number;
  /** The relocated thing in C terms: "struct task_struct.mm", "enum bpf_map_type::X". */
  cPath: string;
  /** The first matching candidate's target spec: what bpftool marks. */
  targetSpec?: TargetSpec;
  outcome: 'patched' | 'poisoned' | 'error';
  /** Why: for errors libbpf's reason, for poisons what the kernel lacks. */
  message?: string;
}

/**
 * bpftool's btfgen_record_obj: every core_relo record of every section in file order (no
 * program or autoload filtering), candidates from the kernel only (essential name + kind,
 * ascending id), one candidate cache per object pruned to the matching candidates as libbpf
 * does, and libbpf's calc step (bpf_core_calc_relo_insn) with its ambiguity checks. Built
 * from the CO-RE engine's spec parser, candidate matcher and value calculator.
 */
export function decideAll(obj: BpfObject, kernel: Btf, _release?: string): RelocationDecision[] {
  const out: RelocationDecision[] = [];
  const ext = obj.ext;
  if (ext === undefined) return out;
  const local = obj.btf;
  const cache = new Map<TypeId, TypeId[]>();
  for (const sec of ext.coreRelos) {
    const section = extSectionName(local, sec);
    sec.records.forEach((rec, relo) => {
      const prog = programAt(obj, section, rec.insnOff);
      const base = { prog, section, relo, kind: rec.kind };
      const spec = parseSpec(local, rec);
      if (isSpecFailure(spec)) {
        out.push({ ...base, cPath: `[${rec.typeId}]`, outcome: 'error', message: spec.reason });
        return;
      }
      const cPath = describeSpec(local, spec);
      if (rec.kind === RelocationKind.TypeIdLocal) {
        out.push({ ...base, cPath, outcome: 'patched' });
        return;
      }
      const rootName = local.name(rec.typeId);
      if (rootName === '') {
        out.push({ ...base, cPath, outcome: 'error', message: "relocation doesn't support anonymous types" });
        return;
      }
      let cands = cache.get(rec.typeId);
      if (cands === undefined) {
        cands = candidates(local, rec.typeId, kernel);
        cache.set(rec.typeId, cands);
      }
      let targ: Spec | undefined;
      let targRes: { poison: boolean; newVal: bigint } | undefined;
      let firstMismatch: string | undefined;
      const matched: TypeId[] = [];
      for (const cand of cands) {
        const m = matchCandidate(spec, kernel, cand);
        if (m.code < 0) {
          out.push({
            ...base,
            cPath,
            outcome: 'error',
            message: `error matching candidate [${cand}]: ${m.code}`,
          });
          return;
        }
        if (m.code === 0) {
          firstMismatch ??= mismatchText(spec, m.mismatch, kernel, cand);
          continue;
        }
        const res = calcRelocation(rec.kind, spec, m.spec, local);
        if (isCalcFailure(res)) {
          out.push({ ...base, cPath, outcome: 'error', message: res.reason });
          return;
        }
        if (targ === undefined || targRes === undefined) {
          targ = m.spec;
          targRes = res;
        } else if (m.spec.bitOffset !== targ.bitOffset) {
          out.push({
            ...base,
            cPath,
            outcome: 'error',
            message: `field offset ambiguity: candidates [${targ.rootTypeId}] and [${cand}] disagree`,
          });
          return;
        } else if (res.poison !== targRes.poison || res.newVal !== targRes.newVal) {
          out.push({
            ...base,
            cPath,
            outcome: 'error',
            message: `relocation decision ambiguity: candidates [${targ.rootTypeId}] and [${cand}] disagree`,
          });
          return;
        }
        matched.push(cand);
      }
      if (matched.length > 0) cache.set(rec.typeId, matched);
      if (targ === undefined) {
        const res = calcRelocation(rec.kind, spec, undefined, local);
        if (isCalcFailure(res)) {
          out.push({ ...base, cPath, outcome: 'error', message: res.reason });
          return;
        }
        const why =
          cands.length === 0
            ? `the kernel has no ${kindWord(local, rec.typeId)} ${essentialName(rootName)}`
            : firstMismatch;
        out.push({
          ...base,
          cPath,
          outcome: res.poison ? 'poisoned' : 'patched',
          ...(res.poison ? { message: why } : {}),
        });
        return;
      }
      out.push({
        ...base,
        cPath,
        targetSpec: { rootId: targ.rootTypeId, raw: targ.raw },
        outcome: targRes?.poison ? 'poisoned' : 'patched',
      });
    });
  }
  return out;
}

/** libbpf's bpf_core_add_cands over the kernel: same kind (enum ≈ enum64), same essential name. */
function candidates(local: Btf, id: TypeId, kernel: Btf): TypeId[] {
  const lt = local.type(id);
  const name = essentialName(local.name(id));
  const isEnum = (k: number) => k === Kind.Enum || k === Kind.Enum64;
  return typesByEssentialName(kernel, name).filter((c) => {
    const k = kernel.type(c).kind;
    return k === lt.kind || (isEnum(k) && isEnum(lt.kind));
  });
}

function programAt(obj: BpfObject, section: string, insnOff: number): string {
  for (const p of obj.programs) {
    if (p.section === section && insnOff >= p.insnOffset && insnOff < p.insnOffset + p.insnCount * 8)
      return p.name;
  }
  return '?';
}

function kindWord(btf: Btf, id: TypeId): string {
  switch (btf.type(id).kind) {
    case Kind.Struct:
      return 'struct';
    case Kind.Union:
      return 'union';
    case Kind.Enum:
    case Kind.Enum64:
      return 'enum';
    case Kind.Typedef:
      return 'typedef';
    default:
      return 'type';
  }
}

/** "struct sock.__sk_common.skc_num", "struct file", "enum bpf_map_type::BPF_MAP_TYPE_HASH". */
function describeSpec(btf: Btf, spec: Spec): string {
  const root = `${kindWord(btf, spec.rootTypeId)} ${btf.name(spec.rootTypeId) || '(anon)'}`;
  if (spec.kind >= RelocationKind.EnumvalExists && spec.kind <= RelocationKind.EnumvalValue) {
    return `${root}::${spec.accessors[0]?.name ?? '?'}`;
  }
  let s = root;
  spec.accessors.forEach((a, i) => {
    if (i === 0) {
      if (a.idx !== 0) s += `[${a.idx}]`;
    } else s += a.name !== undefined ? `.${a.name}` : `[${a.idx}]`;
  });
  return s;
}

function mismatchText(
  spec: Spec,
  mm: { step: number; why: string } | undefined,
  kernel: Btf,
  cand: TypeId,
): string {
  const kname = `${kindWord(kernel, cand)} ${kernel.name(cand)}`;
  if (mm === undefined) return `the kernel's ${kname} does not match`;
  const acc = spec.accessors[mm.step];
  switch (mm.why) {
    case 'missing':
      return `the kernel's ${kname} has no field '${acc?.name ?? '?'}' on this path`;
    case 'incompatible':
      return `field '${acc?.name ?? '?'}' has an incompatible type in the kernel's ${kname}`;
    case 'out-of-bounds':
      return `index ${acc?.idx ?? '?'} is out of bounds in the kernel's ${kname}`;
    case 'enumerator':
      return `the kernel's ${kname} has no enumerator '${acc?.name ?? '?'}'`;
    default:
      return `the kernel's ${kname} does not match (${mm.why})`;
  }
}
