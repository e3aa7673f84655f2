/**
 * The running kernel's BTF (/sys/kernel/btf/vmlinux), decoded once per process for every user
 * (CO-RE, attach by BTF id, the errors that name a kernel's map and program types). Its bytes
 * are mapped rather than read where the kernel allows it (Linux 6.16 and later map it
 * read-only and private): sysfs hands a read() at most a page, so reading its ~5 MiB takes
 * over a thousand system calls and a copy (15–100 ms here), while a mapping costs one call.
 * Older kernels refuse the mapping; then the file is read.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { type Btf, decodeBtf, RUNNING_KERNEL_BTF } from '../deps.ts';
import { MAP_PRIVATE, Mapping, PAGE_SIZE, PROT_READ } from '../maps/mmap.ts';
import { KernelError } from './errors.ts';

/** The mapping stays for the process: the decoded BTF is cached and reads these bytes. */
let kept: Mapping | undefined;

export function runningKernelBtfBytes(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > 0) {
      try {
        const m = new Mapping(fd, (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), PROT_READ, 0, path, MAP_PRIVATE);
        kept = m;
        return new Uint8Array(m.buffer, 0, size);
      } catch (e) {
        // EINVAL/EACCES/ENODEV from kernels that cannot map it: read it instead.
        if (!(e instanceof KernelError)) throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return new Uint8Array(readFileSync(path));
}

/** @internal For tests: whether the last bytes came from a mapping. */
export function kernelBtfMapped(): boolean {
  return kept !== undefined;
}

let vmlinuxCache: Btf | null | undefined;

/**
 * The running kernel's BTF, decoded once per process (null when the kernel exposes none).
 * Without libbpf's sanity pass: these bytes are the kernel image's own .BTF section (sysfs
 * exposes it read-only), the same the kernel's BTF verifier parses whenever BPF needs kernel
 * types, so they are not untrusted input; skipping the pass saves a sixth or so of the decode.
 */
export function runningKernelBtf(): Btf | undefined {
  if (vmlinuxCache === undefined) {
    vmlinuxCache = existsSync(RUNNING_KERNEL_BTF)
      ? decodeBtf(runningKernelBtfBytes(RUNNING_KERNEL_BTF), {
          file: RUNNING_KERNEL_BTF,
          validate: false,
        })
      : null;
  }
  return vmlinuxCache ?? undefined;
}
