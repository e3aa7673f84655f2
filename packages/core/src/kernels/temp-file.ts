import { openSync, readSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The scratch files xz(1) reads from and writes to (xz.ts, xz-helper.ts): created in the
 * temp directory with O_EXCL, mode 0600, and unlinked at once, so nothing is left behind
 * whatever happens to this process; the open fd keeps the file until it is closed.
 */
export function unlinkedTempFile(): number {
  const tag = ((Math.random() * 0x100000000) >>> 0).toString(16).padStart(8, '0');
  const path = join(tmpdir(), `.btfkit-xz.${process.pid}.${tag}.tmp`);
  const fd = openSync(path, 'wx+', 0o600);
  unlinkSync(path);
  return fd;
}

/** Where an inflated archive is read to: a plain array by default (see xzDecompressAsync). */
export type Allocate = (size: number) => Uint8Array;
const plain: Allocate = (size) => new Uint8Array(size);

/** The first `size` bytes of `fd` (fewer if it ends sooner), read from offset 0 on. */
export function readFromStart(fd: number, size: number, allocate: Allocate = plain): Uint8Array {
  const out = allocate(size);
  for (let n = 0; n < size; ) {
    const r = readSync(fd, out, n, size - n, n);
    if (r === 0) return out.subarray(0, n);
    n += r;
  }
  return out;
}
