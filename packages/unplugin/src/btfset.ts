import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BpfObject,
  BtfkitError,
  errors,
  type KernelBtf,
  minimizeBtf,
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
    const out: KernelBtfResult[] = [];
    for (const k of kernels) {
      const kernelHash = await this.kernelHash(k.path);
      const key = sha256(`${MINIMIZER_ID}\0${objHash}\0${kernelHash}`);
      let bytes = this.fromCache(key);
      if (bytes) this.stats.hits++;
      else {
        this.stats.misses++;
        bytes = minimizeFor(await decodeOnce(decoded, k.path), k, obj);
        this.toCache(key, bytes);
      }
      out.push({ kernel: k, bytes, hash: sha256(bytes), kernelHash });
    }
    return out;
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

function minimizeFor(kernel: KernelBtf, k: KernelEntry, obj: ObjectInput): Uint8Array {
  try {
    return minimizeBtf(kernel.btf, [obj.parsed], { release: k.release });
  } catch (e) {
    if (e instanceof BtfkitError) throw e;
    throw errors.minimize(`minimizing the BTF of ${k.path} failed: ${(e as Error).message}`, obj.file);
  }
}
