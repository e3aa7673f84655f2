import { release as osRelease } from 'node:os';
import { basename } from 'node:path';
import type { Btf } from '../btf/btf.ts';
import { decodeBtf, isBtf } from '../btf/decode.ts';
import { parseElf } from '../elf/elf.ts';
import { errors } from '../errors/index.ts';
import { readResidentInput } from '../io/input.ts';
import { RUNNING_KERNEL_BTF } from './running.ts';
import { readSingleBtfEntry } from './tar.ts';
import { DEFAULT_MAX_DECOMPRESSED, isXz, xzDecompress, xzDecompressAsync } from './xz.ts';

/** Where a kernel's BTF came from, and the BTF itself. */
export interface KernelBtf {
  btf: Btf;
  /** The raw BTF bytes (the .BTF section, the tar entry, or the file itself). */
  bytes: Uint8Array;
  path: string;
  /** `uname -r` of that kernel, when the source says it (btfhub names, the running kernel). */
  release?: string;
}

export interface BtfSourceOptions {
  /** Base BTF for split BTF (kernel modules). */
  base?: Btf;
  /** Refuse a .btf.tar.xz that would decompress to more than this (default 512 MiB). */
  maxDecompressed?: number;
}

const TAR_XZ_SUFFIX = '.btf.tar.xz';

/**
 * Reads kernel BTF from any of the places it lives: a raw BTF file (`/sys/kernel/btf/*`,
 * btfhub's extracted `<release>.btf`), an ELF with a `.BTF` section (vmlinux, a module, or a
 * BPF object used as a target as the kernel selftests do) or a btfhub `.btf.tar.xz`,
 * decompressed in memory. The kind is decided by the file's magic bytes, not its name.
 */
export async function readBtfSource(path: string, opts: BtfSourceOptions = {}): Promise<KernelBtf> {
  // Read synchronously: a kernel is ~5 MB, a few ms from the page cache, where fs/promises
  // took several event-loop turns of 512 KiB reads; only xz(1)'s inflating is awaited. Read
  // into a BTF arena (io/input.ts), where a raw kernel is then scanned and indexed in place.
  const bytes = readResidentInput(path, 'BTF file');
  if (isXz(bytes)) {
    const tar = await xzDecompressAsync(bytes, path, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED);
    return fromTar(tar, path, opts);
  }
  return fromBytes(bytes, path, opts);
}

export function readBtfSourceSync(path: string, opts: BtfSourceOptions = {}): KernelBtf {
  return btfSourceFromBytes(readResidentInput(path, 'BTF file'), path, opts);
}

/** The same, for bytes already in memory; `path` names them (and gives a btfhub release). */
export function btfSourceFromBytes(bytes: Uint8Array, path: string, opts: BtfSourceOptions = {}): KernelBtf {
  if (isXz(bytes)) {
    const tar = xzDecompress(bytes, path, opts.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED);
    return fromTar(tar, path, opts);
  }
  return fromBytes(bytes, path, opts);
}

/** The release a btfhub file name carries: `<release>.btf.tar.xz` or `<release>.btf`. */
export function releaseFromName(path: string): string | undefined {
  const name = basename(path);
  if (name.endsWith(TAR_XZ_SUFFIX) && name.length > TAR_XZ_SUFFIX.length)
    return name.slice(0, -TAR_XZ_SUFFIX.length);
  if (name.endsWith('.btf') && name.length > 4) return name.slice(0, -4);
  return undefined;
}

function fromTar(tar: Uint8Array, path: string, opts: BtfSourceOptions): KernelBtf {
  const release = releaseFromName(path);
  const expected = basename(path).endsWith(TAR_XZ_SUFFIX) ? `${release}.btf` : undefined;
  const entry = readSingleBtfEntry(tar, path, expected);
  const inner = `${path}:${entry.name}`;
  if (!isBtf(entry.data)) {
    throw errors
      .badMagic(0, `BTF magic 0xeb9f at the start of ${entry.name}`, describe(entry.data))
      .withFile(inner);
  }
  const btf = decodeBtf(entry.data, { file: inner, base: opts.base });
  return { btf, bytes: entry.data, path, release: release ?? entry.name.slice(0, -4) };
}

function fromBytes(bytes: Uint8Array, path: string, opts: BtfSourceOptions): KernelBtf {
  const running = path === RUNNING_KERNEL_BTF;
  if (isBtf(bytes)) {
    const btf = decodeBtf(bytes, { file: path, base: opts.base });
    const release = running ? osRelease() : releaseFromName(path);
    return release === undefined ? { btf, bytes, path } : { btf, bytes, path, release };
  }
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const elf = parseElf(bytes, path);
    const sec = elf.section('.BTF');
    if (sec === undefined || sec.data.length === 0) {
      throw errors
        .badElf(
          elf.header.shoff,
          'expected a .BTF section in the ELF file (a vmlinux built with CONFIG_DEBUG_INFO_BTF)',
        )
        .withFile(path);
    }
    const btf = decodeBtf(sec.data, { file: path, fileOffset: sec.offset, base: opts.base });
    return { btf, bytes: sec.data, path };
  }
  throw errors
    .badMagic(
      0,
      'raw BTF (9f eb / eb 9f), an ELF file with .BTF, or an xz-compressed btfhub tar',
      describe(bytes),
    )
    .withFile(path);
}

function describe(b: Uint8Array): string {
  if (b.length === 0) return 'an empty file';
  return Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
}
