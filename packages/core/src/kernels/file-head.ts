import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The first `n` bytes of a file (fewer if it is shorter), or undefined when it cannot be
 * opened. Used to sniff what a path holds (BTF, ELF, xz) before committing to a reader.
 */
export function readFileHead(path: string, n: number): Uint8Array | undefined {
  const head = new Uint8Array(n);
  let got = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      got = readSync(fd, head, 0, n, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  return head.subarray(0, got);
}
