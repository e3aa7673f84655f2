/**
 * epoll over a set of fds (ring buffer maps, per-CPU perf events). The epoll fd itself is
 * watched by the Node event loop (koffi's poll helper), so consumers wake without blocking the
 * JS thread; epoll_wait with timeout 0 then says which member is ready.
 *
 * struct epoll_event is packed on x86_64 (12 bytes, data @4) and naturally aligned elsewhere
 * (16 bytes, data @8).
 */
import { arch } from 'node:os';
import { kernelError } from './errors.ts';
import { koffi, libc } from './libc.ts';
import { NativeBuffer } from './native.ts';

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
export const EPOLLIN = 1;
const PACKED = arch() === 'x64';
const EVENT_SIZE = PACKED ? 12 : 16;
const DATA_OFF = PACKED ? 4 : 8;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class Epoll {
  readonly fd: number;
  private readonly events: NativeBuffer;
  private poller:
    | { close(): void; stop(): void; start(cb: () => void): void; ref(): void; unref(): void }
    | undefined;
  private closed = false;

  constructor(readonly capacity = 64) {
    this.fd = libc.epollCreate1(EPOLL_CLOEXEC);
    if (this.fd < 0) throw kernelError('epoll_create1', libc.errno());
    this.events = new NativeBuffer(EVENT_SIZE * capacity);
  }

  /** Watches `fd` for readability; `tag` comes back from wait(). */
  add(fd: number, tag: number): void {
    const ev = new NativeBuffer(EVENT_SIZE);
    try {
      ev.view.setUint32(0, EPOLLIN, LE);
      ev.view.setBigUint64(DATA_OFF, BigInt(tag), LE);
      if (libc.epollCtl(this.fd, EPOLL_CTL_ADD, fd, ev.address) < 0)
        throw kernelError('epoll_ctl', libc.errno());
    } finally {
      ev.free();
    }
  }

  /** Tags of ready fds; `timeoutMs` 0 = do not block (the usual case, see above). */
  wait(timeoutMs = 0): number[] {
    const n = libc.epollWait(this.fd, this.events.address, this.capacity, timeoutMs);
    if (n < 0) {
      const e = libc.errno();
      if (e === 4) return []; // EINTR
      throw kernelError('epoll_wait', e);
    }
    const tags: number[] = [];
    for (let i = 0; i < n; i++)
      tags.push(Number(this.events.view.getBigUint64(i * EVENT_SIZE + DATA_OFF, LE)));
    return tags;
  }

  /**
   * Calls `cb` from the event loop whenever some member is readable. The poll handle is
   * unref'd while idle by the caller's choice (`ref` false keeps the process from staying alive).
   */
  watch(cb: () => void): void {
    if (this.poller) return;
    this.poller = koffi.node.poll(this.fd, { readable: true }, () => cb()) as unknown as typeof this.poller;
  }

  /**
   * One registration for the consumer's whole life: `cb` runs from the event loop whenever a
   * member is readable. The handle keeps the process alive only while `waiting(true)`: an idle
   * consumer does not hold the process open, a waiting one does.
   */
  listen(cb: () => void): void {
    if (this.poller) return;
    const handle = koffi.node.poll(this.fd, { readable: true }, () => cb());
    handle.unref();
    this.poller = handle as unknown as typeof this.poller;
  }

  /** Whether the process should stay alive for the listener (a consumer is waiting). */
  waiting(on: boolean): void {
    if (on) this.poller?.ref();
    else this.poller?.unref();
  }

  unwatch(): void {
    this.poller?.close();
    this.poller = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    libc.close(this.fd);
    this.events.free();
  }
}
