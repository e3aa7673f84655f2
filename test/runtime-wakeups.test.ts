// No lost wakeups: a chain where each event is triggered only once the previous one arrived.
// A consumer that misses the wakeup of a sample written while it re-arms stalls the chain (the
// next exec is never started), so the chain reaching its end is the proof. Run for the perf
// buffer and the ring buffer, each consumer alone on its map, from an iterator started before
// the first event (the first sample then comes while the consumer is idle).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/runtime');
const LINKS = 50;

interface ExecEvent {
  pid: number;
  ppid: number;
}

let obj: LoadedObject;
beforeAll(async () => {
  obj = await loadObject(new Uint8Array(readFileSync(join(FIXTURES, 'exectrace.bpf.o'))), {
    file: 'exectrace.bpf.o',
    programs: ['handle_exec'],
    globals: { rodata: { target_ppid: process.pid, use_perf: true } },
  });
  await obj.attach();
});
afterAll(async () => obj?.close());

function exec(): number {
  const child = spawn('/bin/true', [], { stdio: 'ignore' });
  return child.pid as number;
}

/** Runs the chain over `events`: resolves to the pids seen, in order, or stops after `ms` idle. */
async function chain(
  events: AsyncIterable<ExecEvent>,
  ms: number,
  stop: () => void,
): Promise<{ started: number[]; seen: number[] }> {
  const started: number[] = [];
  const seen: number[] = [];
  const it = events[Symbol.asyncIterator]();
  // The iterator is started (and waiting) before the first exec happens.
  let next = it.next();
  await new Promise((r) => setTimeout(r, 50));
  started.push(exec());
  while (seen.length < LINKS) {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      next,
      new Promise<'stalled'>((res) => {
        timer = setTimeout(() => res('stalled'), ms);
      }),
    ]);
    clearTimeout(timer);
    if (r === 'stalled' || r.done) break;
    // Events of other links' leftovers (the ring also holds the perf test's execs) are skipped.
    if (!started.includes(r.value.pid) || seen.includes(r.value.pid)) {
      next = it.next();
      continue;
    }
    seen.push(r.value.pid);
    if (seen.length < LINKS) started.push(exec()); // the next link, only now
    next = it.next();
  }
  stop(); // ends a stalled iterator's pending next() too
  await it.return?.();
  return { started, seen };
}

it('perf buffer: every link of a 50-exec chain arrives', async () => {
  const pb = obj.perfbuf<ExecEvent>('events_perf', { type: 'event' });
  const events = (async function* () {
    for await (const ev of pb) if ('data' in ev) yield ev.data;
  })();
  const { started, seen } = await chain(events, 5000, () => pb.close());
  expect(seen).toEqual(started);
  expect(seen).toHaveLength(LINKS);
});

it('ring buffer: every link of a 50-exec chain arrives', async () => {
  const rb = obj.ringbuf<ExecEvent>('events', { type: 'event' });
  const { started, seen } = await chain(rb, 5000, () => rb.close());
  expect(seen).toEqual(started);
  expect(seen).toHaveLength(LINKS);
});

it('perf buffer: a fresh consumer waiting first gets the one event that follows (5 rounds)', async () => {
  for (let round = 0; round < 5; round++) {
    const pb = obj.perfbuf<ExecEvent>('events_perf', { type: 'event' });
    const it = pb[Symbol.asyncIterator]();
    const next = it.next();
    await new Promise((r) => setTimeout(r, 20));
    const pid = exec();
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      next,
      new Promise<'nothing'>((res) => {
        timer = setTimeout(() => res('nothing'), 3000);
      }),
    ]);
    clearTimeout(timer);
    pb.close();
    await it.return?.();
    expect(r === 'nothing' ? r : (r.value as { data: ExecEvent }).data.pid).toBe(pid);
  }
});
