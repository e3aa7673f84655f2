import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedObject, loadObject, type RingBuffer } from '../packages/runtime/src/index.ts';
import { koffi } from '../packages/runtime/src/sys/libc.ts';

// The kernel fills test/fixtures/runtime/ringbench.bpf.o's 16 MiB ring: 64 samples of 40 bytes
// (48 with the header) per getppid() of this process, numbered by a global counter. Whatever
// way we consume, we must see every committed sample once, in order, with the fields the BPF
// program wrote, across the ring's wrap-around; a consumer that does not read makes the
// kernel drop (backpressure).

const OBJ = join(import.meta.dirname, 'fixtures/runtime/ringbench.bpf.o');
const getppid = koffi.load('libc.so.6').func('int getppid()') as () => number;
const comm = readFileSync('/proc/self/comm', 'utf8').trim();
/** 2000 bursts = 6 MiB: three rounds wrap the 16 MiB ring. */
const CALLS = 2000;

interface Sample {
  seq: bigint;
  pid: number;
  index: number;
  ts: bigint;
  comm: string;
  toJSON(): Omit<Sample, 'toJSON'>;
}

let obj: LoadedObject;
let rb: RingBuffer<Sample>;
let next = 0n;

function check(s: Sample): void {
  if (s.seq !== next || s.pid !== process.pid || s.index !== Number(s.seq % 64n) || s.comm !== comm)
    throw new Error(
      `sample ${JSON.stringify(s.toJSON(), (_, v) => (typeof v === 'bigint' ? String(v) : v))}, expected seq ${next}`,
    );
  next++;
}

function fill(calls = CALLS): void {
  for (let i = 0; i < calls; i++) getppid();
}

beforeAll(async () => {
  obj = await loadObject(new Uint8Array(readFileSync(OBJ)), {
    file: OBJ,
    globals: { target_pid: process.pid },
  });
  await obj.attach();
  rb = obj.ringbuf<Sample>('samples', { type: 'sample' });
});

afterAll(async () => {
  await obj?.close();
});

describe('ring buffer consumption (ringbench)', () => {
  it('read(): zero-copy batches see every sample once, in order, across wrap-around', () => {
    for (let round = 0; round < 3; round++) {
      fill();
      let n = 0;
      for (let b = rb.read(); b.length > 0; b = rb.read()) {
        for (let i = 0; i < b.length; i++) check(b.at(i));
        n += b.length;
      }
      expect(n).toBe(CALLS * 64);
    }
    expect(obj.global('bss', 'dropped')).toBe(0n);
  });

  it('a batch is invalid once the next one is taken', () => {
    fill(10);
    const first = rb.read(100);
    expect(first.length).toBe(100);
    for (const s of first) check(s);
    const second = rb.read();
    expect(() => first.at(0)).toThrow(/released/);
    for (const s of second) check(s);
  });

  it('for await over batches() and over records, across wrap-around', async () => {
    for (let round = 0; round < 2; round++) {
      fill();
      let n = 0;
      for await (const b of rb.batches(1000)) {
        expect(b.length).toBeLessThanOrEqual(1000);
        for (const s of b) check(s);
        n += b.length;
        if (n === CALLS * 64) break;
      }
      fill();
      const kept: Sample[] = [];
      for await (const s of rb) {
        kept.push(s);
        if (kept.length === CALLS * 64) break;
      }
      // Records from the iterator stay valid after the ring moved on (they are copies).
      fill(10);
      for (let b = rb.read(); b.length > 0; b = rb.read()) expect(b.length).toBeGreaterThan(0);
      for (const s of kept) check(s);
      next += 640n; // the ten bursts read and thrown away above
    }
    expect(obj.global('bss', 'dropped')).toBe(0n);
  });

  it('leaving a for-await loop early leaves the rest in the ring for the next loop', async () => {
    fill(10);
    let n = 0;
    for await (const s of rb) {
      check(s);
      if (++n === 100) break;
    }
    for await (const s of rb) {
      check(s);
      if (++n === 640) break;
    }
    expect(rb.read().length).toBe(0);
    fill(1);
    const one = await rb.next();
    if (!one) throw new Error('no record');
    expect(one.index).toBe(0);
    check(one);
    for (const s of rb.read()) check(s);
    expect(next % 64n).toBe(0n);
  });

  it('a consumer that does not read makes the kernel drop; nothing is lost that was committed', () => {
    fill(6000); // 18 MiB into a 16 MiB ring
    const dropped = obj.global('bss', 'dropped') as bigint;
    expect(dropped).toBeGreaterThan(0n);
    const committed = (obj.global('bss', 'seq') as bigint) - next;
    let n = 0;
    for (let b = rb.read(); b.length > 0; b = rb.read()) {
      for (const s of b) check(s);
      n += b.length;
    }
    expect(BigInt(n)).toBe(committed);
    expect(n * 48).toBeLessThanOrEqual(16 << 20);
  });
});
