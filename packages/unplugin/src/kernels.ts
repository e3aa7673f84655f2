import { resolve } from 'node:path';
import { errors, listKernels as listCoreKernels, RUNNING_KERNEL_BTF, runningKernel } from '@btfkit/core';

/** One configured kernel, named as btfhub-archive names it ('unknown' where the path does not say). */
export interface KernelEntry {
  distro: string;
  version: string;
  arch: string;
  release: string;
  path: string;
}

/**
 * The configured kernels, through core's listKernels (btfhub trees, files, globs; sorted), with
 * relative inputs taken from the bundler's root rather than the process's cwd.
 * `/sys/kernel/btf/vmlinux` is the running kernel, named from os-release and uname as btfhub would.
 * An input that yields no kernel (an empty directory, a glob matching nothing) is an error, as
 * it is for the CLI: a build with none would silently emit no BTF.
 */
export function listKernels(inputs: readonly string[], root: string): KernelEntry[] {
  const out: KernelEntry[] = [];
  const rest: string[] = [];
  for (const input of inputs) {
    if (input === RUNNING_KERNEL_BTF) {
      const k = runningKernel();
      out.push({
        distro: k.distro ?? 'unknown',
        version: k.version ?? 'unknown',
        arch: k.arch,
        release: k.release,
        path: RUNNING_KERNEL_BTF,
      });
    } else rest.push(resolve(root, input));
  }
  for (const input of rest) {
    if (listCoreKernels([input]).length === 0)
      throw errors.notFound(
        input,
        "option 'kernels': expected at least one kernel BTF (raw .btf, vmlinux or btfhub .btf.tar.xz) here, found none",
      );
  }
  if (rest.length > 0) {
    for (const k of listCoreKernels(rest)) {
      out.push({
        distro: k.distro ?? 'unknown',
        version: k.version ?? 'unknown',
        arch: k.arch ?? 'unknown',
        release: k.release,
        path: k.path,
      });
    }
  }
  return out;
}
