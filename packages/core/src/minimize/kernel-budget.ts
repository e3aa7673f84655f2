import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isXz, xzDecompressedSize } from '../kernels/xz.ts';

/**
 * One memory budget for all the kernels a run holds at once (inflating, waiting, being
 * decoded or minimized). Each kernel is admitted by its inflated size, read from the xz
 * index before it is inflated (a raw file: its size): a run takes the next kernel only while
 * the kernels it holds, with that one, stay within the budget, and always takes one when it
 * holds none. So however many kernels, and however far a small archive inflates (up to the
 * 512 MiB archive cap), the inflated bytes held at once are at most
 * max(budget, the largest single kernel); peak memory is about twice that (the inflated tar
 * and the decoded BTF) plus the run's own.
 *
 * BTFKIT_KERNEL_BUDGET_MB (a whole number ≥ 1) sets it; default 512 MiB.
 */
export const KERNEL_BUDGET_BYTES = (() => {
  const mb = Number(process.env.BTFKIT_KERNEL_BUDGET_MB ?? 512);
  return (Number.isInteger(mb) && mb >= 1 ? mb : 512) * 1024 * 1024;
})();

/** Archives are read whole to find their index; past this, a file is costed by its size. */
const MAX_ARCHIVE_PEEK = 64 << 20;

/**
 * The bytes holding this kernel costs once inflated. Unreadable or unsized inputs cost 0:
 * their fetch reports them (and non-regular ones are bounded by io/bounded-read.ts).
 */
export function kernelFootprint(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 0;
    const head = new Uint8Array(6);
    readSync(fd, head, 0, 6, 0);
    if (!isXz(head) || st.size > MAX_ARCHIVE_PEEK) return st.size;
    const bytes = new Uint8Array(st.size);
    for (let n = 0; n < st.size; ) {
      const got = readSync(fd, bytes, n, st.size - n, n);
      if (got === 0) break;
      n += got;
    }
    return xzDecompressedSize(bytes, path);
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** Admission against the budget: `fits` before taking a kernel, `take`/`give` around holding it. */
export class KernelBudget {
  private used = 0;
  private count = 0;
  constructor(readonly limit: number = KERNEL_BUDGET_BYTES) {}

  fits(bytes: number): boolean {
    return this.count === 0 || this.used + bytes <= this.limit;
  }

  take(bytes: number): void {
    this.used += bytes;
    this.count++;
  }

  give(bytes: number): void {
    this.used -= bytes;
    this.count--;
  }
}
