/**
 * A perf buffer consumer (BPF_MAP_TYPE_PERF_EVENT_ARRAY + bpf_perf_event_output): one
 * PERF_COUNT_SW_BPF_OUTPUT event per online CPU, stored in the map at that CPU's index, each
 * with its own mmap'd ring.
 *
 * struct perf_event_mmap_page: data_head u64 @1024 (kernel writes), data_tail u64 @1032 (we
 * write); data pages follow the first page. Records: perf_event_header { u32 type; u16 misc;
 * u16 size }; PERF_RECORD_SAMPLE (9) carries u32 raw size + raw bytes; PERF_RECORD_LOST (2)
 * carries u64 id, u64 lost. Records may wrap at the end of the ring (no double mapping here),
 * so a wrapping record is copied out.
 */
import { errors } from '../deps.ts';
import { mapUpdate } from '../sys/bpf.ts';
import { onlineCpus } from '../sys/cpus.ts';
import { Epoll } from '../sys/epoll.ts';
import { libc } from '../sys/libc.ts';
import { NativeBuffer } from '../sys/native.ts';
import {
  PERF_COUNT_SW_BPF_OUTPUT,
  PERF_SAMPLE_RAW,
  PerfIoctl,
  PerfType,
  perfEventOpen,
  perfIoctl,
} from '../sys/perf.ts';
import {
  type Column,
  type ColumnBatch,
  type ColumnCodec,
  type ColumnDecode,
  sourceMemory,
} from './columns.ts';
import { Mapping, PAGE_SIZE, PROT_READ, PROT_WRITE } from './mmap.ts';

const RECORD_SAMPLE = 9;
const RECORD_LOST = 2;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type PerfEvent<T> = { cpu: number; data: T } | { cpu: number; lost: number };

export interface PerfBufferOptions<T> {
  /** Data pages per CPU (a power of two); default 8. */
  pageCount?: number;
  decode?: (bytes: Uint8Array) => T;
  /** The record type's columnar decoder, made on the first columns() call. */
  columns?: () => ColumnCodec;
}

interface CpuRing {
  cpu: number;
  fd: number;
  map: Mapping;
  head: BigUint64Array;
  data: Uint8Array;
  /** The data as 32-bit words (host order), for headers and payload copies. */
  words: Uint32Array;
}

export class PerfBuffer<T = Uint8Array> implements AsyncIterable<PerfEvent<T>> {
  private readonly rings: CpuRing[] = [];
  private readonly epoll: Epoll;
  private readonly dataSize: number;
  private readonly decode: (bytes: Uint8Array) => T;
  private readonly columnCodec: (() => ColumnCodec) | undefined;
  private closed = false;
  private waiter: (() => void) | undefined;

  constructor(
    readonly name: string,
    mapFd: number,
    maxEntries: number,
    opts: PerfBufferOptions<T> = {},
  ) {
    const pages = opts.pageCount ?? 8;
    if (!Number.isInteger(pages) || pages < 1 || pages & (pages - 1))
      throw errors.badOption(`perf buffer '${name}': pageCount must be a power of two, got ${pages}`);
    this.dataSize = pages * PAGE_SIZE;
    this.decode = opts.decode ?? ((b) => b.slice() as unknown as T);
    this.columnCodec = opts.columns;
    this.epoll = new Epoll(64);
    const key = new NativeBuffer(4);
    const val = new NativeBuffer(4);
    try {
      for (const cpu of onlineCpus()) {
        if (cpu >= maxEntries) break;
        const fd = perfEventOpen(
          {
            type: PerfType.SOFTWARE,
            config: PERF_COUNT_SW_BPF_OUTPUT,
            sampleType: PERF_SAMPLE_RAW,
            samplePeriod: 1,
            wakeupEvents: 1,
          },
          -1,
          cpu,
          `perf buffer ${name} cpu ${cpu}`,
        );
        let map: Mapping;
        try {
          map = new Mapping(
            fd,
            PAGE_SIZE + this.dataSize,
            PROT_READ | PROT_WRITE,
            0,
            `perf buffer ${name} cpu ${cpu}`,
          );
        } catch (e) {
          libc.close(fd);
          throw e;
        }
        this.rings.push({
          cpu,
          fd,
          map,
          head: new BigUint64Array(map.buffer, 1024, 2),
          data: new Uint8Array(map.buffer, PAGE_SIZE, this.dataSize),
          words: new Uint32Array(map.buffer, PAGE_SIZE, this.dataSize >> 2),
        });
        perfIoctl(fd, PerfIoctl.ENABLE, 0, `perf buffer ${name}`);
        key.view.setUint32(0, cpu, LE);
        val.view.setUint32(0, fd, LE);
        mapUpdate(mapFd, key.address, val.address);
        this.epoll.add(fd, this.rings.length - 1);
      }
    } catch (e) {
      this.close();
      throw e;
    } finally {
      key.free();
      val.free();
    }
  }

  /** Hands every event available now to `cb`; returns how many. */
  consume(cb: (ev: PerfEvent<Uint8Array>) => void): number {
    if (this.closed) return 0;
    let n = 0;
    for (const r of this.rings) {
      const head = Number(Atomics.load(r.head, 0));
      let tail = Number(r.head[1]);
      while (tail < head) {
        const off = tail % this.dataSize;
        const hdr = this.read(r.data, off, 8);
        const hv = new DataView(hdr.buffer, hdr.byteOffset, 8);
        const type = hv.getUint32(0, LE);
        const size = hv.getUint16(6, LE);
        if (size < 8) break;
        const rec = this.read(r.data, off, size);
        const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
        if (type === RECORD_SAMPLE) {
          const len = rv.getUint32(8, LE);
          cb({ cpu: r.cpu, data: rec.subarray(12, 12 + len) });
          n++;
        } else if (type === RECORD_LOST) {
          cb({ cpu: r.cpu, lost: Number(rv.getBigUint64(16, LE)) });
          n++;
        }
        tail += size;
        Atomics.store(r.head, 1, BigInt(tail));
      }
    }
    return n;
  }

  /** `len` bytes at `off` of the ring: a view, or a copy when the record wraps. */
  private read(data: Uint8Array, off: number, len: number): Uint8Array {
    if (off + len <= this.dataSize) return data.subarray(off, off + len);
    const out = new Uint8Array(len);
    const first = this.dataSize - off;
    out.set(data.subarray(off), 0);
    out.set(data.subarray(0, len - first), first);
    return out;
  }

  /** Whether some CPU's ring holds records not yet consumed. */
  private pending(): boolean {
    return this.rings.some((r) => Atomics.load(r.head, 0) !== r.head[1]);
  }

  /**
   * Resolves once a ring has records. The epoll fd stays registered with the event loop for
   * the buffer's life (a perf event's readiness is an edge: the kernel clears it when polled,
   * so a watcher dropped and made again between batches can miss the one wakeup there is).
   * The waiter is set first and the rings checked after: a sample written before that check is
   * seen by it, one written after wakes the listener.
   */
  private readable(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.epoll.listen(() => {
        this.epoll.wait(0);
        this.wake();
      });
      this.epoll.waiting(true);
      if (this.pending()) this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    if (!this.closed) this.epoll.waiting(false);
    w();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PerfEvent<T>> {
    for (;;) {
      if (this.closed) return;
      const batch: PerfEvent<T>[] = [];
      this.consume((ev) => batch.push('data' in ev ? { cpu: ev.cpu, data: this.decode(ev.data) } : ev));
      for (const ev of batch) yield ev;
      if (this.closed) return;
      if (batch.length === 0) await this.readable();
    }
  }

  /**
   * Takes up to `max` samples available now, from every CPU, decoded into columns (one typed
   * array per field, see columns.ts; `batch.cpu[i]` is sample i's CPU, `batch.lost` what the
   * kernel reported lost). The same batch object and arrays are refilled at every call.
   */
  columns<C = Record<string, Column>>(max = 4096): ColumnBatch<C> {
    const c = this.columnState(max);
    const { batch, scratch, scratchWords, stride, offs, sizes } = c;
    batch.length = 0;
    batch.lost = 0;
    if (this.closed) return batch as ColumnBatch<C>;
    const ds = this.dataSize;
    // Ring offsets by masking (the size is a power of two): `&` takes a position past 2^31
    // modulo 2^32, a multiple of the size, where `%` of a double costs a division per use.
    const mask = ds - 1;
    let n = 0;
    // Rings are visited from a rotating first one, so a busy CPU cannot starve the others.
    const count = this.rings.length;
    for (let q = 0; q < count && n < max; q++) {
      const r = this.rings[(c.next + q) % count] as CpuRing;
      const d = r.data;
      const words = r.words;
      const head = Number(Atomics.load(r.head, 0));
      let tail = Number(r.head[1]);
      while (tail < head && n < max) {
        // Records start 8-aligned: the header (type u32, misc u16, size u16) never wraps.
        const off = tail & mask;
        const type = words[off >> 2] as number;
        const s0 = d[off + 6] as number;
        const s1 = d[off + 7] as number;
        const size = LE ? s0 | (s1 << 8) : (s0 << 8) | s1;
        if (size < 8) break;
        if (type === RECORD_SAMPLE) {
          const len = word(d, off + 8, ds);
          const from = (off + 12) & mask;
          const take = Math.min(len, stride);
          const at = n * stride;
          // Whole 32-bit words where the copy does not wrap (the payload is 4-aligned, a
          // sample's start in the scratch 8-aligned; bytes past `len` are zero-filled by
          // the decoder), bytes otherwise.
          const nw = (take + 3) >> 2;
          if (from + 4 * nw <= ds)
            for (let k = 0, a = at >> 2, f = from >> 2; k < nw; k++)
              scratchWords[a + k] = words[f + k] as number;
          else for (let k = 0; k < take; k++) scratch[at + k] = d[(from + k) & mask] as number;
          offs[n] = at;
          sizes[n] = len;
          batch.cpu[n] = r.cpu;
          n++;
        } else if (type === RECORD_LOST) {
          const lo = word(d, off + (LE ? 16 : 20), ds);
          const hi = word(d, off + (LE ? 20 : 16), ds);
          batch.lost += lo + hi * 2 ** 32;
        }
        tail += size;
      }
      Atomics.store(r.head, 1, BigInt(tail));
    }
    c.next = count > 0 ? (c.next + 1) % count : 0;
    c.decode(offs, sizes, n, 0);
    batch.length = n;
    return batch as ColumnBatch<C>;
  }

  /** columns() batches as they come (those with only lost counts too), waiting when idle. */
  async *columnBatches<C = Record<string, Column>>(
    max = 4096,
  ): AsyncGenerator<ColumnBatch<C>, void, undefined> {
    for (;;) {
      if (this.closed) return;
      const b = this.columns<C>(max);
      if (b.length > 0 || b.lost > 0) yield b;
      else await this.readable();
    }
  }

  private columnar:
    | {
        batch: ColumnBatch<unknown>;
        decode: ColumnDecode;
        scratch: Uint8Array;
        scratchWords: Uint32Array;
        stride: number;
        offs: Int32Array;
        sizes: Int32Array;
        next: number;
      }
    | undefined;

  /** The columns' batch and decoder, over a scratch copy of the samples (8-byte aligned). */
  private columnState(max: number) {
    const c = this.columnar;
    if (c && c.batch.capacity >= max) return c;
    const codec = this.columnCodec?.();
    if (!codec)
      throw errors.badOption(`perf buffer '${this.name}': no record type to make columns of (give a type)`);
    const capacity = Math.max(max, c?.batch.capacity ?? 0);
    const stride = Math.max(8, (codec.size + 7) & ~7);
    const buf = new ArrayBuffer(stride * capacity);
    const bound = codec.bind<unknown>(sourceMemory(buf, 0, buf.byteLength), capacity);
    this.columnar = {
      ...bound,
      scratch: new Uint8Array(buf),
      scratchWords: new Uint32Array(buf),
      stride,
      offs: new Int32Array(capacity),
      sizes: new Int32Array(capacity),
      next: c?.next ?? 0,
    };
    return this.columnar;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    this.epoll.close();
    for (const r of this.rings) {
      r.map.unmap();
      libc.close(r.fd);
    }
    this.rings.length = 0;
  }
}

/** The u32 at `off` of a perf ring of `ds` bytes (it may wrap), in host byte order. */
function word(d: Uint8Array, off: number, ds: number): number {
  const b0 = d[off % ds] as number;
  const b1 = d[(off + 1) % ds] as number;
  const b2 = d[(off + 2) % ds] as number;
  const b3 = d[(off + 3) % ds] as number;
  return (LE ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}
