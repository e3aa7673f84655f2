/**
 * bench/runtime.bench.ts's JavaScript ring buffer consumers, in a process of their own that
 * runs the product as users run it: @btfkit/runtime's built dist/ under plain `node`. Under
 * tsx (what `pnpm bench` runs in) V8 checks every typed-array access for a detached buffer
 * for the whole process, because tsx's off-thread module hooks detach one: columns() drained
 * at 9.6-11.3 ns/event there against 8.0-8.3 from the built package, the same minutes. Plain
 * .mjs for the same reason (Node 20 runs no TypeScript); the bench builds the packages first
 * (bench/lib.ts builtPackages).
 *
 * The bench drives it over stdin/stdout, one JSON line per answer, so that its rounds take
 * turns with libbpf's and Go's harnesses as before:
 *   node bench/runtime-ring.mjs RINGBENCH_OBJECT CALLS
 *   -> {"cases":[[name, ref], ...]}          (loaded, attached, checked, warmed up)
 *   <- round K   -> [wall ms, events, CPU ms]  (one drained ring by consumer K)
 *   <- rss N     -> {"events","first","last","seconds"}  (N events as columnar batches)
 *   <- close     -> {"dropped","sink"}         (then it closes the object and exits)
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const { loadObject } = await import('@btfkit/runtime');
// koffi is the runtime's dependency, not the workspace root's: resolve it from there.
const koffi = createRequire(import.meta.resolve('@btfkit/runtime'))('koffi');
const getppid = koffi.load('libc.so.6').func('int getppid()');

const [ringObj, callsArg] = process.argv.slice(2);
const CALLS = Number(callsArg);
const want = CALLS * 64;

/**
 * Decoded samples land in these arrays, as the C side's land in `sink[]`: every field is read
 * and kept, so neither side's compiler can skip a field.
 */
const SINK = 256;
const sinkSeq = new Array(SINK).fill(0n);
const sinkTs = new Array(SINK).fill(0n);
const sinkComm = new Array(SINK).fill('');
let sinkNum = 0;
let sunk = 0;
function touch(s) {
  const j = sunk++ & (SINK - 1);
  sinkSeq[j] = s.seq;
  sinkTs[j] = s.ts;
  sinkComm[j] = s.comm;
  sinkNum += s.pid + s.index;
}

const obj = await loadObject(new Uint8Array(readFileSync(ringObj)), {
  file: ringObj,
  globals: { rodata: { target_pid: process.pid } },
});
await obj.attach();
const rb = obj.ringbuf('samples', { type: 'sample' });

/** Fills the ring (CALLS getppid(), 64 samples each), then times one drain by `how`. */
async function drainOnce(how) {
  for (let i = 0; i < CALLS; i++) getppid();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await how();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return [ms, n, (c.user + c.system) / 1e3];
}

// Columnar consumers: the batch's decode copies every field of every sample into its column
// (the reading); the loop then sums the 32-bit columns, as the C side's checksum.
function columnar(b) {
  const pid = b.columns.pid;
  const index = b.columns.index;
  let x = 0;
  for (let i = 0; i < b.length; i++) x += pid[i] + index[i];
  sinkNum += x;
}

/**
 * What the columns hold is what the BPF program wrote: consecutive seq, our pid, the burst
 * index, our task name.
 */
function checkColumns() {
  for (let i = 0; i < CALLS; i++) getppid();
  const comm = readFileSync('/proc/self/comm', 'utf8').trim();
  let n = 0;
  let prev = -1n;
  for (let b = rb.columns(); b.length > 0; b = rb.columns()) {
    const seq = b.columns.seq;
    for (let i = 0; i < b.length; i++, n++) {
      const s = seq[i];
      const ok =
        (prev < 0n || s === prev + 1n) &&
        b.columns.pid[i] === process.pid &&
        b.columns.index[i] === Number(s % 64n) &&
        b.columns.comm.string(i) === comm;
      if (!ok) throw new Error(`ring buffer columns: sample ${n} is not what ringbench.bpf.o wrote`);
      prev = s;
    }
  }
  if (n !== want) throw new Error(`ring buffer columns: a round gave ${n} samples, not ${want}`);
}

/** [name, reference ('libbpf' | 'readinto' | 'read'), one drain]. */
const cases = [
  [
    'ringbuf columns(), every field into typed-array columns',
    'libbpf',
    () => {
      let n = 0;
      for (let b = rb.columns(); b.length > 0; b = rb.columns()) {
        columnar(b);
        n += b.length;
      }
      return n;
    },
  ],
  [
    'ringbuf for-await columnBatches(), every field into columns',
    'libbpf',
    async () => {
      let n = 0;
      for await (const b of rb.columnBatches()) {
        columnar(b);
        n += b.length;
        if (n >= want) break;
      }
      return n;
    },
  ],
  [
    'ringbuf read() batches, lazy views',
    'readinto',
    () => {
      let n = 0;
      for (let b = rb.read(); b.length > 0; b = rb.read()) {
        for (let i = 0; i < b.length; i++) touch(b.at(i));
        n += b.length;
      }
      return n;
    },
  ],
  [
    'ringbuf for-await batches(), lazy views',
    'readinto',
    async () => {
      let n = 0;
      for await (const b of rb.batches()) {
        for (const s of b) touch(s);
        n += b.length;
        if (n >= want) break;
      }
      return n;
    },
  ],
  [
    'ringbuf for-await per record, lazy views',
    'read',
    async () => {
      let n = 0;
      for await (const s of rb) {
        touch(s);
        if (++n === want) break;
      }
      return n;
    },
  ],
  [
    // What laziness buys: only the two 32-bit fields read (no bigint, no string made).
    'ringbuf read() batches, lazy views, pid+index only',
    'readinto',
    () => {
      let n = 0;
      for (let b = rb.read(); b.length > 0; b = rb.read()) {
        for (let i = 0; i < b.length; i++) {
          const s = b.at(i);
          sinkNum += s.pid + s.index;
        }
        n += b.length;
      }
      return n;
    },
  ],
  [
    'ringbuf read() batches, eager decode (toJSON)',
    'read',
    () => {
      let n = 0;
      for (let b = rb.read(); b.length > 0; b = rb.read()) {
        for (let i = 0; i < b.length; i++) touch(b.at(i).toJSON());
        n += b.length;
      }
      return n;
    },
  ],
];

/**
 * RSS while `events` are taken as columnar batches: after the first round (arrays made, code
 * compiled) and at the end. Flat means the batches reuse their arrays.
 */
function rssOverColumns(events) {
  let n = 0;
  let first = 0;
  const t0 = performance.now();
  while (n < events) {
    for (let i = 0; i < CALLS; i++) getppid();
    for (let b = rb.columns(); b.length > 0; b = rb.columns()) n += b.length;
    if (first === 0) first = process.memoryUsage().rss;
  }
  const last = process.memoryUsage().rss;
  return { events: n, first, last, seconds: (performance.now() - t0) / 1e3 };
}

const say = (x) => process.stdout.write(`${JSON.stringify(x)}\n`);
try {
  checkColumns();
  // Warm-up: an untimed round of every consumer, for the JIT, as the C and Go sides do.
  for (const [, , how] of cases) await drainOnce(how);
  say({ cases: cases.map(([name, ref]) => [name, ref]) });
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'round') say(await drainOnce(cases[Number(arg)][2]));
    else if (cmd === 'rss') say(rssOverColumns(Number(arg)));
    else if (cmd === 'close') break;
    else throw new Error(`runtime-ring.mjs: unknown request ${line}`);
  }
  say({ dropped: String(obj.global('bss', 'dropped')), sink: sinkNum > 0 });
} finally {
  await obj.close();
}
