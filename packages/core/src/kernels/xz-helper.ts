import { type ChildProcess, spawn } from 'node:child_process';
import { close, fstatSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { type Allocate, readFromStart, unlinkedTempFile } from './temp-file.ts';

/**
 * xz(1) runs started by one long-lived /bin/sh instead of by this process.
 *
 * Why: spawning copies this process's page tables, and with a batch's kernels in memory
 * (~100 MB) each spawn held the thread 15-25 ms, 7 spawns a tenth of a 7-kernel batch; the
 * shell is a few hundred KB and forks xz(1) in well under a millisecond. And xz(1) reads its
 * input from a file, not from a pipe fed by this thread's event loop: a thread busy
 * minimizing one kernel for 30 ms used to leave the next kernels' xz(1) waiting on a full
 * 64 KiB pipe.
 *
 * Each job is two unlinked temp files (input: the archive bytes already checked by the
 * caller; output: what xz writes), named to the shell as /proc/<our pid>/fd/<fd>, so nothing
 * is left on disk whatever happens to either process. `ulimit -f` bounds the output at the
 * size the chunk headers declared (plus a block): a file swapped for a bomb after the check
 * fails with SIGXFSZ instead of filling the disk. Any failure resolves to `undefined` and the
 * caller runs xz(1) directly, which words the error; failures are rare, so they need not be
 * fast.
 */

interface Helper {
  child: ChildProcess;
  pending: Map<number, (status: number) => void>;
}

let helper: Helper | undefined;
let nextJob = 0;

/**
 * xz(1) runs at once: one per core. More only share the cores with each other and with
 * this thread, and make every kernel arrive later; callers may queue as many as they like.
 */
const MAX_RUNNING = availableParallelism();
let running = 0;
const queued: (() => void)[] = [];

/**
 * A running slot: taken at once when one is free (no await, so a caller that goes on with
 * synchronous work has its xz(1) running meanwhile), else when one frees up.
 */
function slot(): (() => void) | Promise<() => void> {
  const take = () => {
    running++;
    return () => {
      running--;
      queued.shift()?.();
    };
  };
  if (running < MAX_RUNNING) return take();
  return new Promise((resolve) => queued.push(() => resolve(take())));
}

/** Keeps the event loop alive only while jobs are out, so an idle helper never holds the process. */
function setRef(h: Helper): void {
  const on = h.pending.size > 0;
  for (const handle of [h.child, h.child.stdin, h.child.stdout] as ({
    ref(): void;
    unref(): void;
  } | null)[]) {
    if (on) handle?.ref();
    else handle?.unref();
  }
}

function endAll(h: Helper): void {
  if (helper === h) helper = undefined;
  for (const settle of h.pending.values()) settle(-1);
  h.pending.clear();
}

function startHelper(): Helper {
  const child = spawn('/bin/sh', [], {
    stdio: ['pipe', 'pipe', 'ignore'],
    // xz's messages are never parsed here, but its locale must not matter either.
    env: { ...process.env, LC_ALL: 'C' },
  });
  const h: Helper = { child, pending: new Map() };
  let partial = '';
  child.stdout?.setEncoding('latin1');
  child.stdout?.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const [id, status] = line.split(' ').map(Number);
      const settle = h.pending.get(id as number);
      if (settle === undefined) continue;
      h.pending.delete(id as number);
      settle(Number.isInteger(status) ? (status as number) : -1);
    }
    setRef(h);
  });
  child.stdin?.on('error', () => endAll(h));
  child.on('error', () => endAll(h));
  child.on('exit', () => endAll(h));
  // When this process is about to exit on its own, the shell is told to wait for its jobs and
  // leave, and is reaped: its CPU time and its xz(1) children's then count among this
  // process's children (what time(1) and benchmarks report), and nothing outlives us.
  process.once('beforeExit', () => {
    if (helper !== h) return;
    helper = undefined;
    h.child.ref();
    h.child.stdin?.end('wait\n');
  });
  return h;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let n = 0; n < bytes.length; ) n += writeSync(fd, bytes, n, bytes.length - n, n);
}

/**
 * Inflates `bytes` (an xz stream declaring `size` bytes of output) with xz(1) run by the
 * helper shell. `undefined` when that did not work (no shell, no xz, bad input, more output
 * than declared): the caller then tries the direct way, which reports why.
 */
export async function xzByHelper(
  bytes: Uint8Array,
  size: number,
  allocate?: Allocate,
): Promise<Uint8Array | undefined> {
  let input: number | undefined;
  let output: number | undefined;
  const free = slot();
  const release = typeof free === 'function' ? free : await free;
  try {
    input = unlinkedTempFile();
    output = unlinkedTempFile();
    writeAll(input, bytes);
    helper ??= startHelper();
    const h = helper;
    const id = nextJob++;
    const status = await new Promise<number>((resolve) => {
      h.pending.set(id, resolve);
      setRef(h);
      const fd = `/proc/${process.pid}/fd`;
      // dash counts ulimit -f in 512-byte blocks (bash in 1 KiB ones: the bound only doubles).
      const blocks = Math.ceil(size / 512) + 1;
      h.child.stdin?.write(
        `{ (ulimit -f ${blocks} && exec xz -dc <${fd}/${input} >${fd}/${output} 2>/dev/null); echo "${id} $?"; } &\n`,
      );
    });
    if (status !== 0) return undefined;
    const got = fstatSync(output).size;
    if (got !== size) return undefined;
    return readFromStart(output, got, allocate);
  } catch {
    return undefined;
  } finally {
    release();
    // Closed off this thread: the last close of an unlinked file frees its pages, ~5-10 ms
    // for a kernel's 5 MB that the batch would otherwise wait for.
    if (input !== undefined) close(input, () => {});
    if (output !== undefined) close(output, () => {});
  }
}
