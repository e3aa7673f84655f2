import type { Unsatisfied } from './minimize.ts';

/** Messages between the batch driver and its workers (structured-clone friendly). */

export interface WorkerInit {
  objects: { file: string; bytes: Uint8Array }[];
  bpftoolCompat: boolean;
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
