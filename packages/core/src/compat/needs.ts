import { Kind } from '../btf/kinds.ts';
import { SHN } from '../elf/elf.ts';
import { INSN_SIZE, isCall, isLdImm64, Pseudo } from '../insn/index.ts';
import { resolveSection } from '../sections/table.ts';
import type { ObjectCode } from './image.ts';

/** Why a program needs BTF inside the kernel, or undefined when it does not. */
export function kernelBtfNeed(code: ObjectCode, programName: string): string | undefined {
  const prog = code.functions.get(programName);
  if (!prog) return undefined;
  // BTF-attached programs (fentry, tp_btf, lsm, iter, struct_ops): a btfhub file passed as
  // btf_custom_path only serves CO-RE; these still need /sys/kernel/btf/vmlinux.
  const sec = resolveSection(prog.section);
  if (sec?.needsKernelBtf) return `${sec.prefix} program (section ${prog.section})`;
  let ext = EXTERN_NEED.get(code);
  if (ext === undefined) {
    // The same for every program of the object: searched once.
    ext = externNeed(code) ?? '';
    EXTERN_NEED.set(code, ext);
  }
  return ext ? `object ${ext} (libbpf resolves every typed extern of the object at load)` : undefined;
}

const EXTERN_NEED = new WeakMap<ObjectCode, string>();

/**
 * kfunc calls and typed __ksym variables resolve against the kernel's BTF. In the object they
 * are instructions with an ELF relocation to an undefined symbol that the object's BTF
 * describes (a FUNC for a kfunc, a VAR of a non-void type for a typed ksym); untyped ksyms
 * (`extern const void x __ksym`) come from kallsyms and do not count. The whole object is
 * searched, not only the program's call graph: libbpf 1.1 loads kernel BTF for the object when
 * any of its typed externs exists (obj_needs_vmlinux_btf) and fails every program without it
 * (checked with the libbpf loader in test/compat-kernel-btf.test.ts). `.kconfig` externs are
 * typed too, but libbpf fills them without kernel BTF.
 */
function externNeed(code: ObjectCode): string | undefined {
  const btf = code.obj.btf;
  const names = symbolNames(code);
  for (const [key, r] of code.relocs) {
    if (r.symSec !== SHN.UNDEF) continue;
    const [sec, i] = key.split(':').map(Number);
    if (sec === undefined || i === undefined) continue;
    const insn = code.sections.get(sec)?.[i];
    if (!insn) continue;
    const name = names.get(key);
    // __kconfig externs are filled from the kernel's release and config, not its BTF.
    if (!name || code.kconfig.has(name)) continue;
    const ids = btf.byName(name);
    if (isCall(insn) || insn.src === Pseudo.KFUNC_CALL) {
      if (ids.some((id) => btf.type(id).kind === Kind.Func)) return `calls kfunc ${name}`;
    } else if (isLdImm64(insn)) {
      for (const id of ids) {
        const t = btf.type(id);
        if (
          t.kind === Kind.Var &&
          t.type !== 0 &&
          btf.type(btf.skipModsAndTypedefs(t.type)).kind !== Kind.Unkn
        ) {
          return `uses typed ksym ${name}`;
        }
      }
    }
  }
  return undefined;
}

/**
 * The symbol of the first ELF relocation at each relocated `sec:idx` of the code sections
 * (one pass over each section's relocations, rather than one per relocated instruction).
 */
function symbolNames(code: ObjectCode): Map<string, string> {
  const out = new Map<string, string>();
  for (const sec of code.sections.keys()) {
    const section = code.obj.elf.sections[sec];
    if (!section) continue;
    for (const r of code.obj.elf.relocations(section)) {
      const key = `${sec}:${Math.floor(r.offset / INSN_SIZE)}`;
      if (!out.has(key)) out.set(key, r.symbol.name);
    }
  }
  return out;
}
