import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { DEFAULT_LIBBPF, type LibbpfVersion } from '../core/profile.ts';
import { BtfkitError, errors } from '../errors/index.ts';
import { nowMs } from './clock.ts';
import { linkAtomic, writeFileAtomic, writeFileAtomicAsync } from './files.ts';
import { KernelBudget, kernelFootprint } from './kernel-budget.ts';
import { parseObjects } from './kernel-job.ts';
import { fetchKernel } from './kernel-read.ts';
import { minimizeKernelTask } from './kernel-task.ts';
import type { Unsatisfied } from './minimize.ts';
import { alive, lockOutDir } from './out-lock.ts';
import type { JobResult, KernelTask, Timings, WorkerInit } from './protocol.ts';

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

/** The btfhub-style directory of a kernel (empty for kernels from outside a btfhub tree). */
function treeDir(k: BatchKernel): string[] {
  return [k.distro, k.version, k.arch].filter((x): x is string => x !== undefined && x !== '');
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

interface Stamp {
  kernel: { size: number; mtimeMs: number; sha256: string };
  inputs: string;
  sha256: string;
  size: number;
  unsatisfied: Unsatisfied[];
}

const STAMP_DIR = '.stamps';
const STORE_DIR = 'btf';

export function treePath(k: BatchKernel): string {
  return join(...treeDir(k), `${k.release}.btf`);
}

function stampPath(outDir: string, k: BatchKernel): string {
  return join(outDir, STAMP_DIR, ...treeDir(k), `${k.release}.json`);
}

export function storePath(sha256: string): string {
  return join(STORE_DIR, `${sha256.slice(0, 16)}.btf`);
}

/** Hash of everything besides the kernel that decides the output. */
function inputsKey(opts: BatchOptions): string {
  const h = createHash('sha256');
  h.update(`btfkit-min-core-btf/1 compat=${opts.bpftoolCompat === true} strict=${opts.strict === true}\n`);
  // Stamps made with the default profile stay valid: only another profile is hashed in.
  if (opts.libbpf !== undefined && opts.libbpf !== DEFAULT_LIBBPF) h.update(`libbpf=${opts.libbpf}\n`);
  for (const o of opts.objects) h.update(createHash('sha256').update(o.bytes).digest('hex')).update('\n');
  return h.digest('hex');
}

/** One buffer for hashing kernel files: reading each whole would leave a few MiB of garbage per kernel. */
const HASH_CHUNK = new Uint8Array(1 << 20);

function fileHash(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, HASH_CHUNK); n > 0; n = readSync(fd, HASH_CHUNK))
      h.update(HASH_CHUNK.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** A kernel is done if its stamp matches the current inputs and its output is in place. */
function resumable(outDir: string, k: BatchKernel, inputs: string): Stamp | undefined {
  const sp = stampPath(outDir, k);
  if (!existsSync(sp)) return undefined;
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(sp, 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
  if (stamp.inputs !== inputs) return undefined;
  const st = statSync(k.path);
  if (st.size !== stamp.kernel.size) return undefined;
  if (st.mtimeMs !== stamp.kernel.mtimeMs && fileHash(k.path) !== stamp.kernel.sha256) return undefined;
  // The store file is the finished output; the tree link is (re)published at the end.
  const store = join(outDir, storePath(stamp.sha256));
  if (!existsSync(store) || statSync(store).size !== stamp.size) return undefined;
  return stamp;
}

/**
 * Decoding a kernel allocates ~100k type records that all stay alive until the kernel is
 * done. With V8's default young generation (semi-spaces starting at 1 MiB) each is copied by
 * a dozen scavenges before promotion: ~100 ms of GC per kernel. Semi-spaces of
 * BTFKIT_SEMI_SPACE_MB (default 32) from the start cut that to a few collections. Isolates read
 * these flags when they are created, so setting them here configures the workers only; the
 * main thread keeps its heap.
 */
function configureWorkerHeap(): void {
  const mb = Number(process.env.BTFKIT_SEMI_SPACE_MB ?? 32);
  if (!(mb > 0)) return;
  setFlagsFromString(`--max-semi-space-size=${mb}`);
  setFlagsFromString(`--min-semi-space-size=${mb}`);
}

function workerUrl(): URL {
  return new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
}

/**
 * Running from TypeScript sources (tsx, vitest), a worker cannot load worker.ts by itself:
 * it first registers tsx's loader, then imports the entry. Built JavaScript starts directly.
 */
function startWorker(init: WorkerInit): Worker {
  const url = workerUrl();
  configureWorkerHeap();
  const opts = { workerData: init };
  if (!url.pathname.endsWith('.ts')) return new Worker(url, opts);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}

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

  const totals: Timings = { read: 0, decompress: 0, decode: 0, relocate: 0, emit: 0 };
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
      for (const key of Object.keys(totals) as (keyof Timings)[]) totals[key] += res.timings[key];
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

async function runPool(
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
      const timings: Timings = { read: 0, decompress: 0, decode: 0, relocate: 0, emit: 0 };
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
      for (let w = 0; n > 1 && w < n; w++) {
        const worker = startWorker(init);
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

/** Temp files of writeFileAtomic/linkAtomic (`.<name>.<pid>.<hex>.tmp`) whose writer is gone. */
function sweepStaleTemps(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const m = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(e.name);
    if (m === null || !e.isFile() || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    rmSync(join(e.parentPath, e.name), { force: true });
  }
}

/** Whether a kernel's tree path is already a link to its store file. */
function linked(outDir: string, o: KernelOutcome): boolean {
  if (o.file === undefined) return true;
  const tree = join(outDir, treePath(o.kernel));
  if (!existsSync(tree)) return false;
  const a = statSync(tree);
  const b = statSync(join(outDir, o.file));
  return a.ino === b.ino && a.dev === b.dev;
}

/** Links each kernel's tree path to its store file. */
function publishTree(outDir: string, outcomes: readonly KernelOutcome[]): void {
  for (const o of outcomes) {
    if (o.file === undefined) continue;
    const store = join(outDir, o.file);
    linkAtomic(store, join(outDir, treePath(o.kernel)), readFileSync(store));
  }
}

/** Removes an output file (absent is fine); a file system that refuses is an IO error naming it. */
function removeOutput(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch (e) {
    throw errors.io(path, `cannot remove: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A failed batch: no manifest and no tree links, so no consumer takes an earlier or half set. */
function withdraw(outDir: string, outcomes: readonly KernelOutcome[]): void {
  removeOutput(join(outDir, 'manifest.json'));
  for (const o of outcomes) removeOutput(join(outDir, treePath(o.kernel)));
}

function writeManifest(outDir: string, outcomes: readonly KernelOutcome[]): void {
  const manifest = {
    format: 'btfkit-min-core-btf-manifest/1',
    layout: {
      store: `${STORE_DIR}/<sha256[0..16]>.btf`,
      tree: '<distro>/<version>/<arch>/<release>.btf (hard link to the store file)',
    },
    kernels: outcomes.map((o) => ({
      distro: o.kernel.distro,
      version: o.kernel.version,
      arch: o.kernel.arch,
      release: o.kernel.release,
      source: o.kernel.source ?? o.kernel.path,
      ...(o.sha256
        ? { file: o.file, path: treePath(o.kernel), sha256: o.sha256, size: o.size }
        : { error: o.error ?? 'failed' }),
      unsatisfied: o.unsatisfied.length,
    })),
  };
  writeFileAtomic(
    join(outDir, 'manifest.json'),
    new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
  );
}

/** Store files no kernel refers to any more (after inputs changed) are removed. */
function pruneStore(outDir: string, outcomes: readonly KernelOutcome[]): void {
  const dir = join(outDir, STORE_DIR);
  if (!existsSync(dir)) return;
  const live = new Set(outcomes.filter((o) => o.file).map((o) => o.file?.slice(STORE_DIR.length + 1)));
  for (const name of readdirSync(dir)) {
    if (/^[0-9a-f]{16}\.btf$/.test(name) && !live.has(name)) rmSync(join(dir, name), { force: true });
  }
}

export function checkOutDir(outDir: string): void {
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw errors.io(outDir, 'expected a directory for --out-dir');
}
