/**
 * A BPF ring buffer consumer (BPF_MAP_TYPE_RINGBUF), reading the kernel's shared pages directly.
 *
 * Layout (kernel/bpf/ringbuf.c): page 0 is the consumer page (consumer_pos u64 at 0, ours to
 * write); from page 1 the producer page (producer_pos u64 at 0, read-only) and then the data
 * area, mapped twice back to back so a record that wraps reads contiguously. Each record has
 * an 8-byte header: u32 len with BUSY (bit 31) and DISCARD (bit 30) flags, u32 page offset;
 * the payload follows, the whole rounded up to 8 bytes.
 *
 * Backpressure: records are consumed (consumer_pos advanced) only as the async iterator is
 * pulled; while the consumer lags, the kernel's bpf_ringbuf_reserve() fails and the program
 * drops, so a slow consumer never grows memory here.
 */
import { Epoll } from '../sys/epoll.ts';
import { Mapping, PAGE_SIZE, PROT_READ, PROT_WRITE } from './mmap.ts';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
/** The kernel writes record headers in host byte order. */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface RingBufferOptions<T> {
  /** Turns a record's payload into a value; default: a copy of the bytes. */
  decode?: (bytes: Uint8Array) => T;
}

export class RingBuffer<T = Uint8Array> implements AsyncIterable<T> {
  private readonly consumer: Mapping;
  private readonly producer: Mapping;
  private readonly cons: BigUint64Array;
  private readonly prod: BigUint64Array;
  private readonly data: Uint8Array;
  private readonly dataView: DataView;
  private readonly mask: number;
  private readonly epoll: Epoll;
  /** The decoder records go through (the iterator applies it; consume() hands raw payloads). */
  readonly decoder: (bytes: Uint8Array) => T;
  private closed = false;
  private waiter: (() => void) | undefined;

  constructor(
    readonly name: string,
    fd: number,
    readonly size: number,
    opts: RingBufferOptions<T> = {},
  ) {
    this.consumer = new Mapping(fd, PAGE_SIZE, PROT_READ | PROT_WRITE, 0, `ringbuf ${name} consumer page`);
    try {
      this.producer = new Mapping(fd, PAGE_SIZE + 2 * size, PROT_READ, PAGE_SIZE, `ringbuf ${name} data`);
    } catch (e) {
      this.consumer.unmap();
      throw e;
    }
    this.cons = new BigUint64Array(this.consumer.buffer, 0, 1);
    this.prod = new BigUint64Array(this.producer.buffer, 0, 1);
    this.data = new Uint8Array(this.producer.buffer, PAGE_SIZE, 2 * size);
    this.dataView = new DataView(this.producer.buffer, PAGE_SIZE, 2 * size);
    this.mask = size - 1;
    this.decoder = opts.decode ?? ((b) => b.slice() as unknown as T);
    this.epoll = new Epoll(1);
    this.epoll.add(fd, 0);
  }

  /**
   * Hands every record available now to `cb` (the payload view is valid only during the
   * call) and returns how many were consumed. The synchronous fast path of the iterator.
   */
  consume(cb: (payload: Uint8Array) => void, max = Number.POSITIVE_INFINITY): number {
    if (this.closed) return 0;
    const start = Number(Atomics.load(this.cons, 0));
    let cons = start;
    let prod = Number(Atomics.load(this.prod, 0));
    let n = 0;
    const data = this.data;
    const view = this.dataView;
    const mask = this.mask;
    try {
      while (n < max) {
        if (cons >= prod) {
          // Caught up: publish what we consumed so the producer can reuse the space, then
          // look again (the producer may have moved on meanwhile).
          if (cons !== start) Atomics.store(this.cons, 0, BigInt(cons));
          prod = Number(Atomics.load(this.prod, 0));
          if (cons >= prod) break;
        }
        const off = cons & mask;
        const len = view.getUint32(off, LE);
        if (len & BUSY) break; // reserved, not yet committed
        const size = len & ~(BUSY | DISCARD);
        cons += (size + HDR + 7) & ~7;
        if (!(len & DISCARD)) {
          n++;
          cb(data.subarray(off + HDR, off + HDR + size));
        }
      }
    } finally {
      // One store per batch, not per record: the position is a 64-bit BigInt store.
      if (cons !== start) Atomics.store(this.cons, 0, BigInt(cons));
    }
    return n;
  }

  /** The next record, waiting for one; undefined once closed. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      let out: T | undefined;
      let got = false;
      this.consume((p) => {
        out = this.decoder(p);
        got = true;
      }, 1);
      if (got) return out as T;
      await this.readable();
    }
  }

  /** Resolves when the kernel signals new data (or on close). */
  private readable(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.epoll.watch(() => {
        this.epoll.wait(0);
        this.wake();
      });
      // Data may have arrived between the empty check and arming the watch.
      const cons = Atomics.load(this.cons, 0);
      if (cons < Atomics.load(this.prod, 0)) this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    this.epoll.unwatch();
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      // Closed while waiting: the pages are unmapped, touch nothing.
      if (this.closed) return;
      // Drain what is there without a promise per record, then wait.
      const batch: T[] = [];
      this.consume((p) => batch.push(this.decoder(p)), 4096);
      for (const ev of batch) yield ev;
      if (this.closed) return;
      if (batch.length === 0) await this.readable();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    this.epoll.close();
    this.producer.unmap();
    this.consumer.unmap();
  }
}
