/**
 * Whether the running kernel knows a map or program type, from its own BTF: the kernel answers
 * EINVAL both for a type it lacks and for bad attributes, but `enum bpf_map_type` and
 * `enum bpf_prog_type` in /sys/kernel/btf/vmlinux list exactly the types it was built with.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type Btf, decodeBtf, Kind, RUNNING_KERNEL_BTF } from '../deps.ts';

/** A kind of object named by a value of a kernel enum (what BPF_MAP_CREATE/BPF_PROG_LOAD ask for). */
export interface KernelFeature {
  /** As the error names it: 'map type', 'program type'. */
  what: string;
  enumName: 'bpf_map_type' | 'bpf_prog_type';
  value: number;
}

export type FeatureSupport =
  | { known: true; name: string }
  | { known: false; newest: { name: string; value: number } | undefined }
  /** No kernel BTF (or no such enum in it): the kernel cannot tell us. */
  | undefined;

let kernelBtf: Btf | null | undefined;

function runningBtf(): Btf | undefined {
  if (kernelBtf === undefined) {
    try {
      kernelBtf = existsSync(RUNNING_KERNEL_BTF)
        ? decodeBtf(new Uint8Array(readFileSync(RUNNING_KERNEL_BTF)), {
            file: RUNNING_KERNEL_BTF,
            validate: false,
          })
        : null;
    } catch {
      // Only a better message is at stake: without readable BTF we say less.
      kernelBtf = null;
    }
  }
  return kernelBtf ?? undefined;
}

export function kernelSupport(f: KernelFeature): FeatureSupport {
  const btf = runningBtf();
  if (!btf) return undefined;
  for (const id of btf.byName(f.enumName)) {
    const t = btf.type(id);
    if (t.kind !== Kind.Enum) continue;
    let newest: { name: string; value: number } | undefined;
    for (const v of t.values) {
      const name = btf.str(v.nameOff);
      if (v.value === f.value) return { known: true, name };
      // __MAX_BPF_MAP_TYPE and the like count the types; they are not one.
      if (!name.startsWith('__') && (newest === undefined || v.value > newest.value))
        newest = { name, value: v.value };
    }
    return { known: false, newest };
  }
  return undefined;
}
