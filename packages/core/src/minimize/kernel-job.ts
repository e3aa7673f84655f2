import type { Btf } from '../btf/btf.ts';
import type { BpfObject } from '../elf/object.ts';
import { nowMs } from './clock.ts';
import { readKernelTimed } from './kernel-read.ts';
import {
  encodeMinimized,
  encodeMinimizedSplit,
  type MinimizeOptions,
  markObjects,
  type Unsatisfied,
} from './minimize.ts';
import { noTimings, type Timings } from './timings.ts';

export interface KernelJobOptions extends MinimizeOptions {
  /** KERNEL is split BTF (a module) over this base. */
  base?: string;
  /** With `base`: emit a split BTF over a minimized base instead of one flat BTF. */
  splitOutput?: boolean;
  /** The kernel file, already read (kernel-read.ts readKernelFile), and how long that took. */
  kernelRead?: { bytes: Uint8Array; ms: number };
}

export interface KernelJobResult {
  bytes: Uint8Array;
  /** The minimized base, when a split output was asked for. */
  baseBytes?: Uint8Array;
  unsatisfied: Unsatisfied[];
  release: string | undefined;
  timings: Timings;
}

/** One kernel source → minimized bytes: read, decompress, decode, relocate + mark, emit. */
export function minimizeKernelFile(
  path: string,
  objects: readonly BpfObject[],
  opts: KernelJobOptions = {},
): KernelJobResult {
  let base: Btf | undefined;
  const timings = noTimings();
  if (opts.base !== undefined) base = readKernelTimed(opts.base, undefined, timings).btf;
  const kernel = readKernelTimed(path, base, timings, opts.kernelRead);
  return minimizeDecoded(kernel, base, objects, opts, timings);
}

export function minimizeDecoded(
  kernel: { btf: Btf; release: string },
  base: Btf | undefined,
  objects: readonly BpfObject[],
  opts: KernelJobOptions,
  timings: Timings,
): KernelJobResult {
  const release = opts.release ?? kernel.release;
  const marked = markObjects(kernel.btf, objects, { ...opts, release });
  timings.relocate += marked.relocateMs;
  const t0 = nowMs();
  let bytes: Uint8Array;
  let baseBytes: Uint8Array | undefined;
  if (base !== undefined && opts.splitOutput === true) {
    const out = encodeMinimizedSplit(marked.marks);
    bytes = out.split;
    baseBytes = out.base;
  } else {
    bytes = encodeMinimized(marked.marks);
  }
  timings.emit += nowMs() - t0;
  return { bytes, baseBytes, unsatisfied: marked.unsatisfied, release, timings };
}
