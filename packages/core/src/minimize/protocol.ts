import type { LibbpfVersion } from '../core/profile.ts';
import type { FetchedKernel } from './kernel-read.ts';
import type { Unsatisfied } from './minimize.ts';
import type { Timings } from './timings.ts';

/** Messages between the batch driver and its workers (structured-clone friendly). */

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
