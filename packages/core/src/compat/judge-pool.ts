import { BtfkitError, errors, type ThreadError, threadError } from '../errors/index.ts';
import { startModuleWorker } from '../io/worker-thread.ts';
import type { CompatOptions, KernelDecisions } from './analyze.ts';
import type { CompatCell, CompatObjectInfo } from './model.ts';

/**
 * Judging in a thread of its own (compat-worker.ts), so that the CLI's thread reads, decodes
 * and relocates the next kernel meanwhile. A compat run is mostly these two halves in turn:
 * relocating every object against a kernel, and walking the relocated code of the programs
 * with poisoned instructions (compat/reach.ts, cold code for most of a run); in one thread
 * each kernel waited for both. The judging thread keeps one analysis of the objects, so the
 * walks it memoizes serve every kernel as before, and sends back plain cells.
 */

/** What the judging thread starts from (structured-clone friendly). */
export interface JudgeInit {
  objects: { file: string; bytes: Uint8Array }[];
  rodata: CompatOptions['rodata'];
}

/** Messages from the judging thread. */
export type JudgeReply =
  | { kind: 'objects'; objects: CompatObjectInfo[] }
  | { kind: 'cells'; index: number; cells: CompatCell[][] }
  | { kind: 'failed'; btfkit?: ThreadError; internal?: string };

export interface JudgeThread {
  /**
   * The objects as the result lists them, once the thread has decoded their code; rejects
   * with the error of an object compat cannot read (the CLI reports that one first).
   */
  objects: Promise<CompatObjectInfo[]>;
  /** Every object's cells on the kernel of `decided` (CompatAnalysis.judge, over there). */
  judge(decided: KernelDecisions): Promise<CompatCell[][]>;
  close(): Promise<void>;
}

export function startJudgeThread(init: JudgeInit): JudgeThread {
  const worker = startModuleWorker(import.meta.url, 'compat-worker', init);
  const waiting = new Map<number, { resolve: (c: CompatCell[][]) => void; reject: (e: unknown) => void }>();
  let failure: unknown;
  let objectsReady!: { resolve: (o: CompatObjectInfo[]) => void; reject: (e: unknown) => void };
  const objects = new Promise<CompatObjectInfo[]>((resolve, reject) => {
    objectsReady = { resolve, reject };
  });
  // Awaited by the caller when it gets that far; a failure before then is not "unhandled".
  objects.catch(() => {});
  const fail = (e: unknown) => {
    failure ??= e;
    objectsReady.reject(failure);
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
  };
  worker.on('message', (m: JudgeReply) => {
    if (m.kind === 'objects') objectsReady.resolve(m.objects);
    else if (m.kind === 'cells') {
      waiting.get(m.index)?.resolve(m.cells);
      waiting.delete(m.index);
    } else fail(m.btfkit ? errors.fromThread(m.btfkit) : new Error(`compat judging thread: ${m.internal}`));
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`compat judging thread exited early with code ${code}`)));
  return {
    objects,
    judge(decided) {
      if (failure !== undefined) return Promise.reject(failure);
      const cells = new Promise<CompatCell[][]>((resolve, reject) => {
        waiting.set(decided.index, { resolve, reject });
      });
      cells.catch(() => {});
      worker.postMessage(decided);
      return cells;
    },
    async close() {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}

/** An error of the judging thread as a reply: a BtfkitError keeps its code, file and offset. */
export function failedReply(e: unknown): JudgeReply {
  if (e instanceof BtfkitError) return { kind: 'failed', btfkit: threadError(e) };
  return { kind: 'failed', internal: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}
