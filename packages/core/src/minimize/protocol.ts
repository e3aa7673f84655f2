import type { LibbpfVersion } from '../core/profile.ts';
import type { Unsatisfied } from './minimize.ts';

/** Messages between the batch driver and its workers (structured-clone friendly). */

/** A kernel's BTF source bytes, out of its archive if it came in one. */
export interface FetchedKernel {
  /** The name for errors (`archive:entry` for an archive member). */
  path: string;
  bytes: Uint8Array;
  /** From the archive's or entry's name, for archives. */
  release?: string;
}

export interface WorkerInit {
  objects: { file: string; bytes: Uint8Array }[];
  bpftoolCompat: boolean;
  libbpf?: LibbpfVersion;
}

/**
 * One kernel for a worker, already read and inflated by the main thread (kernel-read
 * fetchKernel): the bytes' buffer is transferred, not copied. `timings` carries the read and
 * decompress times; the worker adds decode, relocate and emit.
 */
export interface KernelTask {
  index: number;
  release: string;
  fetched: FetchedKernel;
  timings: Timings;
}

/** Milliseconds per stage of one kernel. */
export interface Timings {
  read: number;
  decompress: number;
  decode: number;
  relocate: number;
  emit: number;
}

export type JobResult =
  | {
      index: number;
      ok: true;
      bytes: Uint8Array;
      sha256: string;
      unsatisfied: Unsatisfied[];
      timings: Timings;
    }
  | { index: number; ok: false; error: string; internal: boolean };
