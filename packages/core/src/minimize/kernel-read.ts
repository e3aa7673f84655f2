import { basename } from 'node:path';
import type { Btf } from '../btf/btf.ts';
import {
  btfSourceFromBytes,
  isXz,
  readSingleBtfEntry,
  releaseFromName,
  xzDecompress,
} from '../kernels/index.ts';
import { readInput } from './kernel-job.ts';
import type { Timings } from './protocol.ts';

/**
 * Reads one kernel BTF source with kernels/ (raw BTF, vmlinux ELF, btfhub .btf.tar.xz,
 * /sys/kernel/btf/vmlinux), timing read, decompress and decode apart for the batch report.
 * kernels/readBtfSource does decompress + decode in one call, so an archive is taken apart
 * here with its lower-level pieces: xz → the single `<release>.btf` tar entry → decode.
 * `base` makes it a module's split BTF.
 */
export function readKernelTimed(
  path: string,
  base: Btf | undefined,
  timings: Timings,
): { btf: Btf; release: string } {
  let t = performance.now();
  const lap = (stage: keyof Timings) => {
    const now = performance.now();
    timings[stage] += now - t;
    t = now;
  };
  const bytes = readInput(path, 'kernel BTF');
  lap('read');
  const opts = base === undefined ? {} : { base };
  if (isXz(bytes)) {
    const release = releaseFromName(path);
    const tar = xzDecompress(bytes, path);
    // A btfhub archive `<release>.btf.tar.xz` must hold exactly `<release>.btf`.
    const expected = path.endsWith('.btf.tar.xz') && release !== undefined ? `${release}.btf` : undefined;
    const entry = readSingleBtfEntry(tar, path, expected);
    lap('decompress');
    const { btf } = btfSourceFromBytes(entry.data, `${path}:${entry.name}`, opts);
    lap('decode');
    return { btf, release: release ?? basename(entry.name, '.btf') };
  }
  const k = btfSourceFromBytes(bytes, path, opts);
  lap('decode');
  return { btf: k.btf, release: k.release ?? basename(path) };
}
