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
import { Mapping, PAGE_SIZE, PROT_READ, PROT_WRITE } from './mmap.ts';

const RECORD_SAMPLE = 9;
const RECORD_LOST = 2;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type PerfEvent<T> = { cpu: number; data: T } | { cpu: number; lost: number };

export interface PerfBufferOptions<T> {
  /** Data pages per CPU (a power of two); default 8. */
  pageCount?: number;
  decode?: (bytes: Uint8Array) => T;
}

interface CpuRing {
  cpu: number;
  fd: number;
  map: Mapping;
  head: BigUint64Array;
  data: Uint8Array;
}

export class PerfBuffer<T = Uint8Array> implements AsyncIterable<PerfEvent<T>> {
  private readonly rings: CpuRing[] = [];
  private readonly epoll: Epoll;
  private readonly dataSize: number;
  private readonly decode: (bytes: Uint8Array) => T;
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
