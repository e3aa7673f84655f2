/**
 * The running kernel's BTF bytes (/sys/kernel/btf/vmlinux), mapped rather than read where
 * the kernel allows it (Linux 6.16 and later map it read-only and private): sysfs hands a
 * read() at most a page, so reading its ~5 MiB takes over a thousand system calls and a copy
 * (15–100 ms here), while a mapping costs one call and faults in only the pages the decoder
 * touches. Older kernels refuse the mapping; then the file is read.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { MAP_PRIVATE, Mapping, PAGE_SIZE, PROT_READ } from '../maps/mmap.ts';
import { KernelError } from '../sys/errors.ts';

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
