import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../btf/btf.ts';
import { Kind } from '../btf/kinds.ts';
import { STB } from '../elf/elf.ts';
import type { BpfObject } from '../elf/object.ts';
import { parseRelease } from './profile.ts';

/**
 * `.kconfig` externs (`extern ... __kconfig`): libbpf fills a map with their values before
 * loading and freezes it, so the verifier reads them as constants, the way it reads .rodata.
 * Their values depend on the target kernel: LINUX_KERNEL_VERSION on its release, CONFIG_* on
 * its configuration.
 */
export interface KconfigExtern {
  name: string;
  /** Bytes of the extern's type. */
  size: number;
  type: 'bool' | 'tristate' | 'int' | 'other';
  signed: boolean;
  /** `__weak`: libbpf gives 0 when the kernel's config lacks it, instead of refusing the object. */
  weak: boolean;
}

/** The `.kconfig` externs of an object, by name. */
export function kconfigExterns(obj: BpfObject): Map<string, KconfigExtern> {
  const out = new Map<string, KconfigExtern>();
  const btf = obj.btf;
  // The first DATASEC named .kconfig, found by kind first: byName would hash every name of
  // the object's BTF for this one look-up.
  let sec: number | undefined;
  for (let id = 1; id < btf.typeCount && sec === undefined; id++) {
    if (btf.kindOf(id) === Kind.Datasec && btf.name(id) === '.kconfig') sec = id;
  }
  if (sec === undefined) return out;
  const ds = btf.type(sec);
  if (ds.kind !== Kind.Datasec) return out;
  const weak = new Set(
    obj.elf
      .symbols()
      .filter((s) => s.bind === STB.WEAK)
      .map((s) => s.name),
  );
  for (const v of ds.vars) {
    const t = btf.type(v.type);
    if (t.kind !== Kind.Var) continue;
    const name = btf.name(v.type);
    out.set(name, { name, ...typeOf(btf, t.type), weak: weak.has(name) });
  }
  return out;
}

function typeOf(btf: Btf, id: number): Pick<KconfigExtern, 'size' | 'type' | 'signed'> {
  const t = btf.type(btf.skipModsAndTypedefs(id));
  if (t.kind === Kind.Int) {
    // BTF_INT_BOOL = 4, BTF_INT_SIGNED = 1.
    if (t.encoding & 4) return { size: t.size, type: 'bool', signed: false };
    return { size: t.size, type: 'int', signed: (t.encoding & 1) !== 0 };
  }
  if (t.kind === Kind.Enum) {
    const name = btf.name(btf.skipModsAndTypedefs(id));
    return { size: t.size, type: name === 'libbpf_tristate' ? 'tristate' : 'int', signed: false };
  }
  return { size: 'size' in t && typeof t.size === 'number' ? t.size : 0, type: 'other', signed: false };
}

/** What one kernel gives for `.kconfig` externs. */
export interface KernelConfig {
  release: string;
  /** CONFIG_* → value as in the kernel's .config ("y", "m", "42", "\"str\""); absent = not set. */
  config?: ReadonlyMap<string, string>;
}

/** The value of an extern on a kernel: a number, unknown (with why), or libbpf's refusal. */
export type KconfigValue = { known: bigint } | { unknown: string } | { refused: string };

/** LINUX_KERNEL_VERSION as libbpf computes it: KERNEL_VERSION(a, b, min(c, 255)). */
export function kernelVersionCode(release: string): bigint | undefined {
  const r = parseRelease(release);
  if (!r) return undefined;
  return BigInt((r[0] << 16) + (r[1] << 8) + Math.min(r[2], 255));
}

export function kconfigValue(ext: KconfigExtern, kernel: KernelConfig): KconfigValue {
  if (ext.name === 'LINUX_KERNEL_VERSION') {
    const v = kernelVersionCode(kernel.release);
    return v === undefined
      ? { unknown: `${ext.name} (release '${kernel.release}' not parsed)` }
      : { known: v };
  }
  if (!ext.name.startsWith('CONFIG_')) {
    // LINUX_HAS_BPF_COOKIE and friends: libbpf probes the running kernel for them.
    return { unknown: `${ext.name} (libbpf probes it at load)` };
  }
  if (!kernel.config) return { unknown: `${ext.name} (the kernel's config is not known)` };
  const raw = kernel.config.get(ext.name);
  if (raw === undefined || raw === 'n') {
    if (raw === undefined && !ext.weak)
      return { refused: `extern ${ext.name} is not in the kernel's config and is not __weak` };
    return { known: 0n };
  }
  switch (ext.type) {
    case 'bool':
      return raw === 'y' || raw === 'm' ? { known: 1n } : { unknown: `${ext.name}=${raw}` };
    case 'tristate':
      return raw === 'y' ? { known: 1n } : raw === 'm' ? { known: 2n } : { unknown: `${ext.name}=${raw}` };
    case 'int':
      if (/^-?(0x[0-9a-f]+|\d+)$/i.test(raw)) {
        const neg = raw.startsWith('-');
        const v = BigInt(neg ? raw.slice(1) : raw);
        return { known: neg ? -v : v };
      }
      return { unknown: `${ext.name}=${raw}` };
    default:
      return { unknown: `${ext.name} (a ${ext.size}-byte value compat does not read)` };
  }
}

/** Parses a kernel .config ("CONFIG_X=y", "# CONFIG_Y is not set"). */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) out.set(set[1] as string, set[2] as string);
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) out.set(unset[1] as string, 'n');
  }
  return out;
}

/** The running kernel's config, from /proc/config.gz (CONFIG_IKCONFIG_PROC), if it has one. */
export function runningKernelConfig(path = '/proc/config.gz'): Map<string, string> | undefined {
  try {
    return parseKernelConfig(gunzipSync(readFileSync(path)).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The extern's bytes in the object's byte order, as libbpf writes them into the map. */
export function kconfigBytes(value: bigint, size: number, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    out[littleEndian ? i : size - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
