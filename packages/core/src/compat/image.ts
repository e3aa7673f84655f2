import { Kind } from '../btf/kinds.ts';
import { extInfoSectionName } from '../btfext/btfext.ts';
import { poisonRelocated, writePatch } from '../core/patch.ts';
import { SHF, SHN, SHT, STT } from '../elf/elf.ts';
import type { BpfObject, BpfProgram } from '../elf/object.ts';
import { errors, inFile } from '../errors/index.ts';
import {
  decodeInsns,
  formatInsn,
  INSN_SIZE,
  type Insn,
  InsnObjects,
  invalidInsn,
  isLdImm64,
} from '../insn/index.ts';
import { type KconfigExtern, kconfigExterns } from './kconfig.ts';
import type { RelocDecision } from './model.ts';
import type { CodeImage, DataRef, Loc } from './reach.ts';

/**
 * The per-object facts that do not depend on the kernel: decoded code sections, what the ELF
 * relocations say about calls and data loads, read-only data, global functions. Built once per
 * object and shared by every kernel's relocated image.
 */
export interface ObjectCode {
  obj: BpfObject;
  sections: Map<number, Insn[]>;
  functions: Map<string, BpfProgram>;
  /** ELF relocations of code sections, by `sec:idx` of the instruction they patch. */
  relocs: Map<string, { symSec: number; symValue: number; symType: number; symName: string }>;
  blobs: { bytes: Uint8Array; littleEndian: boolean }[];
  blobBySection: Map<number, number>;
  globalFuncs: Set<string>;
  /** `.kconfig` externs by name: libbpf's frozen map of kernel facts. */
  kconfig: Map<string, KconfigExtern>;
  /**
   * Instructions the verifier refuses when it walks them (a register past r10: "R15 is
   * invalid"; see insn.ts invalidInsn): judged like poisoned instructions (fails when reached).
   */
  invalid: RelocDecision[];
}

export function objectCode(obj: BpfObject, knownRodata = true): ObjectCode {
  const sections = new Map<number, Insn[]>();
  const relocs = new Map<string, { symSec: number; symValue: number; symType: number; symName: string }>();
  for (const s of obj.elf.sections) {
    if (s.type !== SHT.PROGBITS || (s.flags & SHF.EXECINSTR) === 0 || s.data.length === 0) continue;
    // The section's offset is already in the error's; the file is the object's.
    sections.set(
      s.index,
      obj.file === undefined
        ? decodeInsns(s.data, obj.littleEndian, s.offset)
        : inFile(obj.file, () => decodeInsns(s.data, obj.littleEndian, s.offset)),
    );
    for (const r of obj.elf.relocations(s)) {
      relocs.set(`${s.index}:${Math.floor(r.offset / INSN_SIZE)}`, {
        symSec: r.symbol.shndx,
        symValue: r.symbol.value,
        symType: r.symbol.type,
        symName: r.symbol.name,
      });
    }
  }
  // Frozen read-only data: libbpf's .rodata maps (the verifier reads their bytes as constants).
  const blobs: ObjectCode['blobs'] = [];
  const blobBySection = new Map<number, number>();
  for (const s of obj.elf.sections) {
    if (s.type !== SHT.PROGBITS || (s.flags & (SHF.WRITE | SHF.EXECINSTR)) !== 0) continue;
    if (!knownRodata || !s.name.startsWith('.rodata')) continue;
    blobBySection.set(s.index, blobs.length);
    blobs.push({ bytes: s.data, littleEndian: obj.littleEndian });
  }
  const functions = new Map<string, BpfProgram>();
  for (const p of obj.programs) functions.set(p.name, p);
  return {
    obj,
    sections,
    functions,
    relocs,
    blobs,
    blobBySection,
    globalFuncs: globalFunctions(obj),
    kconfig: kconfigExterns(obj),
    invalid: invalidInstructions(obj, sections),
  };
}

/** Instructions of the object's functions the verifier refuses as they stand (insn.ts invalidInsn). */
function invalidInstructions(obj: BpfObject, sections: Map<number, Insn[]>): RelocDecision[] {
  const out: RelocDecision[] = [];
  for (const fn of obj.programs) {
    const insns = sections.get(fn.sectionIndex);
    if (!insns) continue;
    const first = fn.insnOffset / INSN_SIZE;
    for (let k = 0; k < fn.insnCount; k++) {
      const insn = insns[first + k];
      if (!insn) break;
      const bad = invalidInsn(insns, first + k);
      if (bad !== undefined) {
        out.push({
          prog: fn.name,
          relo: -1,
          kind: bad.kind,
          insn: k,
          cPath: formatInsn(insn, insns[first + k + 1]),
          reason: bad.reason,
          outcome: { poison: true },
        });
      }
      if (isLdImm64(insn)) k++;
    }
  }
  return out;
}

/** `sec:idx` of every function whose BTF FUNC (via func_info) has global linkage. */
function globalFunctions(obj: BpfObject): Set<string> {
  const out = new Set<string>();
  if (!obj.ext) return out;
  for (const sec of obj.ext.funcInfo) {
    const name = extInfoSectionName(obj.btf, sec);
    const elfSec = name === undefined ? undefined : obj.elf.section(name);
    if (!elfSec) continue;
    for (const rec of sec.records) {
      if (!obj.btf.has(rec.typeId)) continue;
      const t = obj.btf.type(rec.typeId);
      // BTF_FUNC_GLOBAL = 1: the verifier checks such a function on its own.
      if (t.kind === Kind.Func && t.linkage === 1) out.add(`${elfSec.index}:${rec.insnOff / INSN_SIZE}`);
    }
  }
  return out;
}

export interface RelocatedImage extends CodeImage {
  /** Poisoned instructions by `sec:idx`, with the decision that poisoned them. */
  poisoned: Map<string, RelocDecision>;
  /** The first relocation error libbpf would stop at, if any. */
  error?: RelocDecision;
}

/**
 * Applies one kernel's relocation decisions to the object's code, as libbpf does before
 * loading: patched immediates and offsets, poisoned instructions turned into the bad-relo call.
 * The writes are the engine's own (core/patch.ts writePatch, poisonRelocated), replayed on a
 * decoded copy of each section a decision touches.
 */
export function relocatedImage(code: ObjectCode, decisions: readonly RelocDecision[]): RelocatedImage {
  const patched = new Map<number, InsnObjects>();
  const poisoned = new Map<string, RelocDecision>();
  const poisonedRelo = new Map<string, { idx: number; key: string }>();
  let error: RelocDecision | undefined;
  const writable = (sec: number): InsnObjects => {
    let insns = patched.get(sec);
    if (!insns) {
      insns = new InsnObjects((code.sections.get(sec) ?? []).map((i) => ({ ...i })));
      patched.set(sec, insns);
    }
    return insns;
  };
  // Invalid instructions last: their registers stay invalid whatever a relocation patched, and
  // a relocation that poisoned the same instruction already explains it.
  for (const d of code.invalid.length > 0 ? [...decisions, ...code.invalid] : decisions) {
    if ('error' in d.outcome) {
      error ??= d;
      continue;
    }
    const fn = code.functions.get(d.prog);
    if (!fn)
      throw errors.coreRelo(
        `relocation ${d.relo} names function '${d.prog}', which the object does not have`,
        code.obj.file,
      );
    const idx = fn.insnOffset / INSN_SIZE + d.insn;
    const insns = writable(fn.sectionIndex);
    if (insns.list[idx] === undefined || d.insn >= fn.insnCount) {
      throw errors.coreRelo(
        `relocation ${d.relo} of '${d.prog}' points at instruction ${d.insn}, past its end`,
        code.obj.file,
      );
    }
    if ('poison' in d.outcome && d.relo < 0) {
      const key = `${fn.sectionIndex}:${idx}`;
      if (!poisoned.has(key)) {
        insns.poison(idx);
        poisoned.set(key, d);
      }
      continue;
    }
    if ('poison' in d.outcome) {
      poisonRelocated(insns, idx);
      // libbpf reports a poisoned LD_IMM64 once per slot: keep the first slot only.
      const same = poisonedRelo.get(`${d.prog}/${d.relo}`);
      if (same !== undefined && same.idx < idx) continue;
      if (same !== undefined) poisoned.delete(same.key);
      const key = `${fn.sectionIndex}:${idx}`;
      poisoned.set(key, d);
      poisonedRelo.set(`${d.prog}/${d.relo}`, { idx, key });
      continue;
    }
    const { field, to, memSize } = d.outcome.patched;
    writePatch(insns, idx, field, BigInt(to), memSize?.to);
  }

  return {
    littleEndian: code.obj.littleEndian,
    poisoned,
    error,
    insns: (sec) => patched.get(sec)?.list ?? code.sections.get(sec),
    callTarget(at: Loc, insn: Insn): Loc | undefined {
      const r = code.relocs.get(`${at.sec}:${at.idx}`);
      // libbpf: callee = symbol's instruction + imm + 1 (imm is -1 for a function symbol).
      if (r)
        return code.sections.has(r.symSec)
          ? { sec: r.symSec, idx: r.symValue / INSN_SIZE + insn.imm + 1 }
          : undefined;
      return { sec: at.sec, idx: at.idx + insn.imm + 1 };
    },
    dataRef(at: Loc): DataRef | undefined {
      const r = code.relocs.get(`${at.sec}:${at.idx}`);
      if (!r) return undefined;
      const insn = (patched.get(at.sec)?.list ?? code.sections.get(at.sec))?.[at.idx];
      const imm = insn?.imm ?? 0;
      // An extern of .kconfig: libbpf points the load at the extern's slot in its frozen map.
      if (r.symSec === SHN.UNDEF && code.kconfig.has(r.symName))
        return { kind: 'kconfig', name: r.symName, off: imm };
      if (code.sections.has(r.symSec))
        return { kind: 'func', target: { sec: r.symSec, idx: (r.symValue + imm) / INSN_SIZE } };
      const blob = code.blobBySection.get(r.symSec);
      if (
        blob !== undefined &&
        r.symSec !== SHN.UNDEF &&
        (r.symType === STT.SECTION || r.symType === STT.OBJECT)
      ) {
        return { kind: 'rodata', blob, off: r.symValue + imm };
      }
      return { kind: 'other' };
    },
    blob: (i) => code.blobs[i],
    isGlobalFunc: (entry) => code.globalFuncs.has(`${entry.sec}:${entry.idx}`),
  };
}

/** The function (program or subprogram) that holds instruction `idx` of section `sec`. */
export function functionAt(code: ObjectCode, sec: number, idx: number): BpfProgram | undefined {
  for (const p of code.obj.programs) {
    const first = p.insnOffset / INSN_SIZE;
    if (p.sectionIndex === sec && idx >= first && idx < first + p.insnCount) return p;
  }
  return undefined;
}
