import type { LibbpfVersion } from '../../core/profile.ts';
import type { Unsatisfied } from '../minimize.ts';
import type { Timings } from '../timings.ts';

// What a batch is given and what it gives back: shared by the driver, the content store and
// the worker pool, and re-exported by the package.

/** A kernel to minimize for; distro/version/arch are unknown for files outside a btfhub tree. */
export interface BatchKernel {
  distro: string | undefined;
  version: string | undefined;
  arch: string | undefined;
  release: string;
  path: string;
  /** How manifest.json names the source: relative to its tree (default: `path`). */
  source?: string;
}

export interface BatchOptions {
  outDir: string;
  kernels: readonly BatchKernel[];
  objects: readonly { file: string; bytes: Uint8Array }[];
  bpftoolCompat?: boolean;
  /** Which libbpf / bpftool to decide as (see MinimizeOptions). Default 1.1. */
  libbpf?: LibbpfVersion;
  /** A kernel that cannot satisfy every relocation is not written (reported as failed). */
  strict?: boolean;
  /** Worker count; default: half the cores, at least one (at most one per kernel); see runPool. */
  jobs?: number;
  /**
   * Stops the batch (Ctrl-C): no new kernel is started, workers are terminated, and the
   * promise rejects with the signal's reason. Kernels already written stay done (with their
   * stamps), so a re-run resumes; no file is ever left half-written, since every write is a
   * temp file renamed into place, and the batch settles every write it started (renamed or
   * removed) before it rejects.
   */
  signal?: AbortSignal;
  /** Called after each kernel (for a progress bar). */
  onProgress?: (done: number, total: number, last: KernelOutcome) => void;
}

export interface KernelOutcome {
  kernel: BatchKernel;
  status: 'written' | 'resumed' | 'failed';
  /** Path under OUT of the content-addressed file. */
  file?: string;
  sha256?: string;
  size?: number;
  unsatisfied: Unsatisfied[];
  error?: string;
  timings?: Timings;
}

export interface BatchResult {
  outcomes: KernelOutcome[];
  distinctFiles: number;
  timings: Timings;
  wallMs: number;
}
