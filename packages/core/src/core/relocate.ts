import type { Btf, TypeId } from '../btf/index.ts';
import { inSource } from '../errors/index.ts';
import { INSN_SIZE } from '../insn/opcodes.ts';
import { typeById } from './btfview.ts';
import { type Candidate, findCandidates } from './candidates.ts';
import { cPath, missingReason } from './describe.ts';
import { Errno } from './errno.ts';
import { RelocationKind, relocationKindName } from './kinds.ts';
import { type Mismatch, matchCandidate } from './match.ts';
import { Insns, type PatchDone, patchInsn } from './patch.ts';
import type { LibbpfVersion } from './profile.ts';
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
  /**
   * Kernel-module BTFs (each split on `target`). As libbpf does without a custom BTF path,
   * they are searched only for local types of which `target` (vmlinux) has no candidate.
   */
  modules?: readonly Btf[];
  /**
   * Byte order of the host libbpf runs on; only LSHIFT_U64 depends on it. Default: the
   * object's own, since an object loads only on a host of its byte order (libbpf 1.1 refuses
   * a foreign-endian object, and clang's bpfeb output holds the big-endian shifts).
   */
  hostLittleEndian?: boolean;
  /**
   * bpftool gen min_core_btf's walk instead of libbpf's loader: every record of every
   * section, whether or not a loadable program owns its instruction, and only the
   * calculation (no instruction is patched, so nothing can fail at patch time). The
   * outcomes are then `Calculated | Poisoned | Failed`.
   */
  allRecords?: boolean;
  /**
   * With `allRecords`: leave the owning program unnamed ('?', the instruction counted from
   * the section's start), so the object's programs are never read, as bpftool's btfgen
   * never reads them. `owningProgram` names the owner of the few a caller reports.
   */
  skipPrograms?: boolean;
  /**
   * Refuse access strings holding a negative index (clang writes `p[-1]` as 4294967295), as
   * bpftool 7.1.0's own libbpf does when recording ("parsing ... failed: -22"). Debian's
   * libbpf 1.1.2, which loads programs, accepts them. Default false.
   */
  rejectNegativeIndices?: boolean;
  /** Which libbpf's rules to follow (core/profile.ts). Default '1.1'. */
  libbpf?: LibbpfVersion;
  /**
   * Fill `cPath` for records that resolve (default true). False leaves it '' for those: the
   * minimizer reports only poisoned or failed records, which always get theirs, and a C path
   * made for each of a 41-object run's ~2,900 records was ~10% of its CPU time.
   */
  describeResolved?: boolean;
}

/** A relocation applied to its instruction: what patchInsn wrote. */
export type Patched = PatchDone;

/** The values libbpf computed (`bpf_core_calc_relo_insn`), not applied to an instruction. */
export interface Calculated {
  /** What the compiler assumed (from the local spec). */
  from: bigint;
  /** What the target kernel needs. */
  to: bigint;
}

export interface Poisoned {
  poison: true;
  reason: string;
  /** Rewritten instruction indices, in libbpf's order (second LD_IMM64 slot first); none with `allRecords`. */
  insns: number[];
  /** libbpf warned that the load/store could not be resized before poisoning it. */
  memszAdjust?: boolean;
}

export interface Failed {
  error: string;
  errno: number;
}

/** libbpf's loader: what happened to the instruction. */
export type Outcome = Patched | Poisoned | Failed;
/** bpftool's walk (`allRecords`): what was decided. */
export type Decision = Calculated | Poisoned | Failed;

export interface Relocation<O = Outcome> {
  /** The owning program's name; with `allRecords`, '?' for an instruction no program owns. */
  prog: string;
  section: string;
  /** Index of the record within its section's list in `.BTF.ext`. */
  relo: number;
  /** Kind name as libbpf prints it (`byte_off`, `type_matches`, …). */
  kind: string;
  kindNumber: number;
  /** Instruction index within the program (within the section when no program owns it). */
  insn: number;
  localTypeId: TypeId;
  accessString: string;
  cPath: string;
  outcome: O;
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

export interface DecideResult {
  relocations: Relocation<Decision>[];
  /** bpftool would stop (the last relocation holds the error). */
  failed: boolean;
}

export function isFailed(o: Outcome | Decision): o is Failed {
  return 'error' in o;
}
export function isPoisoned(o: Outcome | Decision): o is Poisoned {
  return 'poison' in o;
}

/** A program with its start in instructions and, when patching, its own copy of the code. */
interface Prog {
  name: string;
  section: string;
  sectionIndex: number;
  start: number;
  end: number;
  insns?: Insns;
}

/** State shared by the relocations of one object: libbpf's candidate cache lives here. */
interface Run {
  localBtf: Btf;
  target: Btf;
  opts: RelocateOptions;
  modules: readonly Btf[];
  cache: Map<TypeId, Candidate[]>;
  patch: boolean;
}

/**
 * Applies every CO-RE relocation of `obj` against `target` the way libbpf 1.1's
 * `bpf_object__relocate_core` does: sections in `.BTF.ext` order, records in order,
 * candidates cached per local type id and pruned to the matching ones, the first error
 * stopping everything. With `allRecords`, the same engine walks the records as bpftool's
 * btfgen does (see `RelocateOptions.allRecords`).
 */
export function relocateObject(
  obj: RelocatableObject,
  target: Btf,
  opts: RelocateOptions & { allRecords: true },
): DecideResult;
export function relocateObject(
  obj: RelocatableObject,
  target: Btf,
  opts?: RelocateOptions & { allRecords?: false },
): RelocateResult;
export function relocateObject(
  obj: RelocatableObject,
  target: Btf,
  opts: RelocateOptions = {},
): RelocateResult | DecideResult {
  // Errors candidate matching finds in a damaged target name the target's file.
  return inSource(target, () => relocateWith(obj, target, opts));
}

function relocateWith(
  obj: RelocatableObject,
  target: Btf,
  opts: RelocateOptions,
): RelocateResult | DecideResult {
  const patch = opts.allRecords !== true;
  const progs = !patch && opts.skipPrograms === true ? [] : programsOf(obj, patch);
  const relocations: Relocation<Outcome | Decision>[] = [];
  const programs = patch
    ? progs.map((p) => ({ name: p.name, section: p.section, insns: (p.insns as Insns).bytes }))
    : undefined;
  const failed = walk(obj, target, opts, progs, patch, relocations);
  return programs
    ? { relocations: relocations as Relocation[], programs, failed }
    : { relocations: relocations as Relocation<Decision>[], failed };
}

function programsOf(obj: RelocatableObject, copyCode: boolean): Prog[] {
  const bySection = new Map(obj.elf.sections.map((s) => [s.index, s]));
  return obj.programs
    .map((p) => {
      const start = p.insnOffset / INSN_SIZE;
      const prog: Prog = {
        name: p.name,
        section: p.section,
        sectionIndex: p.sectionIndex,
        start,
        end: start + p.insnCount,
      };
      if (copyCode) {
        const bytes = new Uint8Array(p.insnCount * INSN_SIZE);
        const sec = bySection.get(p.sectionIndex);
        if (sec) bytes.set(sec.data.subarray(p.insnOffset, p.insnOffset + bytes.length));
        prog.insns = new Insns(bytes, obj.littleEndian);
      }
      return prog;
    })
    .sort((a, b) => a.sectionIndex - b.sectionIndex || a.start - b.start);
}

/** The driver loop; returns whether it stopped at an error. */
function walk(
  obj: RelocatableObject,
  target: Btf,
  opts: RelocateOptions,
  progs: readonly Prog[],
  patch: boolean,
  out: Relocation<Outcome | Decision>[],
): boolean {
  const localBtf = obj.btf;
  if (!localBtf || !obj.ext) return false;
  const run: Run = {
    localBtf,
    target,
    opts: { ...opts, hostLittleEndian: opts.hostLittleEndian ?? obj.littleEndian },
    modules: opts.modules ?? [],
    cache: new Map(),
    patch,
  };
  for (const sec of obj.ext.coreRelos) {
    const secName = localBtf.hasString(sec.sectionNameOff) ? localBtf.str(sec.sectionNameOff) : '';
    if (secName === '') {
      out.push(
        failure(sec.records[0], 0, '', '', `CO-RE section name offset ${sec.sectionNameOff} is empty`),
      );
      return true;
    }
    // libbpf maps the name to the first ELF section of that name; unknown names own no program.
    const elfSec = progs.length === 0 ? undefined : obj.elf.sections.find((s) => s.name === secName);
    const sectionProgs = elfSec ? progs.filter((p) => p.sectionIndex === elfSec.index) : [];
    const records = sec.records;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i] as CoreRelo;
      if (rec.insnOff % INSN_SIZE !== 0) {
        out.push(failure(rec, i, '', secName, `instruction offset ${rec.insnOff} is not a multiple of 8`));
        return true;
      }
      const secInsn = rec.insnOff / INSN_SIZE;
      const prog = findProgram(sectionProgs, secInsn);
      let r: Relocation<Outcome | Decision>;
      if (patch) {
        // Records of eliminated weak subprograms, or programs marked not to load: skipped.
        if (!prog || prog.section.startsWith('?')) continue;
        r = relocateOne(run, prog.name, prog.insns, rec, i, secInsn - prog.start, secName);
      } else {
        r = relocateOne(
          run,
          prog?.name ?? '?',
          undefined,
          rec,
          i,
          prog ? secInsn - prog.start : secInsn,
          secName,
        );
      }
      out.push(r);
      if (isFailed(r.outcome)) return true;
    }
  }
  return false;
}

/**
 * The program owning instruction `secInsn` of section `section` and the instruction's index
 * within it, as the walk names them (for decisions made with `skipPrograms`).
 */
export function owningProgram(
  obj: RelocatableObject,
  section: string,
  secInsn: number,
): { prog: string; insn: number } | undefined {
  const elfSec = obj.elf.sections.find((s) => s.name === section);
  if (elfSec === undefined) return undefined;
  const p = findProgram(
    programsOf(obj, false).filter((q) => q.sectionIndex === elfSec.index),
    secInsn,
  );
  return p && { prog: p.name, insn: secInsn - p.start };
}

/** The program with the greatest start at or before the instruction, if it contains it. */
function findProgram(progs: readonly Prog[], secInsn: number): Prog | undefined {
  let best: Prog | undefined;
  for (const p of progs) {
    if (p.start <= secInsn && (!best || p.start >= best.start)) best = p;
  }
  return best && secInsn < best.end ? best : undefined;
}

function failure(
  rec: CoreRelo | undefined,
  relo: number,
  prog: string,
  section: string,
  error: string,
): Relocation<Failed> {
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

/**
 * One record: candidates, local spec, matching and calculation (`bpf_core_calc_relo_insn`),
 * then, when `insns` is given, the patch (`bpf_core_patch_insn`).
 */
function relocateOne(
  run: Run,
  progName: string,
  insns: Insns | undefined,
  rec: CoreRelo,
  relo: number,
  insn: number,
  section: string,
): Relocation<Outcome | Decision> {
  const { localBtf, opts } = run;
  const out: Relocation<Outcome | Decision> = {
    prog: progName,
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
  // Once the spec is parsed, a failed record always gets its C path (see describeResolved).
  let describe: (() => string) | undefined;
  const fail = (errno: number, error: string) => {
    describe?.();
    out.outcome = { error, errno };
    return out;
  };
  const localType = typeById(localBtf, rec.typeId);
  if (!localType) return fail(Errno.EINVAL, `local type id ${rec.typeId} does not exist`);
  const localName = localBtf.hasString(localType.nameOff) ? localBtf.str(localType.nameOff) : '';

  let cands = run.cache.get(rec.typeId);
  if (rec.kind !== RelocationKind.TypeIdLocal && !cands) {
    // libbpf's candidate search refuses an anonymous type; bpftool's finds nothing and the
    // calculation refuses it below, after parsing the spec. Both stop.
    if (localName === '' && run.patch) {
      out.cPath = cPath(localBtf, rec.typeId, undefined, rec.kind);
      return fail(
        Errno.EINVAL,
        `candidate search failed: CO-RE cannot relocate anonymous type [${rec.typeId}]`,
      );
    }
    cands = findCandidates(localBtf, rec.typeId, run.target, run.patch ? run.modules : []);
    run.cache.set(rec.typeId, cands);
  }

  const local = parseSpec(localBtf, rec);
  if (isSpecFailure(local)) {
    out.cPath = cPath(localBtf, rec.typeId, undefined, rec.kind);
    return fail(
      local.errno,
      `cannot parse access string "${out.accessString}" of ${out.cPath}: ${local.reason}`,
    );
  }
  // The C path is a string per record: made now unless only unresolved records need one.
  const path = () => (out.cPath ||= cPath(localBtf, rec.typeId, local, rec.kind));
  describe = path;
  if (opts.describeResolved !== false) path();
  if (opts.rejectNegativeIndices && local.raw.some((idx) => idx < 0)) {
    return fail(Errno.EINVAL, `access string "${out.accessString}" of ${path()} holds a negative index`);
  }

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
      if (m.code < 0) return fail(m.code, `error matching candidate #${i} [${cand.id}] for ${path()}`);
      if (m.code === 0) {
        if (i === 0) firstMismatch = m.mismatch;
        continue;
      }
      const r = calcRelocation(rec.kind, local, m.spec, localBtf, opts);
      if (isCalcFailure(r)) return fail(r.errno, `${path()}: ${r.reason}`);
      if (!first) first = { res: r, spec: m.spec };
      else if (m.spec.bitOffset !== first.spec.bitOffset) {
        return fail(
          Errno.EINVAL,
          `${path()} is ambiguous ${where(opts.release)}: candidates [${list[0]?.id}] and [${cand.id}] put it at different offsets (bit ${first.spec.bitOffset} vs ${m.spec.bitOffset})`,
        );
      } else if (r.poison !== first.res.poison || r.newVal !== first.res.newVal) {
        return fail(
          Errno.EINVAL,
          `${path()} is ambiguous ${where(opts.release)}: candidates disagree on the value (${first.res.newVal} vs ${r.newVal})`,
        );
      }
      matched.push(cand);
    }
    if (first) {
      // libbpf keeps only the matching candidates for later relocations of this local type.
      if (matched.length !== list.length) list.splice(0, list.length, ...matched);
      res = first.res;
      out.targetSpec = { btf: first.spec.btf, rootId: first.spec.rootTypeId, raw: first.spec.raw };
    } else {
      const r = calcRelocation(rec.kind, local, undefined, localBtf, opts);
      if (isCalcFailure(r)) return fail(r.errno, `${path()}: ${r.reason}`);
      res = r;
      if (r.poison) {
        path();
        const reason = missingReason(localBtf, local, rec.kind, list.length, firstMismatch, opts.release);
        if (!insns) {
          out.outcome = { poison: true, reason, insns: [] };
          return out;
        }
        const p = patchInsn(insns, insn, r);
        // A poison request always rewrites the instruction, whatever its class.
        out.outcome = { poison: true, reason, insns: 'poison' in p ? p.insns : [insn] };
        return out;
      }
    }
  }

  if (!insns) {
    out.outcome = { from: res.origVal, to: res.newVal };
    return out;
  }
  const p = patchInsn(insns, insn, res);
  if ('errno' in p) return fail(p.errno, `${path()}: ${p.reason}`);
  if ('poison' in p) {
    const reason = `${path()} is ${res.origSize} bytes in the program but ${res.newSize} ${where(opts.release)}, and a load/store of that type cannot be resized`;
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
