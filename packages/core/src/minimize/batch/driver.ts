import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { nowMs } from '../clock.ts';
import { writeFileAtomicAsync } from '../files.ts';
import { lockOutDir } from '../out-lock.ts';
import type { JobResult } from '../protocol.ts';
import { addTimings, noTimings } from '../timings.ts';
import { runPool } from './pool.ts';
import {
  fileHash,
  inputsKey,
  linked,
  pruneStore,
  publishTree,
  removeOutput,
  resumable,
  type Stamp,
  stampPath,
  storePath,
  sweepStaleTemps,
  treePath,
  withdraw,
  writeManifest,
} from './store.ts';
import type { BatchKernel, BatchOptions, BatchResult, KernelOutcome } from './types.ts';

/**
 * Batch minimization of many kernels (a btfhub-archive tree, say) for one set of objects.
 *
 * Output layout under OUT (also described in manifest.json's `layout`):
 *   btf/<sha256[0..16]>.btf                      one file per distinct minimized BTF
 *   <distro>/<version>/<arch>/<release>.btf      btfhub's tree; hard links into btf/
 *   manifest.json                                every kernel → its file, hash, report
 *   .stamps/<distro>/<version>/<arch>/<release>.json   input hashes, for resuming
 * Every file is written atomically; a kernel is done once its stamp exists, so an
 * interrupted run resumes with the kernels that have no valid stamp.
 *
 * All or nothing, as a result: while the batch runs, only the content store (btf/) and the
 * stamps grow; they are the resume cache. The tree and manifest.json are published at the
 * end, and only when every kernel succeeded: the old manifest is withdrawn before the first
 * tree link changes, the new one written last (it is the commit point a consumer reads), so a
 * manifest on disk always matches the files it names, even after a kill in between. A batch with a failed or interrupted kernel publishes
 * nothing and withdraws an earlier run's manifest and tree links for its kernels, so OUT
 * never shows a half set; what it finished stays in the store, and a re-run resumes from it.
 */

export async function minimizeKernels(opts: BatchOptions): Promise<BatchResult> {
  const start = nowMs();
  const { outDir } = opts;
  const inputs = inputsKey(opts);
  opts.signal?.throwIfAborted();
  const lock = lockOutDir(outDir);
  try {
    return await runBatch(opts, start, inputs);
  } finally {
    lock.release();
  }
}

async function runBatch(opts: BatchOptions, start: number, inputs: string): Promise<BatchResult> {
  const { outDir, kernels } = opts;
  // A run killed outright (SIGKILL, power loss) can leave a temp file behind; never an output.
  sweepStaleTemps(outDir);
  const outcomes: (KernelOutcome | undefined)[] = new Array(kernels.length);
  const todo: number[] = [];
  let done = 0;
  const progress = (o: KernelOutcome) => {
    done++;
    opts.onProgress?.(done, kernels.length, o);
  };

  kernels.forEach((k, i) => {
    const stamp = resumable(outDir, k, inputs);
    if (stamp === undefined) {
      todo.push(i);
      return;
    }
    const o: KernelOutcome = {
      kernel: k,
      status: 'resumed',
      file: storePath(stamp.sha256),
      sha256: stamp.sha256,
      size: stamp.size,
      unsatisfied: stamp.unsatisfied,
    };
    outcomes[i] = o;
    progress(o);
  });

  const totals = noTimings();
  /**
   * Each kernel's store file and then its stamp, flushing in the thread pool while the next
   * kernels are minimized; all settle before the tree and manifest are published. A stamp
   * is renamed into place only after its store file is, so a resumed run never trusts a
   * stamp whose file is missing. Store writes in flight are shared by identical results.
   */
  const writes: Promise<void>[] = [];
  const storing = new Map<string, Promise<void>>();
  /**
   * The first write that failed (a full or read-only file system): every write is handled as
   * it is started, so a failure is never an unhandled rejection while the pool runs; the next
   * kernel to finish stops the batch with it.
   */
  let writeFailure: unknown;
  const track = (w: Promise<void>) => {
    writes.push(w);
    w.catch((e: unknown) => {
      writeFailure ??= e;
    });
  };
  const finish = (i: number, res: JobResult) => {
    if (writeFailure !== undefined) throw writeFailure;
    const k = kernels[i] as BatchKernel;
    let o: KernelOutcome;
    if (res.ok && opts.strict === true && res.unsatisfied.length > 0) {
      removeOutput(join(outDir, treePath(k)));
      removeOutput(stampPath(outDir, k));
      o = {
        kernel: k,
        status: 'failed',
        unsatisfied: res.unsatisfied,
        error: `${k.path}: --strict: not written, ${res.unsatisfied.length} relocation(s) not satisfied`,
      };
    } else if (res.ok) {
      const file = storePath(res.sha256);
      const store = join(outDir, file);
      let stored = storing.get(store);
      if (stored === undefined) {
        stored =
          existsSync(store) && statSync(store).size === res.bytes.length
            ? Promise.resolve()
            : writeFileAtomicAsync(store, res.bytes);
        storing.set(store, stored);
      }
      const st = statSync(k.path);
      const stamp: Stamp = {
        kernel: { size: st.size, mtimeMs: st.mtimeMs, sha256: fileHash(k.path) },
        inputs,
        sha256: res.sha256,
        size: res.bytes.length,
        unsatisfied: res.unsatisfied,
      };
      const stampBytes = new TextEncoder().encode(`${JSON.stringify(stamp)}\n`);
      track(stored.then(() => writeFileAtomicAsync(stampPath(outDir, k), stampBytes)));
      addTimings(totals, res.timings);
      o = {
        kernel: k,
        status: 'written',
        file,
        sha256: res.sha256,
        size: res.bytes.length,
        unsatisfied: res.unsatisfied,
        timings: res.timings,
      };
    } else {
      // A kernel that cannot be minimized leaves no output of its own behind.
      removeOutput(join(outDir, treePath(k)));
      removeOutput(stampPath(outDir, k));
      o = { kernel: k, status: 'failed', unsatisfied: [], error: res.error };
    }
    outcomes[i] = o;
    progress(o);
  };

  try {
    if (todo.length > 0) await runPool(opts, todo, finish);
  } finally {
    // Interrupted or not, no write is left half done: each is renamed into place or removed.
    await Promise.allSettled(writes);
  }
  for (const w of await Promise.allSettled(writes)) if (w.status === 'rejected') throw w.reason;

  const all = outcomes as KernelOutcome[];
  if (all.every((o) => o.status !== 'failed')) {
    // A reader must never find a manifest naming files that do not match it: withdraw it
    // before the first tree link changes (nothing to withdraw when every link is in place).
    const relink = all.filter((o) => !linked(outDir, o));
    if (relink.length > 0) removeOutput(join(outDir, 'manifest.json'));
    publishTree(outDir, relink);
    writeManifest(outDir, all);
    pruneStore(outDir, all);
  } else {
    withdraw(outDir, all);
  }
  const distinct = new Set(all.filter((o) => o.sha256).map((o) => o.sha256)).size;
  return { outcomes: all, distinctFiles: distinct, timings: totals, wallMs: nowMs() - start };
}
