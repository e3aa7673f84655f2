import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { arch as osArch, release as osRelease } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Btf } from '../../core/src/btf/btf.ts';
import { decodeBtf, isBtf } from '../../core/src/btf/index.ts';
import { isElf, parseElf } from '../../core/src/elf/index.ts';
import { BtfkitError, errors } from '../../core/src/errors/index.ts';

const run = promisify(execFile);

/** One configured kernel, named as btfhub-archive names it. */
export interface KernelEntry {
  distro: string;
  version: string;
  arch: string;
  release: string;
  path: string;
}

const BTF_FILE = /\.btf(?:\.tar\.xz)?$/;

/**
 * Kernel BTF sources from paths, directories (btfhub trees: <distro>/<version>/<arch>/<release>.btf.tar.xz)
 * and globs, sorted by (distro, version, arch, release) so every build lists them alike.
 * A path that matches nothing is an error naming it.
 */
export function listKernels(inputs: readonly string[], root: string): KernelEntry[] {
  const files = new Set<string>();
  for (const input of inputs) {
    const abs = resolve(root, input);
    if (/[*?{[]/.test(input)) {
      const matched = globFiles(abs);
      if (matched.length === 0) throw errors.notFound(input, 'no kernel BTF file matches this glob');
      for (const f of matched) files.add(f);
      continue;
    }
    if (!existsSync(abs)) throw errors.notFound(abs, 'kernel BTF path does not exist');
    if (statSync(abs).isDirectory()) {
      const found = walk(abs).filter((f) => BTF_FILE.test(f));
      if (found.length === 0)
        throw errors.notFound(abs, 'directory holds no kernel BTF (*.btf or *.btf.tar.xz) files');
      for (const f of found) files.add(f);
    } else files.add(abs);
  }
  const out = [...files].map(describeKernel);
  const key = (k: KernelEntry) => [k.distro, k.version, k.arch, k.release, k.path].join('\0');
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function describeKernel(path: string): KernelEntry {
  if (path === '/sys/kernel/btf/vmlinux') {
    const arch = { x64: 'x86_64', arm64: 'arm64' }[osArch() as string] ?? osArch();
    return { distro: 'running', version: 'running', arch, release: osRelease(), path };
  }
  const release = basename(path).replace(BTF_FILE, '');
  const parts = dirname(path).split(sep);
  const [distro, version, arch] = parts.slice(-3);
  if (parts.length >= 3 && distro && version && arch) return { distro, version, arch, release, path };
  return { distro: 'unknown', version: 'unknown', arch: 'unknown', release, path };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function globFiles(absGlob: string): string[] {
  const segs = absGlob.split('/');
  const firstWild = segs.findIndex((s) => /[*?{[]/.test(s));
  const base = segs.slice(0, firstWild).join('/') || '/';
  if (!existsSync(base)) return [];
  const re = globRe(absGlob);
  return walk(base).filter((f) => re.test(f));
}

function globRe(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^$()|[\]\\{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The raw BTF bytes of a kernel source: raw BTF, vmlinux ELF (.BTF), or btfhub .btf.tar.xz. */
export async function readKernelBtfBytes(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    if (path.endsWith('.tar.xz')) {
      const { stdout } = await run('tar', ['-xOJf', path], { encoding: 'buffer', maxBuffer: 1 << 30 });
      bytes = new Uint8Array(stdout);
    } else bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    if (e instanceof BtfkitError) throw e;
    throw errors.io(path, `cannot read kernel BTF: ${(e as Error).message.split('\n')[0]}`);
  }
  if (isBtf(bytes)) return bytes;
  if (isElf(bytes)) {
    const sec = parseElf(bytes, path).section('.BTF');
    if (!sec) throw errors.notFound(path, 'ELF file has no .BTF section (not a vmlinux with BTF)');
    return sec.data;
  }
  throw errors
    .badMagic(0, 'kernel BTF (BTF magic 0xeb9f, an ELF vmlinux, or a .btf.tar.xz)', describeStart(bytes))
    .withFile(path);
}

export function decodeKernel(bytes: Uint8Array, path: string): Btf {
  return decodeBtf(bytes, { file: path });
}

function describeStart(b: Uint8Array): string {
  return b.length === 0
    ? 'an empty file'
    : `bytes ${[...b.subarray(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ')}`;
}
