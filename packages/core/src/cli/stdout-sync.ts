import { writeSync } from 'node:fs';
import { errors } from '../errors/index.ts';

/**
 * Writes bytes to fd 1 with write(2) directly, synchronously, whole chunks at a time: the
 * caller may reuse the chunk as soon as this returns. Skipping process.stdout also skips
 * setting up its stream (~3 ms of a 100 ms `btfkit dump`). Standard output left
 * non-blocking by a parent (EAGAIN) is waited on and retried; a reader that went away
 * (EPIPE: `btfkit dump ... | head`) ends the process quietly, as it ends bpftool. Any other
 * failure (a full device, a closed descriptor) is an IO error naming standard output: the
 * command then ends with one line and exit 1.
 */
export function writeStdoutSync(chunk: Uint8Array | string): void {
  if (typeof chunk === 'string') chunk = Buffer.from(chunk);
  for (let n = 0; n < chunk.length; ) {
    try {
      n += writeSync(1, chunk, n, chunk.length - n);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') process.exit(0);
      if (code !== 'EAGAIN')
        throw errors.io('standard output', `cannot write: ${code ?? (e as Error).message}`);
      Atomics.wait(PAUSE, 0, 0, 1);
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));
