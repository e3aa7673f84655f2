import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LIBBPF } from '../../core/profile.ts';
import { errors } from '../../errors/index.ts';
import { linkAtomic, writeFileAtomic } from '../files.ts';
import type { Unsatisfied } from '../minimize.ts';
import { alive } from '../out-lock.ts';
import type { BatchKernel, BatchOptions, KernelOutcome } from './types.ts';

/**
 * A batch's files under OUT: the content store, the stamps that make a run resumable, and the
 * published tree and manifest.json (layout in driver.ts).
 */

/** The btfhub-style directory of a kernel (empty for kernels from outside a btfhub tree). */
function treeDir(k: BatchKernel): string[] {
  return [k.distro, k.version, k.arch].filter((x): x is string => x !== undefined && x !== '');
}

export interface Stamp {
  kernel: { size: number; mtimeMs: number; sha256: string };
  inputs: string;
  sha256: string;
  size: number;
  unsatisfied: Unsatisfied[];
}

const STAMP_DIR = '.stamps';
const STORE_DIR = 'btf';

export function treePath(k: BatchKernel): string {
  return join(...treeDir(k), `${k.release}.btf`);
}

export function stampPath(outDir: string, k: BatchKernel): string {
  return join(outDir, STAMP_DIR, ...treeDir(k), `${k.release}.json`);
}

export function storePath(sha256: string): string {
  return join(STORE_DIR, `${sha256.slice(0, 16)}.btf`);
}

/** Hash of everything besides the kernel that decides the output. */
export function inputsKey(opts: BatchOptions): string {
  const h = createHash('sha256');
  h.update(`btfkit-min-core-btf/1 compat=${opts.bpftoolCompat === true} strict=${opts.strict === true}\n`);
  // Stamps made with the default profile stay valid: only another profile is hashed in.
  if (opts.libbpf !== undefined && opts.libbpf !== DEFAULT_LIBBPF) h.update(`libbpf=${opts.libbpf}\n`);
  for (const o of opts.objects) h.update(createHash('sha256').update(o.bytes).digest('hex')).update('\n');
  return h.digest('hex');
}

/** One buffer for hashing kernel files: reading each whole would leave a few MiB of garbage per kernel. */
const HASH_CHUNK = new Uint8Array(1 << 20);

export function fileHash(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, HASH_CHUNK); n > 0; n = readSync(fd, HASH_CHUNK))
      h.update(HASH_CHUNK.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** A kernel is done if its stamp matches the current inputs and its output is in place. */
export function resumable(outDir: string, k: BatchKernel, inputs: string): Stamp | undefined {
  const sp = stampPath(outDir, k);
  if (!existsSync(sp)) return undefined;
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(sp, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
  if (stamp.inputs !== inputs) return undefined;
  const st = statSync(k.path);
  if (st.size !== stamp.kernel.size) return undefined;
  if (st.mtimeMs !== stamp.kernel.mtimeMs && fileHash(k.path) !== stamp.kernel.sha256) return undefined;
  // The store file is the finished output; the tree link is (re)published at the end.
  const store = join(outDir, storePath(stamp.sha256));
  if (!existsSync(store) || statSync(store).size !== stamp.size) return undefined;
  return stamp;
}

/** Temp files of writeFileAtomic/linkAtomic (`.<name>.<pid>.<hex>.tmp`) whose writer is gone. */
export function sweepStaleTemps(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const m = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(e.name);
    if (m === null || !e.isFile() || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    rmSync(join(e.parentPath, e.name), { force: true });
  }
}

/** Whether a kernel's tree path is already a link to its store file. */
export function linked(outDir: string, o: KernelOutcome): boolean {
  if (o.file === undefined) return true;
  const tree = join(outDir, treePath(o.kernel));
  if (!existsSync(tree)) return false;
  const a = statSync(tree);
  const b = statSync(join(outDir, o.file));
  return a.ino === b.ino && a.dev === b.dev;
}

/** Links each kernel's tree path to its store file. */
export function publishTree(outDir: string, outcomes: readonly KernelOutcome[]): void {
  for (const o of outcomes) {
    if (o.file === undefined) continue;
    const store = join(outDir, o.file);
    linkAtomic(store, join(outDir, treePath(o.kernel)), readFileSync(store));
  }
}

/** Removes an output file (absent is fine); a file system that refuses is an IO error naming it. */
export function removeOutput(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch (e) {
    throw errors.io(path, `cannot remove: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A failed batch: no manifest and no tree links, so no consumer takes an earlier or half set. */
export function withdraw(outDir: string, outcomes: readonly KernelOutcome[]): void {
  removeOutput(join(outDir, 'manifest.json'));
  for (const o of outcomes) removeOutput(join(outDir, treePath(o.kernel)));
}

export function writeManifest(outDir: string, outcomes: readonly KernelOutcome[]): void {
  const manifest = {
    format: 'btfkit-min-core-btf-manifest/1',
    layout: {
      store: `${STORE_DIR}/<sha256[0..16]>.btf`,
      tree: '<distro>/<version>/<arch>/<release>.btf (hard link to the store file)',
    },
    kernels: outcomes.map((o) => ({
      distro: o.kernel.distro,
      version: o.kernel.version,
      arch: o.kernel.arch,
      release: o.kernel.release,
      source: o.kernel.source ?? o.kernel.path,
      ...(o.sha256
        ? { file: o.file, path: treePath(o.kernel), sha256: o.sha256, size: o.size }
        : { error: o.error ?? 'failed' }),
      unsatisfied: o.unsatisfied.length,
    })),
  };
  writeFileAtomic(
    join(outDir, 'manifest.json'),
    new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
  );
}

/** Store files no kernel refers to any more (after inputs changed) are removed. */
export function pruneStore(outDir: string, outcomes: readonly KernelOutcome[]): void {
  const dir = join(outDir, STORE_DIR);
  if (!existsSync(dir)) return;
  const live = new Set(outcomes.filter((o) => o.file).map((o) => o.file?.slice(STORE_DIR.length + 1)));
  for (const name of readdirSync(dir)) {
    if (/^[0-9a-f]{16}\.btf$/.test(name) && !live.has(name)) rmSync(join(dir, name), { force: true });
  }
}

export function checkOutDir(outDir: string): void {
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw errors.io(outDir, 'expected a directory for --out-dir');
}
