import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { globSync, isDynamicPattern } from 'tinyglobby';
import { errors } from '../errors/index.ts';
import { readFileHead } from './file-head.ts';
import { RUNNING_KERNEL_BTF, runningKernel } from './running.ts';
import { releaseFromName } from './source.ts';

/** One kernel BTF found on disk, with its btfhub coordinates when the path has them. */
export interface KernelEntry {
  /** os-release ID (`ubuntu`, `debian`…), from `<distro>/<version>/<arch>/`. */
  distro: string | undefined;
  /** os-release VERSION_ID as btfhub names its directories (`20.04`, `8`). */
  version: string | undefined;
  /** btfhub's arch directory: `x86_64` or `arm64`. */
  arch: string | undefined;
  /** `uname -r` of the kernel. */
  release: string;
  path: string;
}

/** btfhub's arch directory names: the signal that a path follows its layout. */
const BTFHUB_ARCHES = new Set(['x86_64', 'arm64']);

/**
 * Lists kernels from btfhub-archive trees, single files and globs. A file is a kernel when
 * its name is `<release>.btf.tar.xz` or `<release>.btf`; it gets distro/version/arch when it
 * sits in `<distro>/<version>/<arch>/` with a btfhub arch name (x86_64, arm64).
 *
 * Other files: inside a directory tree or matched by a glob they are ignored (a
 * btfhub-archive clone holds README.md, LICENSE, .git…; hidden directories are not entered).
 * A file named explicitly is taken as a kernel whatever its name when its first bytes are
 * raw BTF, ELF or xz (release: the btfhub name if it has one, `uname -r` and os-release for
 * /sys/kernel/btf/vmlinux, else the base name); otherwise it is an error, since the user asked
 * for that file as a kernel.
 * Sorted by distro, version, arch, release (numbers compared as numbers), then path.
 */
export function listKernels(inputs: string[]): KernelEntry[] {
  const paths = new Set<string>();
  const running = new Set<string>();
  for (const input of inputs) {
    if (isDynamicPattern(input)) {
      for (const p of globSync(input, { absolute: true, onlyFiles: true, dot: false })) {
        if (releaseFromName(p) !== undefined) paths.add(resolve(p));
      }
      continue;
    }
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Only a missing path is "not found"; a symlink loop or a denied directory says why.
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw errors.io(input, `cannot read kernel BTF: ${(e as Error).message}`);
      throw errors.notFound(input, 'expected a kernel BTF file, a btfhub-archive directory or a glob');
    }
    if (st.isDirectory()) {
      for (const p of walk(resolve(input))) if (releaseFromName(p) !== undefined) paths.add(p);
    } else {
      const path = resolve(input);
      if (path === RUNNING_KERNEL_BTF) running.add(path);
      else if (releaseFromName(path) === undefined && !looksLikeKernel(path)) {
        throw errors.badOption(
          `${input}: expected a kernel BTF (raw BTF, a vmlinux ELF or a .btf.tar.xz), found none of them`,
        );
      }
      paths.add(path);
    }
  }
  return [...paths].map((p) => (running.has(p) ? runningEntry(p) : entryFor(p))).sort(compareEntries);
}

/**
 * A file named explicitly is a kernel whatever its name, as long as it holds one: raw BTF
 * (magic 0xeb9f either byte order), an ELF (vmlinux) or an xz stream (an archive). Only the
 * first bytes are read; a bad file past them is reported by the reader, naming the offset.
 * A text file given by mistake is still refused here, before any work starts.
 */
function looksLikeKernel(path: string): boolean {
  const b = readFileHead(path, 6);
  if (b === undefined) return true; // unreadable: the reader reports it with its errno
  const starts = (...m: number[]) => m.length <= b.length && m.every((x, i) => b[i] === x);
  return (
    starts(0x9f, 0xeb) ||
    starts(0xeb, 0x9f) ||
    starts(0x7f, 0x45, 0x4c, 0x46) ||
    starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)
  );
}

/** /sys/kernel/btf/vmlinux is the running kernel: `uname -r` and os-release give its place. */
function runningEntry(path: string): KernelEntry {
  const k = runningKernel();
  return { distro: k.distro, version: k.version, arch: k.arch, release: k.release, path };
}

/**
 * How a kernel is named in outputs that must not depend on where the tree sits (a manifest):
 * relative to the --kernels directory it was found in, else relative to `cwd` (files and
 * globs), with `/` separators; absolute only when it lies outside both
 * (/sys/kernel/btf/vmlinux).
 */
export function kernelSourceName(path: string, inputs: readonly string[], cwd = process.cwd()): string {
  const inside = (root: string) => {
    const r = relative(root, path);
    return r !== '' && !r.startsWith('..') && !isAbsolute(r) ? r.split(sep).join('/') : undefined;
  };
  for (const input of inputs) {
    if (isDynamicPattern(input)) continue;
    let dir = false;
    try {
      dir = statSync(input).isDirectory();
    } catch {
      // listKernels already reported it
    }
    const r = dir ? inside(resolve(input)) : undefined;
    if (r !== undefined) return r;
  }
  return inside(resolve(cwd)) ?? path;
}

function entryFor(path: string): KernelEntry {
  // Files found in a tree always have the btfhub name; a file named explicitly may not, and
  // is then known by its base name.
  const release = releaseFromName(path) ?? basename(path);
  const archDir = dirname(path);
  const arch = basename(archDir);
  const versionDir = dirname(archDir);
  const distroDir = dirname(versionDir);
  if (BTFHUB_ARCHES.has(arch) && distroDir !== versionDir && basename(distroDir) !== '') {
    return { distro: basename(distroDir), version: basename(versionDir), arch, release, path };
  }
  return { distro: undefined, version: undefined, arch: undefined, release, path };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
    else if (e.isSymbolicLink()) {
      // btfhub-archive links ubuntu codenames to numeric dirs; follow links to files only.
      try {
        if (statSync(p).isFile()) out.push(p);
      } catch {
        // a dangling link is not a kernel
      }
    }
  }
  return out;
}

function compareEntries(a: KernelEntry, b: KernelEntry): number {
  return (
    natural(a.distro ?? '', b.distro ?? '') ||
    natural(a.version ?? '', b.version ?? '') ||
    natural(a.arch ?? '', b.arch ?? '') ||
    natural(a.release, b.release) ||
    natural(a.path.split(sep).join('/'), b.path.split(sep).join('/'))
  );
}

/** Code-unit order, except runs of digits compare as numbers ("9" < "10"): locale-free. */
export function natural(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i] as string;
    const y = rb[i] as string;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d < 0 ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length;
}
