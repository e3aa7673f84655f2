import type { Btf } from '../btf/btf.ts';
import { KERNELS_AHEAD } from '../minimize/batch/pool.ts';
import { KernelBudget, kernelFootprint } from '../minimize/kernel-budget.ts';
import type { FetchedKernel } from '../minimize/kernel-read.ts';
import { decodeFetched, fetchKernel } from '../minimize/kernel-read.ts';
import { noTimings } from '../minimize/timings.ts';

/**
 * Kernel BTFs in the order given, read the way `min-core-btf --kernels` reads them: the
 * minimizer's fetchKernel inflates each archive in an xz(1) child writing to a temp file,
 * and KERNELS_AHEAD more kernels than the one being analysed are kept inflating, so xz(1)
 * runs on the other core while this thread decodes and analyses. Only the kernel in hand is
 * decoded, so memory stays that of a few kernels whatever their number.
 *
 * The first fetches start when this is called, before the first `next()`: a caller can
 * start it, then parse its objects while the archives inflate.
 */
export function prefetchKernels(paths: readonly string[]): AsyncGenerator<Btf, void, undefined> {
  const inFlight: Promise<FetchedKernel>[] = [];
  let started = 0;
  // Kernels inflating and the one in hand, admitted by inflated size (kernel-budget.ts).
  const budget = new KernelBudget();
  const footprints = paths.map(() => -1);
  const footprint = (i: number) => {
    if ((footprints[i] as number) < 0) footprints[i] = kernelFootprint(paths[i] as string);
    return footprints[i] as number;
  };
  const canStart = () =>
    started < paths.length && inFlight.length < 1 + KERNELS_AHEAD && budget.fits(footprint(started));
  const startNext = () => {
    budget.take(footprint(started));
    const path = paths[started++] as string;
    const timings = noTimings();
    // Decoded on this thread: read and inflated into BTF arenas, scanned and indexed in place.
    const p = fetchKernel(path, timings, true);
    // Failures surface in order, when their turn comes; until then they are not "unhandled".
    p.catch(() => {});
    inFlight.push(p);
  };
  while (canStart()) startNext();
  return (async function* () {
    for (let i = 0; i < paths.length; i++) {
      // Kernel i was started: with nothing held, the budget always admits one.
      if (started === i) startNext();
      const fetched = await (inFlight.shift() as Promise<FetchedKernel>);
      while (canStart()) startNext();
      const timings = noTimings();
      yield decodeFetched(fetched, undefined, timings).btf;
      // The caller is done with kernel i when it asks for the next one.
      budget.give(footprint(i));
      while (canStart()) startNext();
    }
  })();
}

/** One turn of the event loop: lets finished archive reads start their xz(1) children. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
