import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { BtfkitError } from '../errors/index.ts';
import { minimizeFetched, parseObjects } from './kernel-job.ts';
import { type FetchedKernel, fetchKernel } from './kernel-read.ts';
import type { JobRequest, JobResult, Timings, WorkerDone, WorkerInit } from './protocol.ts';

/**
 * One batch worker: parses the objects once, then takes kernels from the shared queue until
 * it is empty, and for each sends back the minimized bytes, their hash and the report.
 * Two kernels overlap: while this thread decodes, relocates and emits one, the next one is
 * already being read and inflated by xz(1) in a child process. So at most two kernels are
 * held at a time, and memory does not grow with the kernel count.
 */
const init = workerData as WorkerInit;
const collectGarbage = exposeGc();
const objects = parseObjects(init.objects);
const next = new Int32Array(init.next);
const port = parentPort;
if (port === null) throw new Error('minimize worker started outside worker_threads');

interface Pending {
  job: JobRequest;
  timings: Timings;
  /** Never rejects: a kernel that cannot be read or inflated is that kernel's failure. */
  fetched: Promise<FetchedKernel | { error: unknown }>;
}

function take(): Pending | undefined {
  const job = init.jobs[Atomics.add(next, 0, 1)];
  if (job === undefined) return undefined;
  const timings: Timings = { read: 0, decompress: 0, decode: 0, relocate: 0, emit: 0 };
  const fetched = fetchKernel(job.path, timings).catch((error: unknown) => ({ error }));
  return { job, timings, fetched };
}

function failure(index: number, e: unknown): JobResult {
  const message =
    e instanceof BtfkitError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
  return { index, ok: false, error: message, internal: !(e instanceof BtfkitError) };
}

async function run(): Promise<void> {
  // Kernels taken and being read + inflated, oldest first: `init.ahead` beyond the current one.
  const queue: Pending[] = [];
  const fill = (n: number) => {
    while (queue.length < n) {
      const p = take();
      if (p === undefined) return;
      queue.push(p);
    }
  };
  fill(1);
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    const { job, timings } = p;
    const fetched = await p.fetched;
    // Take the next kernels before working on this one, so xz(1) inflates them meanwhile.
    fill(init.ahead);
    let res: JobResult;
    if ('error' in fetched) res = failure(job.index, fetched.error);
    else {
      try {
        const out = minimizeFetched(
          fetched,
          objects,
          { bpftoolCompat: init.bpftoolCompat, release: job.release },
          timings,
        );
        res = {
          index: job.index,
          ok: true,
          bytes: out.bytes,
          sha256: createHash('sha256').update(out.bytes).digest('hex'),
          unsatisfied: out.unsatisfied,
          timings: out.timings,
        };
      } catch (e) {
        res = failure(job.index, e);
      }
    }
    (port as NonNullable<typeof port>).postMessage(res, res.ok ? [res.bytes.buffer as ArrayBuffer] : []);
    // The kernel just done is garbage now. Collect it before the next one is decoded, so the
    // process's peak memory is that of about one kernel per worker, whatever the number of
    // kernels (left to itself, V8 lets the heap grow across several kernels before a full GC).
    collectGarbage?.();
  }
  const done: WorkerDone = { done: true };
  (port as NonNullable<typeof port>).postMessage(done);
}

await run();

/** V8's gc() for this isolate: exposed by flag, then fetched from a fresh context. */
function exposeGc(): (() => void) | undefined {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  return typeof gc === 'function' ? (gc as () => void) : undefined;
}
