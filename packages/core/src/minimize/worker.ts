import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { BtfkitError } from '../errors/index.ts';
import { minimizeKernelFile, parseObjects } from './kernel-job.ts';
import type { JobRequest, JobResult, WorkerInit } from './protocol.ts';

/**
 * One batch worker: parses the objects once, then minimizes one kernel per request
 * (read + decompress + decode + relocate + emit) and sends back the bytes, their hash and
 * the report. Holds one kernel at a time, so memory does not grow with the kernel count.
 */
const init = workerData as WorkerInit;
const collectGarbage = exposeGc();
const objects = parseObjects(init.objects);
const port = parentPort;
if (port === null) throw new Error('minimize worker started outside worker_threads');

port.on('message', (req: JobRequest) => {
  let res: JobResult;
  try {
    const out = minimizeKernelFile(req.path, objects, {
      bpftoolCompat: init.bpftoolCompat,
      release: req.release,
    });
    res = {
      index: req.index,
      ok: true,
      bytes: out.bytes,
      sha256: createHash('sha256').update(out.bytes).digest('hex'),
      unsatisfied: out.unsatisfied,
      timings: out.timings,
    };
  } catch (e) {
    const message =
      e instanceof BtfkitError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    res = { index: req.index, ok: false, error: message, internal: !(e instanceof BtfkitError) };
  }
  port.postMessage(res, res.ok ? [res.bytes.buffer as ArrayBuffer] : []);
  // The kernel just done is garbage now. Collect it before the next one is read, so the
  // process's peak memory is that of one kernel per worker, whatever the number of kernels
  // (left to itself, V8 lets the heap grow across several kernels before a full collection).
  collectGarbage?.();
});

/** V8's gc() for this isolate: exposed by flag, then fetched from a fresh context. */
function exposeGc(): (() => void) | undefined {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  return typeof gc === 'function' ? (gc as () => void) : undefined;
}
