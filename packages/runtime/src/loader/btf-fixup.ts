/**
 * The object BTF as the kernel must receive it. clang leaves DATASEC sizes and VAR offsets to
 * the loader; libbpf (btf_fixup_datasec) fills each DATASEC's size from its ELF section and
 * each global VAR's offset from its ELF symbol, marks hidden globals (variables and
 * subprograms) static, and sorts the
 * variables by offset. `.kconfig` gets the extern layout and VARs become "allocated".
 */
import {
  type BpfObject,
  Btf,
  type BtfType,
  type DatasecType,
  errors,
  Kind,
  Linkage,
  SHN,
  type VarType,
} from '../deps.ts';
import type { Externs } from './externs.ts';

const STV_INTERNAL = 1;
const STV_HIDDEN = 2;

export function fixupBtf(obj: BpfObject, externs: Externs): Btf {
  const btf = obj.btf;
  const types: BtfType[] = btf.types.slice();
  const symByName = new Map<string, { value: number; other: number }>();
  for (const s of obj.elf.symbols()) {
    // libbpf's find_elf_var_sym: a global or weak OBJECT/NOTYPE symbol that is defined.
    if (s.shndx === SHN.UNDEF || s.name === '' || (s.bind !== 1 && s.bind !== 2)) continue;
    if (s.type !== 0 && s.type !== 1) continue;
    if (!symByName.has(s.name)) symByName.set(s.name, { value: s.value, other: s.other });
  }
  // Hidden global subprograms (e.g. usdt.bpf.h's __weak __hidden bpf_usdt_arg) become static
  // FUNCs, as libbpf marks them (mark_btf_static): the verifier then checks them in their
  // caller's context instead of as global functions with unknown arguments.
  const hiddenFuncs = new Set<string>();
  for (const s of obj.elf.symbols()) {
    const vis = s.other & 0x3;
    if (s.type === 2 && (s.bind === 1 || s.bind === 2) && (vis === STV_HIDDEN || vis === STV_INTERNAL))
      hiddenFuncs.add(s.name);
  }
  const subprogs = new Set(obj.programs.filter((p) => p.isSubprog).map((p) => p.name));
  for (let i = 0; i < types.length; i++) {
    const t = types[i] as BtfType;
    if (t.kind !== Kind.Func || t.linkage !== 1) continue;
    const name = btf.str(t.nameOff);
    if (hiddenFuncs.has(name) && subprogs.has(name)) types[i] = { ...t, linkage: 0 };
  }
  const kcfgOff = new Map(externs.kconfig.map((e) => [e.varId, e]));
  for (let i = 0; i < types.length; i++) {
    const t = types[i] as BtfType;
    if (t.kind !== Kind.Datasec) continue;
    const name = btf.str(t.nameOff);
    const ds: DatasecType = { ...t, vars: t.vars.map((v) => ({ ...v })) };
    if (name === '.kconfig') {
      ds.size = externs.kconfigSize;
      for (const v of ds.vars) {
        const e = kcfgOff.get(v.type);
        if (e) v.offset = e.dataOff;
        const vt = types[v.type - btf.startId] as VarType;
        types[v.type - btf.startId] = { ...vt, linkage: Linkage.Global };
      }
    } else if (name !== '.ksyms') {
      const sec = obj.elf.section(name);
      if (!sec || sec.size === 0) {
        throw errors.badElf(0, `DATASEC '${name}': expected an ELF section of that name with a size`);
      }
      ds.size = sec.size;
      for (const v of ds.vars) {
        const vt = types[v.type - btf.startId] as BtfType;
        if (vt.kind !== Kind.Var)
          throw errors.badBtf(0, `DATASEC '${name}': expected VAR, found kind ${vt.kind}`);
        if (vt.linkage === Linkage.Static || vt.linkage === Linkage.Extern) continue;
        const varName = btf.str(vt.nameOff);
        const sym = symByName.get(varName);
        if (!sym)
          throw errors.badElf(0, `DATASEC '${name}': expected an ELF symbol for variable '${varName}'`);
        v.offset = sym.value;
        const vis = sym.other & 0x3;
        if (vis === STV_HIDDEN || vis === STV_INTERNAL)
          types[v.type - btf.startId] = { ...vt, linkage: Linkage.Static };
      }
    }
    ds.vars.sort((a, b) => a.offset - b.offset);
    types[i] = ds;
  }
  return new Btf({ types, strings: btf.strings, littleEndian: btf.littleEndian });
}
