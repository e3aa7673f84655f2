/**
 * From section code to the instructions of one loadable program, as libbpf 1.1 builds them:
 * ELF relocations become descriptors (map reference, global data, kconfig extern, subprogram
 * call or address); each main program gets the subprograms it calls appended after its own
 * code, depth first in order of first call (bpf_object__reloc_code), with call offsets and the
 * func/line info rebased; then map fds and data offsets are written into LD_IMM64s.
 */
import { type BpfObject, type BpfProgram, errors, extInfoSectionName, SHN, STT } from '../deps.ts';
import type { Externs } from './externs.ts';
import { CALL_CODE, INSN_SIZE, Insns, Pseudo } from './insn.ts';
import type { MapSpec } from './maps.ts';

const R_BPF_64_64 = 1;
const R_BPF_64_32 = 10;

export type RelocDesc =
  | { kind: 'map'; insn: number; map: number }
  | { kind: 'data'; insn: number; map: number; symOff: number }
  | { kind: 'kconfig'; insn: number; map: number; dataOff: number }
  | { kind: 'call'; insn: number; symOff: number }
  | { kind: 'subprog_addr'; insn: number; symOff: number };

/** Relocation descriptors of a code section, by instruction index within the section. */
export function sectionRelocs(
  obj: BpfObject,
  sectionIndex: number,
  maps: MapSpec[],
  externs: Externs,
): Map<number, RelocDesc> {
  const out = new Map<number, RelocDesc>();
  const sec = obj.elf.sections[sectionIndex];
  if (!sec) return out;
  const text = obj.elf.section('.text');
  const code = new Insns(sec.data, obj.littleEndian);
  const kcfgMap = maps.findIndex((m) => m.kind === 'kconfig');
  for (const r of obj.elf.relocations(sec)) {
    const sym = r.symbol;
    if (r.offset % INSN_SIZE !== 0 || r.offset >= sec.size) {
      throw errors.badElf(
        r.entryOffset,
        `relocation at ${r.offset} does not point at an instruction of ${sec.name}`,
      );
    }
    const i = r.offset / INSN_SIZE;
    const where = `${sec.name} insn #${i} (symbol '${sym.name}')`;
    if (code.code(i) === CALL_CODE) {
      if (r.type !== R_BPF_64_32 || code.src(i) !== Pseudo.CALL || !text || sym.shndx !== text.index) {
        throw errors.badElf(
          r.entryOffset,
          `bad call relocation at ${where}: expected a bpf-to-bpf call into .text`,
        );
      }
      out.set(i, { kind: 'call', insn: i, symOff: sym.value });
      continue;
    }
    if (!code.isLdImm64(i) || r.type !== R_BPF_64_64) {
      throw errors.badElf(
        r.entryOffset,
        `relocation at ${where}: expected an LD_IMM64 instruction, found code 0x${code.code(i).toString(16)}`,
      );
    }
    if (sym.shndx === SHN.UNDEF) {
      const e = externs.kconfig.find((x) => x.symIndex === sym.index);
      if (!e || kcfgMap < 0)
        throw errors.unsupported(`extern '${sym.name}' referenced at ${where} is not supported`, obj.file);
      out.set(i, { kind: 'kconfig', insn: i, map: kcfgMap, dataOff: e.dataOff });
      continue;
    }
    if (text && sym.shndx === text.index && (sym.type === STT.FUNC || sym.type === STT.SECTION)) {
      out.set(i, { kind: 'subprog_addr', insn: i, symOff: sym.value });
      continue;
    }
    const mapsSec = obj.elf.section('.maps');
    if (mapsSec && sym.shndx === mapsSec.index) {
      const m = maps.findIndex((x) => x.kind === 'user' && x.secOffset === sym.value);
      if (m < 0)
        throw errors.badElf(
          r.entryOffset,
          `map relocation at ${where}: no map at offset ${sym.value} of .maps`,
        );
      out.set(i, { kind: 'map', insn: i, map: m });
      continue;
    }
    const m = maps.findIndex(
      (x) => x.kind !== 'user' && x.kind !== 'kconfig' && x.sectionIndex === sym.shndx,
    );
    if (m < 0)
      throw errors.badElf(r.entryOffset, `relocation at ${where}: symbol is in no map or data section`);
    out.set(i, { kind: 'data', insn: i, map: m, symOff: sym.value });
  }
  return out;
}

export interface LinkedProgram {
  insns: Uint8Array;
  /** Relocations of the final program (insn = index in `insns`). */
  relocs: RelocDesc[];
  funcInfo: Uint8Array;
  lineInfo: Uint8Array;
  /** Where each program's code starts in `insns` (main program at 0). */
  layout: { prog: BpfProgram; start: number }[];
}

/**
 * Builds `main` with its subprograms. `code(prog)` gives a program's instructions after CO-RE
 * (a fresh copy per call); `relocs(sectionIndex)` the section's descriptors.
 */
export function linkProgram(
  obj: BpfObject,
  main: BpfProgram,
  code: (p: BpfProgram) => Uint8Array,
  relocs: (sectionIndex: number) => Map<number, RelocDesc>,
): LinkedProgram {
  const le = obj.littleEndian;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const append = (b: Uint8Array): number => {
    const at = total / INSN_SIZE;
    chunks.push(b);
    total += b.length;
    return at;
  };
  const subOff = new Map<BpfProgram, number>();
  const finalRelocs: RelocDesc[] = [];
  const funcInfo: number[] = [];
  const lineInfo: number[] = [];
  const layout: { prog: BpfProgram; start: number }[] = [];
  const textPrograms = obj.programs.filter((p) => p.isSubprog);

  const visit = (prog: BpfProgram, start: number, insns: Insns): void => {
    layout.push({ prog, start });
    addExtInfo(obj, prog, start, funcInfo, lineInfo);
    const secRelocs = relocs(prog.sectionIndex);
    const first = prog.insnOffset / INSN_SIZE;
    for (let i = 0; i < prog.insnCount; i++) {
      const r = secRelocs.get(first + i);
      if (r && r.kind !== 'call' && r.kind !== 'subprog_addr') finalRelocs.push({ ...r, insn: start + i });
      if (r?.kind === 'subprog_addr') insns.setSrc(i, Pseudo.FUNC);
      if (!insns.isSubprogCall(i) && !insns.isPseudoFunc(i)) continue;
      let target: number;
      if (r?.kind === 'call') target = r.symOff / INSN_SIZE + insns.imm(i) + 1;
      else if (r?.kind === 'subprog_addr') target = r.symOff / INSN_SIZE + insns.imm(i) / INSN_SIZE + 1;
      else if (insns.isPseudoFunc(i))
        throw errors.badElf(0, `prog '${prog.name}': missing relocation for function address at insn #${i}`);
      else target = first + i + insns.imm(i) + 1;
      const sub = textPrograms.find(
        (p) => target >= p.insnOffset / 8 && target < p.insnOffset / 8 + p.insnCount,
      );
      if (!sub)
        throw errors.badElf(
          0,
          `prog '${prog.name}': call at insn #${i} targets no .text subprogram (insn ${target})`,
        );
      let at = subOff.get(sub);
      if (at === undefined) {
        const subCode = code(sub);
        at = append(subCode);
        subOff.set(sub, at);
        visit(sub, at, new Insns(subCode, le));
      }
      insns.setImm(i, at - (start + i) - 1);
    }
  };
  const mainCode = code(main);
  append(mainCode);
  subOff.set(main, 0);
  visit(main, 0, new Insns(mainCode, le));

  const insns = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    insns.set(c, off);
    off += c.length;
  }
  return { insns, relocs: finalRelocs, funcInfo: u32s(funcInfo, le), lineInfo: u32s(lineInfo, le), layout };
}

/** func_info (8-byte records) and line_info (16-byte) of `prog`, rebased to `start`. */
function addExtInfo(
  obj: BpfObject,
  prog: BpfProgram,
  start: number,
  funcInfo: number[],
  lineInfo: number[],
): void {
  const ext = obj.ext;
  if (!ext) return;
  const lo = prog.insnOffset;
  const hi = prog.insnOffset + prog.insnCount * INSN_SIZE;
  const rebase = (off: number) => (off - lo) / INSN_SIZE + start;
  for (const s of ext.funcInfo) {
    if (extInfoSectionName(obj.btf, s) !== prog.section) continue;
    for (const r of s.records)
      if (r.insnOff >= lo && r.insnOff < hi) funcInfo.push(rebase(r.insnOff), r.typeId);
  }
  for (const s of ext.lineInfo) {
    if (extInfoSectionName(obj.btf, s) !== prog.section) continue;
    for (const r of s.records) {
      if (r.insnOff >= lo && r.insnOff < hi)
        lineInfo.push(rebase(r.insnOff), r.fileNameOff, r.lineOff, (r.line << 10) | (r.column & 0x3ff));
    }
  }
}

function u32s(values: number[], le: boolean): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    v.setUint32(i * 4, x >>> 0, le);
  });
  return out;
}

/** Writes map fds and data offsets into the linked program (libbpf's bpf_object__relocate_data). */
export function applyDataRelocs(p: LinkedProgram, le: boolean, mapFd: (index: number) => number): void {
  const insns = new Insns(p.insns, le);
  for (const r of p.relocs) {
    switch (r.kind) {
      case 'map':
        insns.setSrc(r.insn, Pseudo.MAP_FD);
        insns.setImm(r.insn, mapFd(r.map));
        break;
      case 'data':
        insns.setImm(r.insn + 1, insns.imm(r.insn) + r.symOff);
        insns.setSrc(r.insn, Pseudo.MAP_VALUE);
        insns.setImm(r.insn, mapFd(r.map));
        break;
      case 'kconfig':
        insns.setSrc(r.insn, Pseudo.MAP_VALUE);
        insns.setImm(r.insn, mapFd(r.map));
        insns.setImm(r.insn + 1, r.dataOff);
        break;
      default:
        break;
    }
  }
}
