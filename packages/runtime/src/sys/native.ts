/**
 * Native memory the kernel may read or write through pointers: koffi-allocated, never moved by
 * the garbage collector, visible from JS through an ArrayBuffer view without copies. bpf_attr
 * and everything it points to (instructions, log buffer, keys, values, BTF) live here.
 */
import { koffi } from './libc.ts';

export class NativeBuffer {
  readonly address: bigint;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  private handle: unknown;

  constructor(readonly size: number) {
    // A zero-size allocation has no address the kernel accepts; keep at least one byte.
    const n = Math.max(1, size);
    this.handle = koffi.alloc('uint8_t', n);
    this.address = koffi.address(this.handle);
    const ab = koffi.view(this.handle, n);
    this.bytes = new Uint8Array(ab, 0, size);
    this.view = new DataView(ab, 0, n);
  }

  /** A copy of `data` in native memory. */
  static from(data: Uint8Array): NativeBuffer {
    const b = new NativeBuffer(data.length);
    b.bytes.set(data);
    return b;
  }

  /** A NUL-terminated copy of a string. */
  static cString(s: string): NativeBuffer {
    const enc = new TextEncoder().encode(s);
    const b = new NativeBuffer(enc.length + 1);
    b.bytes.set(enc);
    return b;
  }

  free(): void {
    if (this.handle === undefined) return;
    koffi.free(this.handle);
    this.handle = undefined;
  }
}

/**
 * A growable scratch area reused across calls (map keys and values, small attrs), so a map
 * lookup in a loop allocates nothing. Not reentrant: callers copy results out before the next
 * call.
 */
export class Scratch {
  private buf: NativeBuffer;
  constructor(initial = 256) {
    this.buf = new NativeBuffer(initial);
  }
  /** At least `size` zeroed bytes. */
  get(size: number): NativeBuffer {
    if (size > this.buf.size) {
      this.buf.free();
      this.buf = new NativeBuffer(Math.max(size, this.buf.size * 2));
    }
    this.buf.bytes.fill(0, 0, size);
    return this.buf;
  }
  free(): void {
    this.buf.free();
  }
}
