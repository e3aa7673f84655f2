/**
 * `extern` variables: `__kconfig` ones live in the `.kconfig` map, laid out as libbpf lays
 * them out (sorted by descending alignment, then ascending size, then name; each at the next
 * offset its alignment allows). `__ksym` variables and kfuncs are not supported yet.
 */
import { type BpfObject, type Btf, errors, Kind, SHN, STB, type TypeId } from '../deps.ts';
import { alignOf, findDatasec, resolveSize } from './btf-util.ts';
import { kernelConfig, kernelVersionCode } from './kconfig.ts';
import { hasBpfCookie, hasSyscallWrapper } from './kernel-features.ts';

export interface KconfigExtern {
  name: string;
  /** ELF symbol index (relocations refer to it). */
  symIndex: number;
  /** The VAR's type id in the object BTF. */
  varId: TypeId;
  typeId: TypeId;
  size: number;
  align: number;
  weak: boolean;
  dataOff: number;
}

export interface Externs {
  kconfig: KconfigExtern[];
  /** Size of the .kconfig map's value (0 = no map). */
  kconfigSize: number;
}

export function collectExterns(obj: BpfObject, btf: Btf): Externs {
  const kconfig: KconfigExtern[] = [];
  const kcfgSec = findDatasec(btf, '.kconfig');
  const kcfgVars = new Map<string, TypeId>();
  if (kcfgSec !== undefined) {
    const t = btf.type(kcfgSec);
    if (t.kind === Kind.Datasec) for (const v of t.vars) kcfgVars.set(btf.name(v.type), v.type);
  }
  for (const sym of obj.elf.symbols()) {
    if (sym.shndx !== SHN.UNDEF || sym.name === '' || (sym.bind !== STB.GLOBAL && sym.bind !== STB.WEAK))
      continue;
    const varId = kcfgVars.get(sym.name);
    if (varId === undefined) {
      throw errors.unsupported(
        `extern '${sym.name}' is not a __kconfig variable; __ksym externs and kfuncs are not supported yet`,
        obj.file,
        sym.offset,
      );
    }
    const v = btf.type(varId);
    const typeId = v.kind === Kind.Var ? v.type : 0;
    kconfig.push({
      name: sym.name,
      symIndex: sym.index,
      varId,
      typeId,
      size: resolveSize(btf, typeId),
      align: alignOf(btf, typeId),
      weak: sym.bind === STB.WEAK,
      dataOff: 0,
    });
  }
  kconfig.sort(
    (a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  let off = 0;
  for (const e of kconfig) {
    e.dataOff = Math.ceil(off / e.align) * e.align;
    off = e.dataOff + e.size;
  }
  return { kconfig, kconfigSize: off };
}

/**
 * The .kconfig map's initial value: each extern's value from the running kernel. Besides
 * LINUX_KERNEL_VERSION and CONFIG_*, libbpf defines LINUX_HAS_* from its own feature probes
 * (loader/kernel-features.ts); no other name has a value.
 */
export function kconfigData(obj: BpfObject, btf: Btf, ext: Externs): Uint8Array {
  const out = new Uint8Array(ext.kconfigSize);
  const view = new DataView(out.buffer);
  const le = obj.littleEndian;
  for (const e of ext.kconfig) {
    let value: string | undefined;
    if (e.name === 'LINUX_KERNEL_VERSION') value = String(kernelVersionCode());
    else if (e.name === 'LINUX_HAS_BPF_COOKIE') value = hasBpfCookie() ? 'y' : 'n';
    else if (e.name === 'LINUX_HAS_SYSCALL_WRAPPER') value = hasSyscallWrapper() ? 'y' : 'n';
    else if (e.name.startsWith('CONFIG_')) value = kernelConfig().get(e.name);
    if (value === undefined) {
      if (e.weak || e.name.startsWith('CONFIG_')) continue; // unset: zero, as libbpf leaves it
      throw errors.unsupported(`extern '${e.name}' (__kconfig) has no value on this kernel`, obj.file);
    }
    const t = btf.type(btf.skipModsAndTypedefs(e.typeId));
    if (t.kind === Kind.Enum && btf.name(btf.skipModsAndTypedefs(e.typeId)) === 'libbpf_tristate') {
      view.setInt32(e.dataOff, value === 'y' ? 1 : value === 'm' ? 2 : 0, le);
    } else if (t.kind === Kind.Array) {
      const s = value.startsWith('"') ? value.slice(1, -1) : value;
      out.set(new TextEncoder().encode(s).subarray(0, e.size - 1), e.dataOff);
    } else if (value === 'y' || value === 'n' || value === 'm') {
      out[e.dataOff] = value === 'n' ? 0 : 1;
    } else {
      const n = BigInt(value.startsWith('0x') ? value : Number.parseInt(value, 10));
      for (let i = 0; i < e.size; i++) {
        const byte = Number((n >> BigInt(8 * i)) & 0xffn);
        out[e.dataOff + (le ? i : e.size - 1 - i)] = byte;
      }
    }
  }
  return out;
}
