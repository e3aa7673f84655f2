import { parentPort, workerData } from 'node:worker_threads';
import { parseBpfObject } from '../elf/object.ts';
import { CompatAnalysis, type KernelDecisions } from './analyze.ts';
import { failedReply, type JudgeInit, type JudgeReply } from './judge-pool.ts';

/**
 * The judging thread of `btfkit compat` (judge-pool.ts): decodes the objects' code once,
 * reports the objects as the result lists them, then judges each kernel's decisions as they
 * come, in order, and sends back the cells. The first failure is reported and ends the work:
 * the CLI stops there.
 */
const init = workerData as JudgeInit;
const port = parentPort;
if (port === null) throw new Error('compat worker started outside worker_threads');
const send = (m: JudgeReply) => port.postMessage(m);

let analysis: CompatAnalysis | undefined;
try {
  const objects = init.objects.map(({ file, bytes }) => parseBpfObject(bytes, file));
  analysis = new CompatAnalysis(objects, { rodata: init.rodata });
  send({ kind: 'objects', objects: analysis.objectInfo() });
} catch (e) {
  send(failedReply(e));
}

port.on('message', (decided: KernelDecisions) => {
  if (analysis === undefined) return;
  try {
    send({ kind: 'cells', index: decided.index, cells: analysis.judge(decided) });
  } catch (e) {
    analysis = undefined;
    send(failedReply(e));
  }
});
