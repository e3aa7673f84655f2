import {
  close,
  closeSync,
  fsync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errors } from '../errors/index.ts';

/**
 * A temporary name next to `path` (same directory, so the final rename is atomic):
 * `.<name>.<pid>.<8 hex>.tmp`, the form the batch's sweep of dead writers' temp files knows.
 * Opened with O_EXCL, so the random part need only make collisions rare. (Math.random, not
 * node:crypto: loading that cost every single-file command ~1 ms.)
 */
export function tempNameFor(path: string): string {
  const tag = ((Math.random() * 0x100000000) >>> 0).toString(16).padStart(8, '0');
  return join(dirname(path), `.${basename(path)}.${process.pid}.${tag}.tmp`);
}

/**
 * Removes a temp file after a failed write. The failure being reported is the write's: when
 * the temp file cannot even be named (its directory is a file, the file system went away),
 * there is nothing to remove and nothing more to say.
 */
export function removeTemp(tmp: string): void {
  try {
    rmSync(tmp, { force: true });
  } catch {}
}

/**
 * Writes a file so that readers see either the old file or the whole new one, never a part:
 * write a temp file in the same directory, flush it, rename it over `path`.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = tempNameFor(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    removeTemp(tmp);
    throw errors.io(path, `cannot write: ${(e as Error).message}`);
  }
}

/**
 * `writeFileAtomic` with its flush off this thread: the temp file is written now, then
 * fsync'ed in the thread pool and only then renamed into place; the promise settles when
 * `path` holds the new bytes (or, on failure, with an IO error, the temp file removed). A
 * batch writes two files a kernel, and waiting for each flush held its thread ~3 ms a file.
 */
export function writeFileAtomicAsync(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempNameFor(path);
  const fail = (e: unknown) => {
    removeTemp(tmp);
    return errors.io(path, `cannot write: ${(e as Error).message}`);
  };
  let fd: number;
  try {
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(tmp, 'wx', 0o644);
  } catch (e) {
    return Promise.reject(fail(e));
  }
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch (e) {
    closeSync(fd);
    return Promise.reject(fail(e));
  }
  return new Promise((resolve, reject) => {
    fsync(fd, (flushError) => {
      close(fd, (closeError) => {
        const e = flushError ?? closeError;
        if (e) return reject(fail(e));
        try {
          renameSync(tmp, path);
          resolve();
        } catch (renameError) {
          reject(fail(renameError));
        }
      });
    });
  });
}

/**
 * Writes several files, all or nothing as far as the file system allows: every temp file is
 * written first; only then are they renamed into place. A failure before the renames leaves
 * no file behind.
 */
export function writeFilesAtomic(files: readonly { path: string; bytes: Uint8Array }[]): void {
  const temps: string[] = [];
  try {
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true });
      const tmp = tempNameFor(f.path);
      temps.push(tmp);
      const fd = openSync(tmp, 'wx', 0o644);
      try {
        let done = 0;
        while (done < f.bytes.length) done += writeSync(fd, f.bytes, done, f.bytes.length - done);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  } catch (e) {
    for (const t of temps) removeTemp(t);
    const failed = files[temps.length - 1]?.path ?? files[0]?.path ?? '';
    throw errors.io(failed, `cannot write: ${(e as Error).message}`);
  }
  try {
    for (const [i, f] of files.entries()) renameSync(temps[i] as string, f.path);
  } catch (e) {
    for (const t of temps) removeTemp(t);
    throw errors.io(files[0]?.path ?? '', `cannot write: ${(e as Error).message}`);
  }
}

/**
 * Makes `path` a hard link to `target` (replacing whatever is there) atomically: link under a
 * temp name, then rename. Falls back to an atomic copy where hard links are not possible.
 */
export function linkAtomic(target: string, path: string, bytes: Uint8Array): void {
  const tmp = tempNameFor(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    linkSync(target, tmp);
    renameSync(tmp, path);
    // rename(2) between two links to the same inode (path already linked to target, e.g. a
    // kernel redone after a kill between link and stamp) succeeds and does nothing: the temp
    // name would stay behind.
    rmSync(tmp, { force: true });
  } catch {
    removeTemp(tmp);
    writeFileAtomic(path, bytes);
  }
}
