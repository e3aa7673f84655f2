/**
 * @btfkit/runtime against libbpf on the running kernel (root needed), in the same run:
 *  - open + load + attach + close of corpus objects whose programs all attach here, in
 *    process: loadObject() + attach() + close() vs bpf_object__open/load + bpf_program__attach
 *    (bench/runtime-libbpf.c, built here against Debian's libbpf 1.1);
 *  - ring buffer events received and decoded per second: the kernel fills a 16 MiB ring
 *    (test/fixtures/runtime/ringbench.bpf.o, 64 samples per getppid()), then the consumer
 *    drains it; only the draining is timed. libbpf: ring_buffer__consume() with a C callback
 *    copying the fields out; btfkit: RingBuffer.consume() and the async iterator, each sample
 *    decoded to a JS object through the codec of `struct sample`.
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

  for (const name of OBJECTS) {
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

  // Ring buffer throughput.
  const ringObj = join(ROOT, 'test/fixtures/runtime/ringbench.bpf.o');
  const lib = JSON.parse(
    execFileSync(harness, ['ringbuf', ringObj, String(ROUNDS), String(CALLS)], { encoding: 'utf8' }),
  ) as {
    events: number;
    ms: number;
  };
  const getppid = koffi.load('libc.so.6').func('int getppid()') as () => number;
  const obj = await loadObject(new Uint8Array(readFileSync(ringObj)), {
    file: ringObj,
    globals: { rodata: { target_pid: process.pid } },
  });
  try {
    await obj.attach();
    const rb = obj.ringbuf<{ seq: bigint; pid: number; index: number; comm: string }>('samples', {
      type: 'sample',
    });
    const decode = rb.decoder;
    let sync = { events: 0, ms: 0 };
    let checksum = 0n;
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < CALLS; i++) getppid();
      const t0 = performance.now();
      const n = rb.consume((payload) => {
        const s = decode(payload);
        checksum += s.seq;
      });
      sync = { events: sync.events + n, ms: sync.ms + performance.now() - t0 };
    }
    let iter = { events: 0, ms: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < CALLS; i++) getppid();
      const want = CALLS * 64;
      let n = 0;
      const t0 = performance.now();
      for await (const s of rb) {
        checksum += s.seq;
        if (++n === want) break;
      }
      iter = { events: iter.events + n, ms: iter.ms + performance.now() - t0 };
    }
    const dropped = obj.global('bss', 'dropped');
    log(
      `ring buffer: libbpf ${lib.events} events, btfkit ${sync.events} + ${iter.events}; kernel drops: ${dropped} (checksum ${checksum > 0n})`,
    );
    const perM = (x: { events: number; ms: number }) => (x.ms / x.events) * 1e6;
    const rate = (x: { events: number; ms: number }) =>
      `${(((x.events / x.ms) * 1e3) / 1e6).toFixed(2)} M events/s`;
    rows.push({
      case: 'ringbuf consume()+decode, per 1M events',
      ms: perM(sync),
      ref: 'libbpf ring_buffer__consume',
      refMs: perM(lib),
      note: `${rate(sync)} vs ${rate(lib)}`,
    });
    rows.push({
      case: 'ringbuf for-await+decode, per 1M events',
      ms: perM(iter),
      ref: 'libbpf ring_buffer__consume',
      refMs: perM(lib),
      note: `${rate(iter)} vs ${rate(lib)}`,
    });
  } finally {
    await obj.close();
  }
  return rows;
}
