/** Shared mappings of map and perf-event fds into this process. */
import { kernelError } from '../sys/errors.ts';
import { koffi, libc } from '../sys/libc.ts';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
/** Copy-on-write: what /sys/kernel/btf/vmlinux requires (the kernel refuses shared maps of it). */
export const MAP_PRIVATE = 2;
const MAP_FAILED = 0xffffffffffffffffn;

export const PAGE_SIZE = 4096;

export class Mapping {
  readonly buffer: ArrayBuffer;
  private ptr: unknown;
  constructor(
    fd: number,
    readonly length: number,
    prot: number,
    offset: number,
    what: string,
    flags = MAP_SHARED,
  ) {
    const p = libc.mmap(null, length, prot, flags, fd, offset);
    if (p === null || koffi.address(p) === MAP_FAILED) throw kernelError(`mmap ${what}`, libc.errno());
    this.ptr = p;
    this.buffer = koffi.view(p, length);
  }
  unmap(): void {
    if (this.ptr === undefined) return;
    libc.munmap(this.ptr, this.length);
    this.ptr = undefined;
  }
}
