import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';
import { BtfkitError } from '../../errors/index.ts';
import { startModuleWorker } from '../../io/worker-thread.ts';
import { KernelBudget, kernelFootprint } from '../kernel-budget.ts';
import { fetchKernel } from '../kernel-read.ts';
import { minimizeKernelTask } from '../kernel-task.ts';
import { parseObjects } from '../objects.ts';
import type { JobResult, KernelTask, WorkerInit } from '../protocol.ts';
import { noTimings } from '../timings.ts';
import type { BatchKernel, BatchOptions } from './types.ts';

// The batch's runners: worker threads (or, with one runner, this thread) fed kernels that the
// main thread reads and has xz(1) inflate ahead, within one memory budget.

/**
 * Decoding a kernel allocates ~100k type records that all stay alive until the kernel is
 * done. With V8's default young generation (semi-spaces starting at 1 MiB) each is copied by
 * a dozen scavenges before promotion: ~100 ms of GC per kernel. Semi-spaces of
 * BTFKIT_SEMI_SPACE_MB (default 32) from the start cut that to a few collections. Isolates read
 * these flags when they are created, so setting them here configures the workers only; the
 * main thread keeps its heap.
 *
 * --expose-gc is set beside them for the same while: a worker's context made meanwhile has
 * gc() (worker.ts forces a collection past a memory budget with it). The flags are put back
 * to V8's defaults (0: sized by V8) once every worker is online (its context made), and at
 * the latest when the pool ends (restoreFlags): V8 stamps a
 * code cache with a hash of its flags, and the bundle's cache, written when this process ends
 * (packages/core/bin/run-bundle.cjs), was otherwise refused by the next run and written again
 * on every batch run with workers.
 */
function startWorkers(n: number, init: WorkerInit): Worker[] {
  const mb = Number(process.env.BTFKIT_SEMI_SPACE_MB ?? 32);
  if (mb > 0) setSemiSpaces(mb);
  // Here, not in each worker: two workers setting and clearing this process-wide flag around
  // their own context raced, and one of them was left without gc() (exit 70, about 1 run in 3).
  setFlagsFromString('--expose-gc');
  const workers: Worker[] = [];
  for (let w = 0; w < n; w++) workers.push(startModuleWorker(import.meta.url, 'worker', init));
  let starting = n;
  for (const w of workers)
    w.once('online', () => {
      if (--starting === 0) restoreFlags();
    });
  return workers;
}

/** V8's own values of the flags the pool and its workers set. */
function restoreFlags(): void {
  setSemiSpaces(0);
  setFlagsFromString('--no-expose-gc');
}

function setSemiSpaces(mb: number): void {
  setFlagsFromString(`--max-semi-space-size=${mb}`);
  setFlagsFromString(`--min-semi-space-size=${mb}`);
}

export async function runPool(
  opts: BatchOptions,
  todo: number[],
  finish: (i: number, r: JobResult) => void,
): Promise<void> {
  // Most of a kernel's CPU time is xz(1) inflating it (~55-75 ms against ~20 ms of decode +
  // relocate + emit once warm), so half the cores in workers, with KERNELS_AHEAD kernels
  // inflating in xz(1) children beside them, fill all the cores. The main thread reads the
  // archives, starts their xz(1) children (worker.ts says why not the workers) and hands each
  // inflated kernel to an idle worker, its buffer transferred; with one runner (2-3 cores,
  // --jobs 1) it minimizes them itself.
  const cores = availableParallelism();
  const n = Math.max(1, Math.min(opts.jobs ?? Math.floor(cores / 2), todo.length));
  // Kernels held at once (inflating, waiting for a worker, or being minimized): memory stays
  // that of `limit` kernels whatever the batch size.
  const limit = n + KERNELS_AHEAD;
  const init: WorkerInit = {
    objects: opts.objects.map((o) => ({ file: o.file, bytes: o.bytes })),
    bpftoolCompat: opts.bpftoolCompat === true,
    libbpf: opts.libbpf,
  };
  const workers: Worker[] = [];
  /** Something that minimizes one task at a time and reports through `result`. */
  type Runner = { post(task: KernelTask): void };
  const idle: Runner[] = [];
  /**
   * Kernels taken, in batch order, until a worker has them: handed out in that order even
   * when a later archive inflates first, so one worker reports kernels in the order given.
   */
  const taken: { index: number; task?: KernelTask; failure?: JobResult }[] = [];
  let nextJob = 0;
  let held = 0;
  let fatal: unknown;
  let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** No kernel is started or handed out any more; the batch rejects. */
  const stop = (e: unknown) => {
    fatal ??= e;
    settle?.reject(fatal);
  };
  /** Inflated bytes held, admitted against one budget (kernel-budget.ts), by kernel index. */
  const budget = new KernelBudget();
  const footprints = new Map<number, number>();
  const done = (i: number, res: JobResult) => {
    held--;
    budget.give(footprints.get(i) ?? 0);
    try {
      if (!res.ok && res.internal) throw new Error(res.error);
      finish(i, res);
    } catch (e) {
      stop(e);
    }
  };
  const pump = () => {
    if (fatal !== undefined) return;
    for (let head = taken[0]; head !== undefined; head = taken[0]) {
      if (head.failure !== undefined) {
        taken.shift();
        done(head.index, head.failure);
        if (fatal !== undefined) return;
        continue;
      }
      const w = head.task === undefined ? undefined : idle.shift();
      if (w === undefined || head.task === undefined) break;
      taken.shift();
      w.post(head.task);
    }
    while (held < limit && nextJob < todo.length) {
      const index = todo[nextJob] as number;
      const k = opts.kernels[index] as BatchKernel;
      let footprint = footprints.get(index);
      if (footprint === undefined) {
        footprint = kernelFootprint(k.path);
        footprints.set(index, footprint);
      }
      // Over budget: wait until a kernel held now is done (pump runs again then).
      if (!budget.fits(footprint)) break;
      budget.take(footprint);
      nextJob++;
      const timings = noTimings();
      held++;
      const slot: (typeof taken)[number] = { index };
      taken.push(slot);
      // One runner is this thread: its kernels can lie in BTF arenas (a worker's must be transferable).
      fetchKernel(k.path, timings, n === 1).then(
        (fetched) => {
          slot.task = { index, release: k.release, fetched, timings };
          pump();
        },
        (e: unknown) => {
          // An unreadable or corrupt archive is that kernel's failure, not the batch's.
          if (e instanceof BtfkitError)
            slot.failure = { index, ok: false, error: e.message, internal: false };
          else stop(e);
          pump();
        },
      );
    }
    if (held === 0 && nextJob >= todo.length) settle?.resolve();
  };
  const onAbort = () => stop(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
      /**
       * Workers for the whole batch. (They used to be replaced every 8 kernels because the
       * in-process xz binding kept memory per call; archives are now inflated by xz(1) in a
       * child process, and peak RSS stays flat over 1, 7 and 28 kernels:
       * bench/minimize.bench.ts.) A worker takes tasks while it is still starting: they
       * wait in its port.
       */
      const result = (runner: Runner, res: JobResult) => {
        idle.push(runner);
        done(res.index, res);
        pump();
      };
      for (const worker of n > 1 ? startWorkers(n, init) : []) {
        workers.push(worker);
        const runner: Runner = {
          post: (task) => worker.postMessage(task, [task.fetched.bytes.buffer as ArrayBuffer]),
        };
        idle.push(runner);
        worker.on('message', (res: JobResult) => result(runner, res));
        worker.on('error', stop);
        worker.on('exit', (code) => stop(new Error(`minimize worker exited early with code ${code}`)));
      }
      // The first archives start inflating while the objects are parsed here (and in the
      // workers as they boot). This parse is also the batch's check of the objects: a bad
      // one rejects the batch now, before any result can arrive and be written.
      pump();
      const objects = parseObjects(init.objects);
      if (n === 1) {
        // One runner: this thread minimizes, between its xz(1) children's completions, and
        // skips a worker's start-up and its second parse of the objects (~100-200 ms of
        // CPU on 2 cores). xz(1) writes into files, so it runs on while this thread works.
        const inline: Runner = {
          post: (task) =>
            setImmediate(() => {
              if (fatal === undefined)
                result(inline, minimizeKernelTask(task, objects, init.bpftoolCompat, init.libbpf));
            }),
        };
        idle.push(inline);
        pump();
      }
    });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    for (const w of workers) w.removeAllListeners('exit');
    await Promise.all(workers.map((w) => w.terminate()));
    if (workers.length > 0) restoreFlags();
  }
}

/**
 * Kernels being read and inflated beyond those being minimized (see runPool). 1 to 4 ahead
 * measured alike with one runner on 2 cores (0.60-0.64 s for the 7 corpus archives);
 * BTFKIT_KERNELS_AHEAD (a whole number >= 0) overrides it for such measurements.
 */
export const KERNELS_AHEAD = (() => {
  const n = Number(process.env.BTFKIT_KERNELS_AHEAD ?? 2);
  return Number.isInteger(n) && n >= 0 ? n : 2;
})();
