import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { errors } from '../errors/index.ts';

/**
 * The most bytes read from an input that is not a regular file (a pipe, a FIFO, a character
 * device such as /dev/zero), whose size is known only at its end: the same bound as an
 * archive's inflated size (kernels/xz.ts DEFAULT_MAX_DECOMPRESSED is this constant), so no input a user names
 * can make a command hold more than that.
 */
export const MAX_STREAM_INPUT = 512 * 1024 * 1024;

const CHUNK = 1 << 20;

/**
 * A file's whole contents: a regular file as readFileSync reads it; anything else in chunks
 * until its end, refused (an IO error naming it) past `max` bytes. fs errors are thrown as
 * they come, for the caller to word.
 */
export function readWholeBounded(file: string, what: string, max = MAX_STREAM_INPUT): Buffer {
  const fd = openSync(file, 'r');
  try {
    if (fstatSync(fd).isFile()) return readFileSync(fd);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      total += n;
      if (total > max)
        throw errors.io(
          file,
          `cannot read ${what}: not a regular file, and longer than ${max / (1024 * 1024)} MiB (the most read from a pipe or device)`,
        );
      chunks.push(n === CHUNK ? chunk : chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
