/**
 * A BPF ring buffer consumer (BPF_MAP_TYPE_RINGBUF), reading the kernel's shared pages directly.
 *
 * Layout (kernel/bpf/ringbuf.c): page 0 is the consumer page (consumer_pos u64 at 0, ours to
 * write); from page 1 the producer page (producer_pos u64 at 0, read-only) and then the data
 * area, mapped twice back to back so a record that wraps reads contiguously. Each record has
 * an 8-byte header: u32 len with BUSY (bit 31) and DISCARD (bit 30) flags, u32 page offset;
 * the payload follows, the whole rounded up to 8 bytes.
 *
 * Reading costs no native call per record: positions and records are read through typed
 * arrays over the mapping, a batch at a time (one producer read, one consumer store), and
 * records become values only when asked (see record-view.ts for lazy typed views).
 *
 * Backpressure: records are consumed (consumer_pos advanced) only as the iterators are
 * pulled; while the consumer lags, the kernel's bpf_ringbuf_reserve() fails and the program
 * drops, so a slow consumer never grows memory here.
 */
import { errors } from '../deps.ts';
import { Epoll } from '../sys/epoll.ts';
import { type Column, type ColumnBatch, type ColumnCodec, type RingDecode, sourceMemory } from './columns.ts';
import { Mapping, PAGE_SIZE, PROT_READ, PROT_WRITE } from './mmap.ts';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
/** Records per batch unless asked otherwise: bounds the work done between event-loop turns. */
const BATCH = 4096;

/** Makes a record's value from its payload: `size` bytes at `offset` of `view`. */
export type RecordFactory<T> = (view: DataView, offset: number, size: number) => T;

export interface RingBufferOptions<T> {
  /** Turns a record's payload into a value (eagerly, as it is taken). */
  decode?: (bytes: Uint8Array) => T;
  /**
   * Makes a record's value from where its payload lies, e.g. a lazy view class's instance
   * (`(v, o) => new View(v, o)`). Takes precedence over `decode`. Default: the payload bytes.
   */
  record?: RecordFactory<T>;
  /** The record type's columnar decoder, made on the first columns() call. */
  columns?: () => ColumnCodec;
}

/**
 * Records taken from the ring in one go. A batch from `read()` or `batches()` is zero-copy: it
 * and every value made from it read the kernel's pages, so they are valid only until the next
 * batch is taken (the ring may reuse the space then); `at()` on a stale batch throws. Keep a
 * record with `toJSON()` (views) or `.slice()` (bytes).
 */
export class RecordBatch<T> implements Iterable<T> {
  /** @internal */
  valid = true;
  constructor(
    readonly length: number,
    private readonly view: DataView,
    private readonly offsets: Int32Array,
    private readonly sizes: Int32Array,
    private readonly make: RecordFactory<T>,
  ) {}

  at(i: number): T {
    // The checks' errors are made elsewhere: a small at() is inlined into the caller's loop.
    if (!this.valid || !(i >= 0 && i < this.length)) throw this.cannot(i);
    return this.make(this.view, this.offsets[i] as number, this.sizes[i] as number);
  }

  private cannot(i: number): Error {
    if (!this.valid)
      return errors.badOption('ring buffer: this batch was released (a newer batch was taken)');
    return errors.badOption(`ring buffer: no record ${i} in a batch of ${this.length}`);
  }

  /** The payload of record `i`, a view into the batch's memory. */
  bytes(i: number): Uint8Array {
    if (!this.valid) throw errors.badOption('ring buffer: this batch was released (a newer batch was taken)');
    return new Uint8Array(
      this.view.buffer,
      this.view.byteOffset + (this.offsets[i] as number),
      this.sizes[i],
    );
  }

  /**
   * The records in order. A plain iterator object rather than a generator: V8 inlines its
   * next() into the caller's for-of and drops the result objects, where a generator costs a
   * resumption per record.
   */
  [Symbol.iterator](): Iterator<T> {
    return new BatchIterator(this);
  }
}

class BatchIterator<T> implements Iterator<T> {
  private i = 0;
  constructor(private readonly batch: RecordBatch<T>) {}

  next(): IteratorResult<T> {
    const b = this.batch;
    if (this.i >= b.length) return { done: true, value: undefined };
    return { done: false, value: b.at(this.i++) };
  }
}

/** Records copied out of the ring: `n` payloads at `offsets` of `view`. */
interface Copied {
  view: DataView;
  offsets: Int32Array;
  sizes: Int32Array;
  n: number;
  /** Ring position of the batch's first byte. */
  start: number;
}

export class RingBuffer<T = Uint8Array> implements AsyncIterable<T> {
  private readonly consumer: Mapping;
  private readonly producer: Mapping;
  private readonly cons: BigUint64Array;
  private readonly prod: BigUint64Array;
  private readonly data: Uint8Array;
  private readonly dataView: DataView;
  /**
   * The data area as 32-bit words, for reading record headers: the kernel writes them in host
   * byte order at 8-aligned offsets, and an array load is cheaper than a DataView call.
   */
  private readonly words: Uint32Array;
  private readonly mask: number;
  private readonly epoll: Epoll;
  /** Where this consumer has read up to; published to the kernel when a batch is released. */
  private head: number;
  /** End of the zero-copy batch handed out last, published when the next one is taken. */
  private pendingEnd = -1;
  private lastBatch: RecordBatch<T> | undefined;
  /** Scratch for one scan: payload offsets (into the data area) and sizes. */
  private offsets = new Int32Array(BATCH);
  private sizes = new Int32Array(BATCH);
  /** How a record's value is made (the iterators apply it; consume() hands raw payloads). */
  readonly make: RecordFactory<T>;
  private closed = false;
  private waiter: (() => void) | undefined;
  private readonly columnCodec: (() => ColumnCodec) | undefined;
  /** The columnar batch columns() refills, and its decoder bound to this ring's pages. */
  private columnar: { batch: ColumnBatch<unknown>; ring: RingDecode } | undefined;
  private readonly ringPos = new Int32Array(1);

  constructor(
    readonly name: string,
    fd: number,
    readonly size: number,
    opts: RingBufferOptions<T> = {},
  ) {
    this.columnCodec = opts.columns;
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
    this.words = new Uint32Array(this.producer.buffer, PAGE_SIZE, (2 * size) >> 2);
    this.mask = size - 1;
    this.head = Number(Atomics.load(this.cons, 0));
    const decode = opts.decode;
    this.make =
      opts.record ??
      (decode
        ? (v, o, n) => decode(new Uint8Array(v.buffer, v.byteOffset + o, n))
        : (v, o, n) => new Uint8Array(v.buffer, v.byteOffset + o, n) as unknown as T);
    this.epoll = new Epoll(1);
    this.epoll.add(fd, 0);
  }

  /** Tells the kernel the space up to `pos` may be reused. */
  private publish(pos: number): void {
    Atomics.store(this.cons, 0, BigInt(pos));
  }

  /** Lets go of the last zero-copy batch: its space goes back to the kernel. */
  private release(): void {
    if (this.lastBatch) this.lastBatch.valid = false;
    this.lastBatch = undefined;
    if (this.pendingEnd >= 0) this.publish(this.pendingEnd);
    this.pendingEnd = -1;
  }

  /**
   * Finds up to `max` committed records from `head`, filling offsets/sizes; returns how many
   * and leaves `head` after the last one scanned (discarded records are skipped over).
   */
  private scan(max: number): number {
    if (max > this.offsets.length) {
      this.offsets = new Int32Array(max);
      this.sizes = new Int32Array(max);
    }
    const words = this.words;
    const offsets = this.offsets;
    const sizes = this.sizes;
    const mask = this.mask;
    // The walk carries the masked offset and the bytes walked, small integers both (see
    // columns.ts's RingDecode): the 64-bit position, a double past 2^31, is added at the end.
    const head = this.head;
    let off = head & mask;
    let used = 0;
    let avail = Math.min(Number(Atomics.load(this.prod, 0)) - head, this.size);
    let n = 0;
    while (n < max) {
      if (used >= avail) {
        avail = Math.min(Number(Atomics.load(this.prod, 0)) - head, this.size);
        if (used >= avail) break;
      }
      const len = words[off >> 2] as number;
      if (len & BUSY) break; // reserved, not yet committed
      const size = len & ~(BUSY | DISCARD);
      const at = off + HDR;
      const step = (size + HDR + 7) & ~7;
      used += step;
      off = (off + step) & mask;
      if (len & DISCARD) continue;
      offsets[n] = at;
      sizes[n] = size;
      n++;
    }
    this.head = head + used;
    return n;
  }

  /**
   * Takes up to `max` records available now as a zero-copy batch (possibly empty). Taking it
   * releases the previous one; the space of this one goes back to the kernel at the next
   * read(), or at wait for data in the iterators.
   */
  read(max = BATCH): RecordBatch<T> {
    if (this.closed) return new RecordBatch(0, this.dataView, this.offsets, this.sizes, this.make);
    this.release();
    const start = this.head;
    const n = this.scan(max);
    if (this.head !== start) this.pendingEnd = this.head;
    const batch = new RecordBatch(n, this.dataView, this.offsets, this.sizes, this.make);
    this.lastBatch = batch;
    return batch;
  }

  /**
   * Takes up to `max` records available now and decodes them into columns: one typed array
   * per field (see columns.ts), the same batch object and arrays refilled at every call, so
   * the batch is valid until the next one. The records' space goes back to the kernel at
   * once (their values are copied out). Needs the map's record type.
   */
  columns<C = Record<string, Column>>(max = BATCH): ColumnBatch<C> {
    let c = this.columnar;
    if (!c || c.batch.capacity < max) {
      if (!this.columnCodec)
        throw errors.badOption(`ring buffer '${this.name}': no record type to make columns of (give a type)`);
      const mem = sourceMemory(this.producer.buffer, PAGE_SIZE, 2 * this.size);
      c = this.columnCodec().bind<unknown>(mem, Math.max(max, c?.batch.capacity ?? 0));
      this.columnar = c;
    }
    const batch = c.batch;
    batch.length = 0;
    if (this.closed) return batch as ColumnBatch<C>;
    this.release();
    const start = this.head;
    const avail = Math.min(Number(Atomics.load(this.prod, 0)) - start, this.size);
    const n = c.ring(start & this.mask, avail, max, this.mask, this.ringPos);
    this.head = start + (this.ringPos[0] as number);
    batch.length = n;
    if (this.head !== start) this.publish(this.head);
    return batch as ColumnBatch<C>;
  }

  /** columns() batches as they come, waiting (epoll) when the ring is empty. */
  async *columnBatches<C = Record<string, Column>>(
    max = BATCH,
  ): AsyncGenerator<ColumnBatch<C>, void, undefined> {
    for (;;) {
      if (this.closed) return;
      const b = this.columns<C>(max);
      if (b.length > 0) yield b;
      else await this.readable();
    }
  }

  /**
   * Hands every record available now to `cb` (the payload view is valid only during the
   * call) and returns how many were consumed. Synchronous; the space is released at the end.
   */
  consume(cb: (payload: Uint8Array) => void, max = Number.POSITIVE_INFINITY): number {
    let total = 0;
    while (total < max && !this.closed) {
      const b = this.read(Math.min(BATCH, max - total));
      for (let i = 0; i < b.length; i++) cb(b.bytes(i));
      total += b.length;
      if (b.length === 0) break;
    }
    if (!this.closed) this.release();
    return total;
  }

  /**
   * Zero-copy batches as they come, waiting (epoll, from the event loop) when the ring is
   * empty. Each batch is valid until the loop asks for the next one.
   */
  async *batches(max = BATCH): AsyncGenerator<RecordBatch<T>, void, undefined> {
    try {
      for (;;) {
        if (this.closed) return;
        const b = this.read(max);
        if (b.length > 0) yield b;
        else await this.readable();
      }
    } finally {
      if (!this.closed) this.release();
    }
  }

  /**
   * A batch whose records stay valid: its bytes are copied out of the ring in one piece
   * (records are contiguous thanks to the double mapping). Its space goes back to the kernel
   * when the next batch is taken, or up to the first record not handed out (see unread()).
   */
  private takeCopied(max: number): Copied {
    this.release();
    const start = this.head;
    const n = this.scan(max);
    if (this.head !== start) this.pendingEnd = this.head;
    if (n === 0) return { view: this.dataView, offsets: this.offsets, sizes: this.sizes, n, start };
    const from = start & this.mask;
    const copy = this.data.slice(from, from + (this.head - start));
    const offsets = this.offsets.slice(0, n);
    // Payload offsets were taken modulo the ring size; in the copy they count from `from`.
    for (let i = 0; i < n; i++) offsets[i] = ((offsets[i] as number) - from) & this.mask;
    return { view: new DataView(copy.buffer), offsets, sizes: this.sizes.slice(0, n), n, start };
  }

  /** Gives records `i`.. of a copied batch back: they are read again by the next consumer. */
  private unread(b: Copied, i: number): void {
    if (i >= b.n || this.pendingEnd < 0) return;
    this.head = b.start + (b.offsets[i] as number) - HDR;
    this.pendingEnd = this.head;
  }

  /** The next record (a copy, valid for good), waiting for one; undefined once closed. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const b = this.takeCopied(1);
      if (b.n > 0) {
        this.release();
        return this.make(b.view, b.offsets[0] as number, b.sizes[0] as number);
      }
      await this.readable();
    }
  }

  /** Resolves when the kernel signals new data (or on close). */
  private readable(): Promise<void> {
    // The kernel only wakes a consumer that has caught up: publish where we are first.
    this.release();
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.epoll.watch(() => {
        this.epoll.wait(0);
        this.wake();
      });
      // Data may have arrived between the empty check and arming the watch.
      if (this.head < Number(Atomics.load(this.prod, 0))) this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    this.epoll.unwatch();
    w?.();
  }

  /**
   * Records one by one, each valid for good (batches are copied out of the ring, one copy per
   * batch). Not an async generator: a record already taken is handed out through an
   * already-settled promise, without a generator's resumption.
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    let b: Copied = {
      view: this.dataView,
      offsets: new Int32Array(0),
      sizes: new Int32Array(0),
      n: 0,
      start: 0,
    };
    let i = 0;
    const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
    const pull = async (): Promise<IteratorResult<T>> => {
      for (;;) {
        if (this.closed) return done;
        b = this.takeCopied(BATCH);
        i = 0;
        if (b.n > 0)
          return { done: false, value: this.make(b.view, b.offsets[i] as number, b.sizes[i++] as number) };
        await this.readable();
      }
    };
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (i < b.n && !this.closed)
          return Promise.resolve({
            done: false,
            value: this.make(b.view, b.offsets[i] as number, b.sizes[i++] as number),
          });
        return pull();
      },
      return: (): Promise<IteratorResult<T>> => {
        // Leaving the loop early: records of this batch not handed out stay in the ring.
        if (!this.closed && i < b.n) {
          this.unread(b, i);
          this.release();
        }
        i = b.n;
        return Promise.resolve(done);
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.lastBatch) this.lastBatch.valid = false;
    this.wake();
    this.epoll.close();
    this.producer.unmap();
    this.consumer.unmap();
  }
}
