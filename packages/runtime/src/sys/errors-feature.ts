/**
 * Whether the running kernel knows a map or program type, from its own BTF: the kernel answers
 * EINVAL both for a type it lacks and for bad attributes, but `enum bpf_map_type` and
 * `enum bpf_prog_type` in /sys/kernel/btf/vmlinux list exactly the types it was built with.
 * The BTF is the loader's decoded copy (kernel-btf.ts), not a second decode.
 */
import { type Btf, findByNameKind, Kind } from '../deps.ts';
import { Errno, type KernelError, type KernelErrorKind, kernelError } from './errors.ts';
import { runningKernelBtf } from './kernel-btf.ts';

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

function runningBtf(): Btf | undefined {
  try {
    return runningKernelBtf();
  } catch {
    // Only a better message is at stake: without readable BTF we say less.
    return undefined;
  }
}

export function kernelSupport(f: KernelFeature): FeatureSupport {
  const btf = runningBtf();
  if (!btf) return undefined;
  const id = findByNameKind(btf, f.enumName, Kind.Enum);
  const t = id === undefined ? undefined : btf.type(id);
  if (t?.kind !== Kind.Enum) return undefined;
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

/**
 * The error for a failed create/load that names a type (`feature`): on EINVAL the kernel's BTF
 * tells a type it does not have (a missing feature) from attributes it refuses; other errnos
 * are worded as any syscall's.
 */
export function featureError(op: string, errno: number, f: KernelFeature): KernelError {
  return kernelError(op, errno, undefined, errno === Errno.EINVAL ? einvalHint(f) : undefined);
}

function einvalHint(f: KernelFeature): { kind: KernelErrorKind; text: string } {
  const s = kernelSupport(f);
  if (s === undefined) {
    return {
      kind: 'OTHER',
      text: `invalid attributes, or ${f.what} ${f.value} is not supported by this kernel`,
    };
  }
  if (s.known) return { kind: 'OTHER', text: `the kernel refused the attributes given for ${s.name}` };
  const newest = s.newest ? ` (its enum ${f.enumName} ends at ${s.newest.name} = ${s.newest.value})` : '';
  return {
    kind: 'UNSUPPORTED',
    text: `the running kernel does not support ${f.what} ${f.value}${newest}; it needs a newer kernel`,
  };
}
