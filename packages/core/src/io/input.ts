import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { residentBytes } from '../btf/btf-wasm-kit.ts';
import { BtfkitError, errors } from '../errors/index.ts';
import { readWholeBounded } from './bounded-read.ts';

/**
 * Reading the files a user names (kernels, objects) whole, with a missing or unreadable
 * file turned into an error that names it ("<what> not found", "cannot read <what>: ...").
 */

/** The file's bytes in a plain Uint8Array that owns its memory (a batch may transfer it). */
export function readInput(file: string, what: string): Uint8Array {
  let b: Buffer;
  try {
    b = readWholeBounded(file, what);
  } catch (e) {
    if (e instanceof BtfkitError) throw e;
    throw inputError(file, what, e as Error);
  }
  // A file read into a buffer of its own is used as it is (copying a 5 MB kernel costs more
  // than reading it); a small one may sit in Node's shared pool, and is copied out of it.
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return new Uint8Array(b.buffer);
  return new Uint8Array(b);
}

/**
 * readInput for a kernel BTF, read straight into a BTF arena (btf/btf-wasm-kit.ts
 * `residentBytes`), where the decoder's WebAssembly scans and indexes it without copying
 * it. The bytes cannot be transferred to another thread. What is not a regular file of
 * known size, or ends before that size, is read by readInput.
 */
export function readResidentInput(file: string, what: string): Uint8Array {
  const f = openSized(file, what);
  if (f === undefined) return readInput(file, what);
  let out: Uint8Array | undefined;
  try {
    out = residentOrPlain(f.size);
    for (let n = 0; n < f.size && out !== undefined; ) {
      const got = readSync(f.fd, out, n, f.size - n, n);
      if (got === 0) out = undefined; // shorter than fstat said: read it as it is now
      n += got;
    }
  } catch (e) {
    throw inputError(file, what, e as Error);
  } finally {
    closeSync(f.fd);
  }
  return out ?? readInput(file, what);
}

/**
 * readResidentInput with the reading done in libuv's thread pool, so that this thread can
 * parse objects meanwhile. The file is opened now: a missing one fails the call, not the
 * promise, and one that is not a regular file of known size is read now.
 */
export function readResidentInputAsync(file: string, what: string): Promise<Uint8Array> {
  const f = openSized(file, what);
  if (f === undefined) return Promise.resolve(readInput(file, what));
  const { fd, size } = f;
  let out: Uint8Array;
  try {
    out = residentOrPlain(size);
  } catch (e) {
    closeSync(fd);
    throw inputError(file, what, e as Error);
  }
  return new Promise<Uint8Array>((resolve, reject) => {
    const finish = (err: Error | null, complete: boolean) => {
      closeSync(fd);
      if (err) return reject(inputError(file, what, err));
      try {
        resolve(complete ? out : readInput(file, what));
      } catch (e) {
        reject(e);
      }
    };
    const from = (n: number) => {
      if (n === size) return finish(null, true);
      read(fd, out, n, size - n, n, (err, got) => {
        if (err) finish(err, false);
        else if (got === 0) finish(null, false);
        else if (n + got < size) {
          // A short read: a file served a page per call (sysfs). The rest is read here.
          let rest: number;
          try {
            rest = readPagedRest(fd, out, n + got, size);
          } catch (e) {
            return finish(e as Error, false);
          }
          finish(null, rest === size);
        } else from(n + got);
      });
    };
    from(0);
  });
}

/**
 * Reads `out` from `at` up to `size` with synchronous calls, for a file that serves at most
 * a page per call: /sys/kernel/btf/vmlinux (sysfs) answers ~1,350 reads for its 5.5 MB,
 * and as thread-pool jobs each one cost a round trip between threads (~20 µs, ~25 ms in
 * all here) where a direct call costs ~2 µs. mmap (kernels ≥ 6.16 allow it for this file)
 * is out of reach without a native addon, and the bytes must land in `out` anyway.
 * Returns how far it got: short of `size` when the file ended early.
 */
function readPagedRest(fd: number, out: Uint8Array, at: number, size: number): number {
  let n = at;
  while (n < size) {
    const got = readSync(fd, out, n, size - n, n);
    if (got === 0) break;
    n += got;
  }
  return n;
}

/** The open file and its size; undefined (closed again) if it is not a regular file of known size. */
function openSized(file: string, what: string): { fd: number; size: number } | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw inputError(file, what, e as Error);
  }
  let size: number;
  try {
    const st = fstatSync(fd);
    size = st.isFile() ? st.size : 0;
  } catch (e) {
    closeSync(fd);
    throw inputError(file, what, e as Error);
  }
  if (size > 0 && size <= 2 ** 31) return { fd, size };
  closeSync(fd);
  return undefined;
}

/** `size` bytes in a BTF arena, or plain ones when no arena can hold them. */
export function residentOrPlain(size: number): Uint8Array {
  return residentBytes(size) ?? new Uint8Array(size);
}

function inputError(file: string, what: string, e: Error) {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return errors.notFound(file, `${what} not found`);
  return errors.io(file, `cannot read ${what}: ${e.message}`);
}
