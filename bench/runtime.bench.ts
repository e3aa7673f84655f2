/**
 * @btfkit/runtime against libbpf on the running kernel (root needed), in the same run:
 *  - open + load + attach + close of corpus objects whose programs all attach here, in
 *    process: loadObject() + attach() + close() vs bpf_object__open/load + bpf_program__attach
 *    (bench/runtime-libbpf.c, built here against Debian's libbpf 1.1);
 *  - ring buffer events received and decoded per second: the kernel fills a 16 MiB ring
 *    (test/fixtures/runtime/ringbench.bpf.o, 64 samples per getppid()), then the consumer
 *    drains it; only the draining is timed. libbpf: ring_buffer__consume() with a C callback
 *    copying every field into a C struct; btfkit: zero-copy batches (sync read() and for-await
 *    batches()), the per-record async iterator, and, for comparison, the eager codec decode;
 *    each reads every field of every sample into JS storage.
 * BENCH_RUNTIME=load or =ring runs one half only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadObject } from '../packages/runtime/src/index.ts';
import { koffi } from '../packages/runtime/src/sys/libc.ts';
import { type BenchRow, median, ROOT, RUNS } from './lib.ts';

const OBJECTS = [
  'execsnoop',
  'opensnoop',
  'runqlat',
  'exitsnoop',
  'tcpstates',
  'bitesize',
  'biopattern',
  'tcplife',
];
const ROUNDS = 5;
/** BENCH_RUNTIME=load or =ring runs only that half. */
const only = process.env.BENCH_RUNTIME;
const CALLS = 4096; // × 64 samples = 262,144 per round, 12 MiB of the 16 MiB ring

export default async function benchRuntime(log: (line: string) => void): Promise<BenchRow[]> {
  if (process.getuid?.() !== 0) {
    log('skipped: loading BPF needs root');
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-bench-rt-'));
  const harness = join(dir, 'runtime-libbpf');
  execFileSync('gcc', [
    '-O2',
    '-o',
    harness,
    join(ROOT, 'bench/runtime-libbpf.c'),
    '-l:libbpf.a',
    '-lelf',
    '-lz',
  ]);
  const rows: BenchRow[] = [];

  for (const name of only === 'ring' ? [] : OBJECTS) {
    const path = join(ROOT, 'test/corpus/objects', `${name}.bpf.o`);
    const bytes = new Uint8Array(readFileSync(path));
    const ours: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const t0 = performance.now();
      const obj = await loadObject(bytes, { file: path });
      await obj.attach();
      await obj.close();
      const ms = performance.now() - t0;
      if (i === 0)
        log(`${name}: first load ${ms.toFixed(1)} ms (includes decoding vmlinux BTF once per process)`);
      else ours.push(ms);
    }
    const theirs = JSON.parse(
      execFileSync(harness, ['load', path, String(RUNS)], { encoding: 'utf8' }),
    ) as number[];
    rows.push({
      case: `${name} open+load+attach+close`,
      ms: median(ours),
      ref: 'libbpf 1.1',
      refMs: median(theirs),
    });
  }

  if (only !== 'load') rows.push(...(await benchRing(harness, log)));
  return rows;
}

/** One decoded sample, as the C side's `struct decoded`. */
interface Sample {
  seq: bigint;
  pid: number;
  index: number;
  ts: bigint;
  comm: string;
}

/**
 * Decoded samples land in these arrays, as the C side's land in `sink[]`: every field is read
 * and kept, so neither side's compiler can skip a field.
 */
const SINK = 256;
const sinkSeq: bigint[] = new Array(SINK).fill(0n);
const sinkTs: bigint[] = new Array(SINK).fill(0n);
const sinkComm: string[] = new Array(SINK).fill('');
let sinkNum = 0;
let sunk = 0;
function touch(s: Sample): void {
  const j = sunk++ & (SINK - 1);
  sinkSeq[j] = s.seq;
  sinkTs[j] = s.ts;
  sinkComm[j] = s.comm;
  sinkNum += s.pid + s.index;
}

/**
 * Ring buffer throughput: per round, CALLS getppid() fill the ring with 64 samples each, then
 * the consumer drains it; only the draining is timed. Every consumer, libbpf's included, reads
 * all five fields of every sample into its own storage (see touch() and on_sample()).
 */
async function benchRing(harness: string, log: (line: string) => void): Promise<BenchRow[]> {
  const ringObj = join(ROOT, 'test/fixtures/runtime/ringbench.bpf.o');
  const lib = JSON.parse(
    execFileSync(harness, ['ringbuf', ringObj, String(ROUNDS), String(CALLS)], { encoding: 'utf8' }),
  ) as { rounds: [number, number][] };
  const getppid = koffi.load('libc.so.6').func('int getppid()') as () => number;
  const obj = await loadObject(new Uint8Array(readFileSync(ringObj)), {
    file: ringObj,
    globals: { rodata: { target_pid: process.pid } },
  });
  const rows: BenchRow[] = [];
  try {
    await obj.attach();
    const rb = obj.ringbuf<Sample & { toJSON(): Sample }>('samples', { type: 'sample' });
    const want = CALLS * 64;
    // ns per event of each round after an untimed one (JIT warm-up; the C side does the same).
    const drain = async (how: () => Promise<number> | number) => {
      const rounds: [number, number][] = [];
      for (let r = 0; r <= ROUNDS; r++) {
        for (let i = 0; i < CALLS; i++) getppid();
        const t0 = performance.now();
        const n = await how();
        if (r > 0) rounds.push([performance.now() - t0, n]);
      }
      return rounds;
    };
    const cases: [string, () => Promise<number> | number][] = [
      [
        'ringbuf read() batches, lazy views',
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
        'ringbuf read() batches, eager codec decode',
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
    // The shared machine makes single rounds noisy: the median round's ns per event.
    const nsPer = (rounds: [number, number][]) => median(rounds.map(([ms, n]) => (ms * 1e6) / n));
    const libNs = nsPer(lib.rounds);
    const rate = (ns: number) => `${(1e3 / ns).toFixed(1)} M events/s`;
    for (const [name, how] of cases) {
      const rounds = await drain(how);
      const bad = rounds.find(([, n], i) => n !== lib.rounds[i]?.[1]);
      if (bad) log(`${name}: a round took ${bad[1]} events, libbpf's ${lib.rounds[0]?.[1]}`);
      const ns = nsPer(rounds);
      rows.push({
        case: `${name}, per 1M events`,
        ms: ns,
        ref: 'libbpf ring_buffer__consume',
        refMs: libNs,
        note: `${rate(ns)} vs ${rate(libNs)}`,
      });
    }
    log(`ring buffer: kernel drops ${obj.global('bss', 'dropped')}; sink ${sinkNum > 0}`);
  } finally {
    await obj.close();
  }
  return rows;
}
