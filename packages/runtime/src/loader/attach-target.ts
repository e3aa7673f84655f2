/**
 * Which kernel type a program attached by BTF id (tp_btf, fentry/fexit/fmod_ret, lsm, iter)
 * names, found in the running kernel's BTF as libbpf's find_attach_btf_id finds it.
 */
import { type Btf, errors, findByNameKind, Kind, type ResolvedSection, RUNNING_KERNEL_BTF } from '../deps.ts';
import { KernelError } from '../sys/errors.ts';

/** libbpf's find_attach_btf_id against vmlinux: btf_trace_<tp> TYPEDEF, bpf_lsm_<hook> FUNC, or FUNC. */
export function findAttachBtfId(vmlinux: Btf | undefined, prog: string, def: ResolvedSection): number {
  const t = def.btfTarget;
  if (!t) return 0;
  if (!vmlinux)
    throw errors.notFound(
      RUNNING_KERNEL_BTF,
      `program '${prog}' (${def.section}) needs the kernel's BTF to attach`,
    );
  const kind = t.kind === 'typedef' ? Kind.Typedef : Kind.Func;
  const name = t.prefix + def.target;
  const id = findByNameKind(vmlinux, name, kind);
  if (id === undefined) {
    throw new KernelError(
      'NOT_FOUND',
      `attach target of '${prog}'`,
      2,
      `program '${prog}': the kernel's BTF has no ${t.kind} '${name}' to attach ${def.section} to`,
    );
  }
  return id;
}
