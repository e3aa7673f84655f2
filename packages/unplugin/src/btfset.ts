import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BpfObject,
  BtfkitError,
  errors,
  type KernelBtf,
  minimizeBtf,
  minimizeKernels,
  readBtfSource,
} from '@btfkit/core';
import type { KernelEntry } from './kernels.ts';

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

// Part of every cache key: bump when the minimizer's output for the same inputs changes.
const MINIMIZER_ID = 'btfkit-minimize-1';

/** One kernel's minimized BTF for one object. */
export interface KernelBtfResult {
  kernel: KernelEntry;
  bytes: Uint8Array;
  /** Of the minimized bytes. */
  hash: string;
  /** Of the kernel file. */
  kernelHash: string;
}

/** Kernel BTF decoded during one module's load, shared by the minimizer and the analysis. */
export type DecodedKernels = Map<string, Promise<KernelBtf>>;

export function decodeOnce(decoded: DecodedKernels, path: string): Promise<KernelBtf> {
  let d = decoded.get(path);
  if (!d) {
    d = readBtfSource(path);
    decoded.set(path, d);
  }
  return d;
}

export interface ObjectInput {
  file: string;
  bytes: Uint8Array;
  parsed: BpfObject;
}

/**
 * Makes one minimized BTF per kernel for an object with btfkit's minimizer (the bytes of
 * `btfkit min-core-btf`, i.e. bpftool's): from the persistent cache when the object and the
 * kernel file are unchanged (keyed by both content hashes), else by minimizing. All kernels
 * succeed or the whole set fails, so a build never emits half a set.
 */
export class BtfSetBuilder {
  private readonly kernelHashes = new Map<string, { stamp: string; hash: Promise<string> }>();
  private readonly memory = new Map<string, Uint8Array>();
  /** Cache statistics since construction, for tests and benchmarks. */
  stats = { hits: 0, misses: 0 };

  constructor(private readonly cacheDir: string | undefined) {}

  async build(
    obj: ObjectInput,
    kernels: readonly KernelEntry[],
    decoded: DecodedKernels = new Map(),
  ): Promise<KernelBtfResult[]> {
    const objHash = sha256(obj.bytes);
    const found: (Uint8Array | undefined)[] = [];
    const keys: string[] = [];
    const hashes: string[] = [];
    for (const k of kernels) {
      const kernelHash = await this.kernelHash(k.path);
      const key = sha256(`${MINIMIZER_ID}\0${objHash}\0${kernelHash}`);
      hashes.push(kernelHash);
      keys.push(key);
      found.push(this.fromCache(key));
    }
    const missing = kernels.flatMap((k, i) => (found[i] ? [] : [{ k, i }]));
    this.stats.hits += kernels.length - missing.length;
    this.stats.misses += missing.length;
    if (missing.length === 1) {
      const { k, i } = missing[0] as { k: KernelEntry; i: number };
      found[i] = minimizeFor(await decodeOnce(decoded, k.path), k, obj);
    } else if (missing.length > 1) {
      // Several kernels: core's batch minimizer, one worker per core (what
      // `btfkit min-core-btf --kernels` runs), into a scratch directory read back here.
      const got = await minimizeBatch(
        obj,
        missing.map((m) => m.k),
      );
      missing.forEach((m, j) => {
        found[m.i] = got[j];
      });
    }
    return kernels.map((k, i) => {
      const bytes = found[i] as Uint8Array;
      if (missing.some((m) => m.i === i)) this.toCache(keys[i] as string, bytes);
      return { kernel: k, bytes, hash: sha256(bytes), kernelHash: hashes[i] as string };
    });
  }

  /**
   * The kernel file's content hash, remembered while its size, mtime and inode stay the same:
   * a watch rebuild re-hashes only files that changed (esbuild reports no changed files).
   */
  async kernelHash(path: string): Promise<string> {
    let st: { size: number; mtimeMs: number; ino: number };
    try {
      st = await stat(path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw errors.notFound(path, 'kernel BTF file disappeared');
      throw errors.io(path, `cannot read kernel BTF: ${err.message}`);
    }
    const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    const known = this.kernelHashes.get(path);
    if (known?.stamp === stamp) return known.hash;
    const hash = readFile(path).then(
      (b) => sha256(b),
      (e) => {
        throw errors.io(path, `cannot read kernel BTF: ${(e as Error).message}`);
      },
    );
    this.kernelHashes.set(path, { stamp, hash });
    return hash;
  }

  /** Watch mode: forget what a changed kernel file hashed to. */
  invalidate(path: string): void {
    this.kernelHashes.delete(path);
  }

  private fromCache(key: string): Uint8Array | undefined {
    const hit = this.memory.get(key);
    if (hit) return hit;
    if (!this.cacheDir) return undefined;
    try {
      const b = new Uint8Array(readFileSync(join(this.cacheDir, `${key}.btf`)));
      this.memory.set(key, b);
      return b;
    } catch {
      return undefined;
    }
  }

  private toCache(key: string, bytes: Uint8Array): void {
    this.memory.set(key, bytes);
    if (!this.cacheDir) return;
    // Atomic: a concurrent build never reads half a file.
    mkdirSync(this.cacheDir, { recursive: true });
    const final = join(this.cacheDir, `${key}.btf`);
    const tmp = `${final}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, final);
  }
}

async function minimizeBatch(obj: ObjectInput, kernels: readonly KernelEntry[]): Promise<Uint8Array[]> {
  const outDir = mkdtempSync(join(tmpdir(), 'btfkit-plugin-min-'));
  try {
    const { outcomes } = await minimizeKernels({
      outDir,
      objects: [{ file: obj.file, bytes: obj.bytes }],
      kernels: kernels.map((k) => ({
        distro: k.distro === 'unknown' ? undefined : k.distro,
        version: k.version === 'unknown' ? undefined : k.version,
        arch: k.arch === 'unknown' ? undefined : k.arch,
        release: k.release,
        path: k.path,
      })),
    });
    return outcomes.map((o) => {
      if (o.status === 'failed' || !o.file) {
        throw errors.minimize(o.error ?? `minimizing the BTF of ${o.kernel.path} failed`, obj.file);
      }
      return new Uint8Array(readFileSync(join(outDir, o.file)));
    });
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function minimizeFor(kernel: KernelBtf, k: KernelEntry, obj: ObjectInput): Uint8Array {
  try {
    return minimizeBtf(kernel.btf, [obj.parsed], { release: k.release });
  } catch (e) {
    if (e instanceof BtfkitError) throw e;
    throw errors.minimize(`minimizing the BTF of ${k.path} failed: ${(e as Error).message}`, obj.file);
  }
}
