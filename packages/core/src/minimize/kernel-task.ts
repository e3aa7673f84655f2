import { createHash } from 'node:crypto';
import type { LibbpfVersion } from '../core/profile.ts';
import type { BpfObject } from '../elf/object.ts';
import { BtfkitError } from '../errors/index.ts';
import { type KernelJobResult, minimizeDecoded } from './kernel-job.ts';
import type { FetchedKernel } from './kernel-read.ts';
import { decodeFetched } from './kernel-read.ts';
import type { MinimizeOptions } from './minimize.ts';
import type { JobResult, KernelTask } from './protocol.ts';
import type { Timings } from './timings.ts';

// A batch's per-kernel step, apart from kernel-job.ts so that a single-kernel command does not
// load what only batches need (node:crypto for the result's hash).

/** A batch worker's step: a kernel already read and inflated (kernel-read fetchKernel) → minimized bytes. */
export function minimizeFetched(
  fetched: FetchedKernel,
  objects: readonly BpfObject[],
  opts: MinimizeOptions,
  timings: Timings,
): KernelJobResult {
  return minimizeDecoded(decodeFetched(fetched, undefined, timings), undefined, objects, opts, timings);
}

/**
 * One batch kernel, inflated by the batch's main thread, → the result message: minimized
 * bytes and their sha256, or the failure (a BtfkitError is the kernel's; anything else is
 * `internal`, a bug that stops the batch). Runs in a worker or, with one runner, inline.
 */
export function minimizeKernelTask(
  task: KernelTask,
  objects: readonly BpfObject[],
  bpftoolCompat: boolean,
  libbpf?: LibbpfVersion,
): JobResult {
  try {
    const out = minimizeFetched(
      task.fetched,
      objects,
      { bpftoolCompat, release: task.release, libbpf },
      task.timings,
    );
    return {
      index: task.index,
      ok: true,
      bytes: out.bytes,
      sha256: createHash('sha256').update(out.bytes).digest('hex'),
      unsatisfied: out.unsatisfied,
      timings: out.timings,
    };
  } catch (e) {
    const message =
      e instanceof BtfkitError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    return { index: task.index, ok: false, error: message, internal: !(e instanceof BtfkitError) };
  }
}
