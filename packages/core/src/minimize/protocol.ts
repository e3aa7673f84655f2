import type { Unsatisfied } from './minimize.ts';

/** Messages between the batch driver and its workers (structured-clone friendly). */

export interface WorkerInit {
  objects: { file: string; bytes: Uint8Array }[];
  bpftoolCompat: boolean;
  /** Every kernel of the batch still to do; workers take them in order. */
  jobs: JobRequest[];
  /**
   * One Int32: the index in `jobs` of the next kernel nobody has taken. Workers take kernels
   * with Atomics.add, so a worker knows its next kernel (and can start inflating it) without
   * a round trip to the main thread; the main thread stops the batch by moving it past the end.
   */
  next: SharedArrayBuffer;
  /** How many kernels a worker reads and inflates ahead of the one it is minimizing. */
  ahead: number;
}

export interface JobRequest {
  index: number;
  path: string;
  release: string;
}

/** Milliseconds per stage of one kernel. */
export interface Timings {
  read: number;
  decompress: number;
  decode: number;
  relocate: number;
  emit: number;
}

/** A worker's last message: the queue is empty. */
export interface WorkerDone {
  done: true;
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
