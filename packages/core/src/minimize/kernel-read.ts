import { basename } from 'node:path';
import type { Btf } from '../btf/btf.ts';
import { readInput, readResidentInput, residentOrPlain } from '../io/input.ts';
// The kernels/ modules themselves, not its index: that would bring in the tree lister (and
// its glob library), which single-kernel commands never use.
import { btfSourceFromBytes, releaseFromName } from '../kernels/source.ts';
import { readSingleBtfEntry } from '../kernels/tar.ts';
import { isXz, xzDecompress, xzDecompressAsync } from '../kernels/xz.ts';
import { nowMs } from './clock.ts';
import type { Timings } from './timings.ts';

/** A kernel's BTF source bytes, out of its archive if it came in one. */
export interface FetchedKernel {
  /** The name for errors (`archive:entry` for an archive member). */
  path: string;
  bytes: Uint8Array;
  /** From the archive's or entry's name, for archives. */
  release?: string;
}

/**
 * Reads one kernel BTF source with kernels/ (raw BTF, vmlinux ELF, btfhub .btf.tar.xz,
 * /sys/kernel/btf/vmlinux), timing read, decompress and decode apart for the batch report.
 * kernels/readBtfSource does decompress + decode in one call, so an archive is taken apart
 * here with its lower-level pieces: xz → the single `<release>.btf` tar entry → decode.
 * `base` makes it a module's split BTF. `read` is the file's bytes when already read
 * (readKernelFile) and how long that took.
 */
export function readKernelTimed(
  path: string,
  base: Btf | undefined,
  timings: Timings,
  read?: { bytes: Uint8Array; ms: number },
): { btf: Btf; release: string } {
  let t = nowMs();
  const bytes = read?.bytes ?? readResidentInput(path, 'kernel BTF');
  timings.read += read?.ms ?? nowMs() - t;
  t = nowMs();
  const archive = isXz(bytes);
  const fetched = archive ? unpackArchive(path, xzDecompress(bytes, path)) : { path, bytes };
  if (archive) timings.decompress += nowMs() - t;
  return decodeFetched(fetched, base, timings);
}

/**
 * Reads a kernel file into a BTF arena now, timed, for readKernelTimed to take over. On this
 * thread, before the objects are parsed: reading it in the thread pool meanwhile started
 * libuv's four threads, and the first read waits until each of them has run, which cost
 * more than the overlap saved (~1 ms on a quiet machine, up to tens of ms on a busy one).
 * A missing or unreadable file throws.
 */
export function readKernelFile(path: string): { bytes: Uint8Array; ms: number } {
  const t = nowMs();
  const bytes = readResidentInput(path, 'kernel BTF');
  return { bytes, ms: nowMs() - t };
}

/**
 * Read + decompress without holding the thread for the decompression: an archive is
 * inflated by xz(1) in a child process (kernels/ xzDecompressAsync), so a batch can have the
 * next kernels inflating while it relocates the current one. The file itself is read
 * synchronously (an archive is ~1 MB, a millisecond from the page cache): that way the
 * batch's first xz(1) starts before it parses the objects, not after. `resident`: an
 * archive is inflated into a BTF arena (io/input.ts), for a kernel decoded on this thread
 * (such bytes cannot be transferred to a worker); trees of kernels are archives, so a raw
 * file here is read plainly rather than first sniffed.
 */
export async function fetchKernel(path: string, timings: Timings, resident = false): Promise<FetchedKernel> {
  let t = nowMs();
  const bytes = readInput(path, 'kernel BTF');
  timings.read += nowMs() - t;
  if (!isXz(bytes)) return { path, bytes };
  t = nowMs();
  const tar = await xzDecompressAsync(bytes, path, undefined, resident ? residentOrPlain : undefined);
  const fetched = unpackArchive(path, tar);
  timings.decompress += nowMs() - t;
  return fetched;
}

/** A btfhub archive `<release>.btf.tar.xz` must hold exactly `<release>.btf`. */
function unpackArchive(path: string, tar: Uint8Array): FetchedKernel {
  const release = releaseFromName(path);
  const expected = path.endsWith('.btf.tar.xz') && release !== undefined ? `${release}.btf` : undefined;
  const entry = readSingleBtfEntry(tar, path, expected);
  return {
    path: `${path}:${entry.name}`,
    bytes: entry.data,
    release: release ?? basename(entry.name, '.btf'),
  };
}

/** Decodes fetched bytes (over `base` for a module's split BTF). */
export function decodeFetched(
  fetched: FetchedKernel,
  base: Btf | undefined,
  timings: Timings,
): { btf: Btf; release: string } {
  const t = nowMs();
  const k = btfSourceFromBytes(fetched.bytes, fetched.path, base === undefined ? {} : { base });
  timings.decode += nowMs() - t;
  return { btf: k.btf, release: fetched.release ?? k.release ?? basename(fetched.path) };
}
