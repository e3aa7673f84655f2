import { release as osRelease } from 'node:os';
import { basename } from 'node:path';
import { parseTar } from 'nanotar';
import type { Btf } from '../btf/btf.ts';
import { decodeBtf, isBtf } from '../btf/decode.ts';
import { isElf, parseElf } from '../elf/elf.ts';
import { errors, inFile } from '../errors/index.ts';
import { isXz, xzDecompress } from '../kernels/xz.ts';
import { readInput } from './kernel-job.ts';
import type { Timings } from './protocol.ts';

/**
 * Reads one kernel BTF source, timing each stage separately for the batch report:
 * raw BTF, a vmlinux ELF (.BTF), a btfhub .btf.tar.xz (decompressed in memory), or
 * /sys/kernel/btf/vmlinux. `base` makes it a module's split BTF.
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
  let raw: Uint8Array;
  let fileOffset = 0;
  let name = basename(path);
  if (isXz(bytes)) {
    const tar = xzDecompress(bytes, path);
    const entries = inFile(path, () => {
      try {
        return parseTar(tar);
      } catch (e) {
        throw errors.badTar(path, 0, `expected a tar archive inside the xz stream: ${(e as Error).message}`);
      }
    });
    const files = entries.filter((e) => e.type === 'file' || e.type === undefined);
    const btfEntry =
      files.find((e) => e.name.endsWith('.btf')) ?? (files.length === 1 ? files[0] : undefined);
    if (btfEntry?.data === undefined) {
      throw errors.badTar(
        path,
        0,
        `expected one <release>.btf file in the archive, found ${files.map((e) => e.name).join(', ') || 'nothing'}`,
      );
    }
    raw = btfEntry.data;
    name = basename(btfEntry.name);
    lap('decompress');
  } else if (isBtf(bytes)) {
    raw = bytes;
  } else if (isElf(bytes)) {
    const elf = parseElf(bytes, path);
    const sec = elf.section('.BTF');
    if (sec === undefined) throw errors.notFound(path, 'expected a .BTF section in the ELF file');
    raw = sec.data;
    fileOffset = sec.offset;
  } else {
    throw errors
      .badMagic(
        0,
        'kernel BTF (BTF magic 0xeb9f, an ELF with .BTF, or an xz-compressed btfhub tar)',
        `bytes ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`,
      )
      .withFile(path);
  }
  const btf = decodeBtf(raw, { file: path, fileOffset, base });
  lap('decode');
  return { btf, release: releaseOf(path, name) };
}

function releaseOf(path: string, name: string): string {
  if (path === '/sys/kernel/btf/vmlinux') return osRelease();
  return name.replace(/\.btf\.tar\.xz$/, '').replace(/\.btf$/, '');
}
