import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Btf } from '../../core/src/btf/btf.ts';
import type { BpfObject } from '../../core/src/elf/index.ts';
import { BtfkitError, errors } from '../../core/src/errors/index.ts';
import { decodeKernel, type KernelEntry, readKernelBtfBytes } from './kernels.ts';

const run = promisify(execFile);

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** One kernel's minimized BTF for one object. */
export interface KernelBtfResult {
  kernel: KernelEntry;
  bytes: Uint8Array;
  hash: string;
}

type MinimizeFn = (
  kernel: Btf,
  kernelPath: string,
  kernelBytes: Uint8Array,
  obj: ObjectInput,
) => Promise<Uint8Array>;

export interface ObjectInput {
  file: string;
  bytes: Uint8Array;
  parsed: BpfObject;
}

/**
 * Makes one minimized BTF per kernel for an object: from the persistent cache when the object
 * and the kernel file are unchanged (keyed by both content hashes and the minimizer), else by
 * minimizing. All kernels succeed or the whole set fails, so a build never emits half a set.
 */
export class BtfSetBuilder {
  private minimizer: Promise<{ id: string; run: MinimizeFn }> | undefined;
  private readonly kernelHashes = new Map<string, Promise<string>>();
  private readonly memory = new Map<string, Uint8Array>();
  /** Cache statistics of the last build, for tests and benchmarks. */
  stats = { hits: 0, misses: 0 };

  constructor(private readonly cacheDir: string | undefined) {}

  async build(obj: ObjectInput, kernels: readonly KernelEntry[]): Promise<KernelBtfResult[]> {
    const objHash = sha256(obj.bytes);
    const out: KernelBtfResult[] = [];
    const decoded = new Map<string, { btf: Btf; raw: Uint8Array }>();
    for (const k of kernels) {
      const kHash = await this.kernelHash(k.path);
      const m = await this.getMinimizer();
      const key = sha256(`${m.id}\0${objHash}\0${kHash}`);
      let bytes = this.fromCache(key);
      if (bytes) this.stats.hits++;
      else {
        this.stats.misses++;
        let d = decoded.get(k.path);
        if (!d) {
          const raw = await readKernelBtfBytes(k.path);
          d = { btf: decodeKernel(raw, k.path), raw };
          decoded.set(k.path, d);
        }
        try {
          bytes = await m.run(d.btf, k.path, d.raw, obj);
        } catch (e) {
          if (e instanceof BtfkitError) throw e;
          throw errors.minimize(
            `minimizing BTF of ${k.path} for ${obj.file} failed: ${(e as Error).message}`,
            obj.file,
          );
        }
        this.toCache(key, bytes);
      }
      out.push({ kernel: k, bytes, hash: sha256(bytes) });
    }
    return out;
  }

  private kernelHash(path: string): Promise<string> {
    let h = this.kernelHashes.get(path);
    if (!h) {
      h = readFile(path).then(
        (b) => sha256(b),
        (e) => {
          throw errors.io(path, `cannot read kernel BTF: ${(e as Error).message.split('\n')[0]}`);
        },
      );
      this.kernelHashes.set(path, h);
    }
    return h;
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

  private getMinimizer(): Promise<{ id: string; run: MinimizeFn }> {
    this.minimizer ??= pickMinimizer();
    return this.minimizer;
  }
}

/**
 * btfkit's own minimizer (bpftool-identical bytes) when it is available; otherwise bpftool's
 * `gen min_core_btf` itself, which is the reference those bytes are defined by.
 */
async function pickMinimizer(): Promise<{ id: string; run: MinimizeFn }> {
  if (process.env.BTFKIT_MINIMIZER !== 'bpftool') {
    try {
      const mod = (await import('../../core/src/minimize/minimize.ts')) as {
        minimizeBtf(kernel: Btf, objects: readonly BpfObject[]): Uint8Array;
      };
      return { id: 'btfkit-1', run: async (kernel, _p, _raw, obj) => mod.minimizeBtf(kernel, [obj.parsed]) };
    } catch {
      // The minimizer module is not there (or does not load): fall back to bpftool.
    }
  }
  return {
    id: 'bpftool-min_core_btf',
    run: async (_kernel, kernelPath, raw, obj) => {
      const dir = mkdtempSync(join(tmpdir(), 'btfkit-min-'));
      try {
        const k = join(dir, 'kernel.btf');
        const o = join(dir, 'object.bpf.o');
        const out = join(dir, 'out.btf');
        writeFileSync(k, raw);
        writeFileSync(o, obj.bytes);
        try {
          await run('bpftool', ['gen', 'min_core_btf', k, out, o]);
        } catch (e) {
          throw errors.minimize(
            `bpftool gen min_core_btf failed for ${kernelPath}: ${(e as Error).message}`,
            obj.file,
          );
        }
        return new Uint8Array(readFileSync(out));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
