import type { Btf, TypeId } from '../btf/index.ts';
import { typeById } from './btfview.ts';
import { type Candidate, findCandidates } from './candidates.ts';
import { cPath, missingReason } from './describe.ts';
import { Errno } from './errno.ts';
import { RelocationKind, relocationKindName } from './kinds.ts';
import { type Mismatch, matchCandidate } from './match.ts';
import { type InsnClass, Insns, patchInsn } from './patch.ts';
import { accessString, isSpecFailure, parseSpec, type Spec } from './spec.ts';
import { calcRelocation, isCalcFailure, type RelocationResult } from './value.ts';

/** One `.BTF.ext` CO-RE record (`struct bpf_core_relo`). */
export interface CoreRelo {
  /** Byte offset of the instruction within its ELF section. */
  insnOff: number;
  typeId: TypeId;
  accessStrOff: number;
  kind: number;
}

/** The CO-RE records of one ELF code section, named by an offset into the object's BTF strings. */
export interface CoreReloSection {
  sectionNameOff: number;
  records: readonly CoreRelo[];
}

/** A program as libbpf sees it: one STT_FUNC symbol of an executable section. */
export interface ProgramView {
  name: string;
  section: string;
  sectionIndex: number;
  /** Byte offset of the program's first instruction within its section. */
  insnOffset: number;
  insnCount: number;
}

/** What the engine needs of a parsed BPF object (`parseBpfObject`'s result fits it). */
export interface RelocatableObject {
  file?: string;
  btf?: Btf;
  ext?: { coreRelos: readonly CoreReloSection[] };
  programs: readonly ProgramView[];
  elf: { sections: readonly { index: number; name: string; data: Uint8Array }[] };
  littleEndian: boolean;
}

export interface RelocateOptions {
  /** Kernel release, named in explanations ("does not exist in 5.10.0-32-amd64"). */
  release?: string;
  /** Kernel-module BTFs (split on `target`), searched when `target` has no candidate. */
  modules?: readonly Btf[];
  /** Byte order of the host libbpf runs on; only LSHIFT_U64 depends on it. Default little. */
  hostLittleEndian?: boolean;
}

export interface Patched {
  class: InsnClass;
  field: 'off' | 'imm' | 'imm64';
  from: bigint;
  to: bigint;
  memSize?: { from: number; to: number };
}

export interface Poisoned {
  poison: true;
  reason: string;
  /** Rewritten instruction indices, in libbpf's order (second LD_IMM64 slot first). */
  insns: number[];
  /** libbpf warned that the load/store could not be resized before poisoning it. */
  memszAdjust?: boolean;
}

export interface Failed {
  error: string;
  errno: number;
}

export type Outcome = Patched | Poisoned | Failed;

export interface Relocation {
  prog: string;
  section: string;
  /** Index of the record within its section's list in `.BTF.ext`. */
  relo: number;
  /** Kind name as libbpf prints it (`byte_off`, `type_matches`, …). */
  kind: string;
  kindNumber: number;
  /** Instruction index within the program. */
  insn: number;
  localTypeId: TypeId;
  accessString: string;
  cPath: string;
  outcome: Outcome;
  /** The first matching candidate's target spec: what min_core_btf keeps of the target. */
  targetSpec?: { btf: Btf; rootId: TypeId; raw: number[] };
}

export interface ProgramInsns {
  name: string;
  section: string;
  /** Instructions after relocation, in the object's byte order. */
  insns: Uint8Array;
}

export interface RelocateResult {
  relocations: Relocation[];
  programs: ProgramInsns[];
  /** libbpf would refuse to load the object (the last relocation holds the error). */
  failed: boolean;
}

interface Prog extends ProgramView {
  insns: Insns;
}

const SECTION_INSN = 8;

export function isFailed(o: Outcome): o is Failed {
  return 'error' in o;
}
export function isPoisoned(o: Outcome): o is Poisoned {
  return 'poison' in o;
}

/**
 * Applies every CO-RE relocation of `obj` against `target` the way libbpf 1.1's
 * `bpf_object__relocate_core` does: sections in `.BTF.ext` order, records in order,
 * candidates cached per local type id and pruned to the matching ones, the first error
 * stopping everything.
 */
export function relocateObject(
  obj: RelocatableObject,
  target: Btf,
  opts: RelocateOptions = {},
): RelocateResult {
  const localBtf = obj.btf;
  const progs: Prog[] = obj.programs
    .map((p) => {
      const sec =
        obj.elf.sections[p.sectionIndex] ?? obj.elf.sections.find((s) => s.index === p.sectionIndex);
      const start = p.insnOffset;
      const bytes = new Uint8Array(p.insnCount * SECTION_INSN);
      if (sec) bytes.set(sec.data.subarray(start, start + bytes.length));
      return { ...p, insns: new Insns(bytes, obj.littleEndian) };
    })
    .sort((a, b) => a.sectionIndex - b.sectionIndex || a.insnOffset - b.insnOffset);
  const result: RelocateResult = {
    relocations: [],
    programs: progs.map((p) => ({ name: p.name, section: p.section, insns: p.insns.bytes })),
    failed: false,
  };
  if (!localBtf || !obj.ext) return result;

  const cache = new Map<TypeId, Candidate[]>();
  const modules = opts.modules ?? [];
  for (const sec of obj.ext.coreRelos) {
    const secName = localBtf.hasString(sec.sectionNameOff) ? localBtf.str(sec.sectionNameOff) : '';
    if (secName === '') {
      result.failed = true;
      result.relocations.push(
        failure(sec.records[0], 0, '', '', `CO-RE section name offset ${sec.sectionNameOff} is empty`),
      );
      return result;
    }
    // libbpf maps the name to the first ELF section of that name; unknown names own no program.
    const elfSec = obj.elf.sections.find((s) => s.name === secName);
    const sectionProgs = elfSec ? progs.filter((p) => p.sectionIndex === elfSec.index) : [];
    sec.records.forEach((rec, i) => {
      if (result.failed) return;
      if (rec.insnOff % SECTION_INSN !== 0) {
        result.failed = true;
        result.relocations.push(
          failure(rec, i, '', secName, `instruction offset ${rec.insnOff} is not a multiple of 8`),
        );
        return;
      }
      const secInsn = rec.insnOff / SECTION_INSN;
      const prog = findProgram(sectionProgs, secInsn);
      // Records of eliminated weak subprograms, or programs marked not to load: skipped.
      if (!prog || prog.section.startsWith('?')) return;
      const insn = secInsn - prog.insnOffset / SECTION_INSN;
      const r = relocateOne(localBtf, target, modules, cache, prog, rec, i, insn, secName, opts);
      result.relocations.push(r);
      if (isFailed(r.outcome)) result.failed = true;
    });
    if (result.failed) break;
  }
  return result;
}

function findProgram(progs: readonly Prog[], secInsn: number): Prog | undefined {
  // The program with the greatest start at or before the instruction, if it contains it.
  let best: Prog | undefined;
  for (const p of progs) {
    const start = p.insnOffset / SECTION_INSN;
    if (start <= secInsn && (!best || start >= best.insnOffset / SECTION_INSN)) best = p;
  }
  if (!best) return undefined;
  const start = best.insnOffset / SECTION_INSN;
  return secInsn < start + best.insnCount ? best : undefined;
}

function failure(
  rec: CoreRelo | undefined,
  relo: number,
  prog: string,
  section: string,
  error: string,
): Relocation {
  return {
    prog,
    section,
    relo,
    kind: relocationKindName(rec?.kind ?? -1),
    kindNumber: rec?.kind ?? -1,
    insn: -1,
    localTypeId: rec?.typeId ?? 0,
    accessString: '',
    cPath: '',
    outcome: { error, errno: Errno.EINVAL },
  };
}

function relocateOne(
  localBtf: Btf,
  target: Btf,
  modules: readonly Btf[],
  cache: Map<TypeId, Candidate[]>,
  prog: Prog,
  rec: CoreRelo,
  relo: number,
  insn: number,
  section: string,
  opts: RelocateOptions,
): Relocation {
  const out: Relocation = {
    prog: prog.name,
    section,
    relo,
    kind: relocationKindName(rec.kind),
    kindNumber: rec.kind,
    insn,
    localTypeId: rec.typeId,
    accessString: accessString(localBtf, rec.accessStrOff) ?? '',
    cPath: '',
    outcome: { error: '', errno: 0 },
  };
  const fail = (errno: number, error: string): Relocation => {
    out.outcome = { error, errno };
    return out;
  };
  const localType = typeById(localBtf, rec.typeId);
  if (!localType) return fail(Errno.EINVAL, `local type id ${rec.typeId} does not exist`);
  const localName = localBtf.hasString(localType.nameOff) ? localBtf.str(localType.nameOff) : '';
  out.cPath = cPath(localBtf, rec.typeId, undefined, rec.kind);

  let cands = cache.get(rec.typeId);
  if (rec.kind !== RelocationKind.TypeIdLocal && !cands) {
    if (localName === '') {
      return fail(
        Errno.EINVAL,
        `candidate search failed: CO-RE cannot relocate anonymous type [${rec.typeId}]`,
      );
    }
    cands = findCandidates(localBtf, rec.typeId, target, modules);
    cache.set(rec.typeId, cands);
  }

  const local = parseSpec(localBtf, rec);
  if (isSpecFailure(local)) {
    return fail(
      local.errno,
      `cannot parse access string "${out.accessString}" of ${out.cPath}: ${local.reason}`,
    );
  }
  out.cPath = cPath(localBtf, rec.typeId, local, rec.kind);

  let res: RelocationResult;
  if (rec.kind === RelocationKind.TypeIdLocal) {
    const id = BigInt(local.rootTypeId);
    res = {
      origVal: id,
      newVal: id,
      poison: false,
      validate: false,
      failMemszAdjust: false,
      origSize: 0,
      newSize: 0,
      origTypeId: 0,
      newTypeId: 0,
    };
  } else {
    if (localName === '')
      return fail(Errno.EOPNOTSUPP, 'CO-RE relocations of anonymous types are not supported');
    const list = cands as Candidate[];
    let first: { res: RelocationResult; spec: Spec } | undefined;
    let firstMismatch: Mismatch | undefined;
    const matched: Candidate[] = [];
    for (let i = 0; i < list.length; i++) {
      const cand = list[i] as Candidate;
      const m = matchCandidate(local, cand.btf, cand.id);
      if (m.code < 0) return fail(m.code, `error matching candidate #${i} [${cand.id}] for ${out.cPath}`);
      if (m.code === 0) {
        if (i === 0) firstMismatch = m.mismatch;
        continue;
      }
      const r = calcRelocation(rec.kind, local, m.spec, localBtf, opts);
      if (isCalcFailure(r)) return fail(r.errno, `${out.cPath}: ${r.reason}`);
      if (!first) first = { res: r, spec: m.spec };
      else if (m.spec.bitOffset !== first.spec.bitOffset) {
        return fail(
          Errno.EINVAL,
          `${out.cPath} is ambiguous ${where(opts.release)}: candidates [${list[0]?.id}] and [${cand.id}] put it at different offsets (bit ${first.spec.bitOffset} vs ${m.spec.bitOffset})`,
        );
      } else if (r.poison !== first.res.poison || r.newVal !== first.res.newVal) {
        return fail(
          Errno.EINVAL,
          `${out.cPath} is ambiguous ${where(opts.release)}: candidates disagree on the value (${first.res.newVal} vs ${r.newVal})`,
        );
      }
      matched.push(cand);
    }
    if (first) {
      // libbpf keeps only the matching candidates for later relocations of this local type.
      list.splice(0, list.length, ...matched);
      res = first.res;
      out.targetSpec = { btf: first.spec.btf, rootId: first.spec.rootTypeId, raw: first.spec.raw };
    } else {
      const r = calcRelocation(rec.kind, local, undefined, localBtf, opts);
      if (isCalcFailure(r)) return fail(r.errno, `${out.cPath}: ${r.reason}`);
      res = r;
      if (r.poison) {
        const reason = missingReason(localBtf, local, rec.kind, list.length, firstMismatch, opts.release);
        const p = patchInsn(prog.insns, insn, r);
        // A poison request always rewrites the instruction, whatever its class.
        out.outcome = { poison: true, reason, insns: 'poison' in p ? p.insns : [insn] };
        return out;
      }
    }
  }

  const p = patchInsn(prog.insns, insn, res);
  if ('errno' in p) return fail(p.errno, `${out.cPath}: ${p.reason}`);
  if ('poison' in p) {
    const reason = `${out.cPath} is ${res.origSize} bytes in the program but ${res.newSize} ${where(opts.release)}, and a load/store of that type cannot be resized`;
    out.outcome = { poison: true, reason, insns: p.insns, memszAdjust: true };
    return out;
  }
  out.outcome = p.memSize
    ? { class: p.class, field: p.field, from: p.from, to: p.to, memSize: p.memSize }
    : { class: p.class, field: p.field, from: p.from, to: p.to };
  return out;
}

function where(release: string | undefined): string {
  return release ? `in ${release}` : 'in the target kernel';
}
