import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { minimizeKernelTask } from '../kernel-task.ts';
import { parseObjects } from '../objects.ts';
import type { KernelTask, WorkerInit } from '../protocol.ts';

/**
 * One batch worker: parses the objects once, then minimizes each kernel the main thread
 * hands it (already read and inflated there) and sends back the minimized bytes, their hash
 * and the report. Reading and inflating stay on the main thread on purpose: xz(1) writes
 * into a pipe that only an event loop drains, and this thread's loop is blocked for the
 * ~20-70 ms a kernel takes to minimize, which used to stall the xz(1) children of the next
 * kernels at a full 64 KiB pipe (measured: fetches took ~190 ms instead of ~70 ms).
 */
const init = workerData as WorkerInit;
// V8's gc() of this isolate: the pool starts its workers with --expose-gc set until each is
// online (pool.ts startWorkers), and V8 gives a context made meanwhile its gc().
const collectGarbage = typeof globalThis.gc === 'function' ? globalThis.gc : undefined;
const objects = parseObjects(init.objects);
const port = parentPort;
if (port === null) throw new Error('minimize worker started outside worker_threads');

/** Heap + external bytes of this isolate beyond which a finished kernel is collected at once. */
const GC_BUDGET = 96 * 2 ** 20;

port.on('message', (task: KernelTask) => {
  const res = minimizeKernelTask(task, objects, init.bpftoolCompat, init.libbpf);
  port.postMessage(res, res.ok ? [res.bytes.buffer as ArrayBuffer] : []);
  // The kernel just done is garbage now. V8 left to itself keeps this isolate at ~12-60 MiB
  // of heap + external memory over the corpus kernels (a full collection every ~4 kernels;
  // process RSS levels off near 250 MiB over 28 and 56 kernels). A forced gc() after every
  // kernel held RSS ~50 MiB lower but cost ~25 ms of this thread per kernel, which is the
  // batch's critical path (1.5 s CPU over 56 kernels). So it is forced only past a budget,
  // which bounds memory whatever the kernels' number or size.
  const heap = getHeapStatistics();
  if (heap.used_heap_size + heap.external_memory > GC_BUDGET) collectGarbage?.();
});
