import type { Btf } from '../btf/btf.ts';
import { decodeBtf } from '../btf/decode.ts';
import { type BtfExt, parseBtfExt } from '../btfext/btfext.ts';
import { errors, inFile } from '../errors/index.ts';
import { INSN_SIZE } from '../insn/opcodes.ts';
import { type Elf, type ElfSection, EM_BPF, parseElf, SHF, SHT, STB, STT } from './elf.ts';

// Note on layering: btfext/ has no dependency on elf/, so this file (the one place that
// puts an ELF, its .BTF and its .BTF.ext together) may import it without a cycle.

/** A BPF program as libbpf 1.1 sees it when opening an object. */
export interface BpfProgram {
  /** The STT_FUNC symbol's name. */
  name: string;
  /** The ELF section holding it ("kprobe/do_sys_open", ".text"). */
  section: string;
  sectionIndex: number;
  /** Byte offset of its first instruction within the section. */
  insnOffset: number;
  insnCount: number;
  /**
   * A subprogram (called from programs, never loaded alone): libbpf ≥ 1.0's
   * `prog_is_subprog`, i.e. it lives in `.text` (libbpf 0.x also wanted a second program).
   */
  isSubprog: boolean;
}

export interface BpfObject {
  file: string | undefined;
  elf: Elf;
  btf: Btf;
  ext: BtfExt | undefined;
  /** Read on first use (an error in them surfaces then, naming the file). */
  readonly programs: BpfProgram[];
  littleEndian: boolean;
}

export function parseBpfObject(bytes: Uint8Array, file?: string): BpfObject {
  const run = () => parseObject(bytes, file);
  return file === undefined ? run() : inFile(file, run);
}

function parseObject(bytes: Uint8Array, file: string | undefined): BpfObject {
  const elf = parseElf(bytes, file);
  if (elf.machine !== EM_BPF) {
    throw errors.badElf(18, `expected e_machine EM_BPF (${EM_BPF}) for a BPF object, found ${elf.machine}`);
  }
  const btfSec = elf.section('.BTF');
  if (btfSec === undefined || btfSec.data.length === 0) {
    throw errors.badElf(elf.header.shoff, 'expected a .BTF section in the BPF object (compile with -g)');
  }
  const btf = decodeBtf(btfSec.data, { file, fileOffset: btfSec.offset });
  const extSec = elf.section('.BTF.ext');
  const ext =
    extSec === undefined || extSec.data.length === 0
      ? undefined
      : parseBtfExt(extSec.data, { file, fileOffset: extSec.offset, littleEndian: elf.littleEndian });
  // Programs are read on first use: the minimizer, like bpftool's btfgen, needs only .BTF and
  // .BTF.ext, and an object's symbols are most of what parsing it would allocate.
  let programs: BpfProgram[] | undefined;
  return {
    file,
    elf,
    btf,
    ext,
    get programs() {
      programs ??= file === undefined ? findPrograms(elf) : inFile(file, () => findPrograms(elf));
      return programs;
    },
    littleEndian: elf.littleEndian,
  };
}

/**
 * libbpf's `bpf_object__add_programs`, run for every SHT_PROGBITS section with SHF_EXECINSTR
 * and data: each STT_FUNC symbol of the section is one program spanning [st_value,
 * st_value + st_size). Programs end up sorted by section index, then offset (libbpf sorts
 * them so it can binary-search by instruction).
 */
function findPrograms(elf: Elf): BpfProgram[] {
  const code = new Map<number, ElfSection>();
  for (const s of elf.sections) {
    if (s.type === SHT.PROGBITS && (s.flags & SHF.EXECINSTR) !== 0 && s.data.length > 0) code.set(s.index, s);
  }
  const text = elf.section('.text');
  const found: Omit<BpfProgram, 'isSubprog'>[] = [];
  for (const sym of elf.symbols()) {
    const sec = code.get(sym.shndx);
    if (sec === undefined || sym.type !== STT.FUNC) continue;
    if (sym.value % INSN_SIZE !== 0 || sym.size % INSN_SIZE !== 0) {
      throw errors.badElf(
        sym.offset + 8,
        `expected program '${sym.name}' to start and end on an 8-byte instruction boundary (value ${sym.value}, size ${sym.size})`,
      );
    }
    if (sym.value > sec.size || sym.size > sec.size - sym.value) {
      throw errors.badElf(
        sym.offset + 8,
        `expected program '${sym.name}' (${sym.value}+${sym.size}) to lie inside section ${sec.name} (${sec.size} bytes)`,
      );
    }
    if (sec !== text && sym.bind === STB.LOCAL) {
      // libbpf 1.1 refuses these ("program is static and not supported").
      throw errors.unsupported(
        `program '${sym.name}' in section ${sec.name} is static, which libbpf does not support`,
        undefined,
        sym.offset,
      );
    }
    found.push({
      name: sym.name,
      section: sec.name,
      sectionIndex: sec.index,
      insnOffset: sym.value,
      insnCount: sym.size / INSN_SIZE,
    });
  }
  found.sort((a, b) => a.sectionIndex - b.sectionIndex || a.insnOffset - b.insnOffset);
  return found.map((p) => ({ ...p, isSubprog: p.section === '.text' }));
}
