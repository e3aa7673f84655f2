/**
 * A created map and typed access to it. Keys and values go through codecs (the skeleton's, or
 * ones derived from the map's BTF); without BTF types they are raw bytes. Per-CPU maps hold one
 * value per possible CPU, each rounded up to 8 bytes, as the kernel copies them.
 */
import type { RuntimeCodec } from '../deps.ts';
import type { MapSpec } from '../loader/maps.ts';
import { MapType } from '../loader/maps.ts';
import { mapDelete, mapGetNextKey, mapLookup, mapUpdate, objInfo, UpdateFlags } from '../sys/bpf.ts';
import { possibleCpus } from '../sys/cpus.ts';
import { NativeBuffer, Scratch } from '../sys/native.ts';

export interface Codec<T> {
  size: number;
  decode(bytes: Uint8Array, offset?: number): T;
  encodeInto(value: T, bytes: Uint8Array, offset?: number): void;
}

/** The identity codec: values are byte arrays of the map's size. */
export function bytesCodec(size: number): Codec<Uint8Array> {
  return {
    size,
    decode: (b, o = 0) => b.slice(o, o + size),
    encodeInto: (v, b, o = 0) => {
      if (!(v instanceof Uint8Array) || v.length !== size) throw new TypeError(`expected ${size} bytes`);
      b.set(v, o);
    },
  };
}

export function fromRuntimeCodec(c: RuntimeCodec): Codec<unknown> {
  return {
    size: c.size,
    decode: (b, o = 0) => c.decode(b, o),
    encodeInto: (v, b, o = 0) => c.encodeInto(v, b, o),
  };
}

const PERCPU = new Set<number>([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  21 /* PERCPU_CGROUP_STORAGE */,
]);

export class BpfMap<K = unknown, V = unknown> {
  private readonly scratch = new Scratch(64);
  private readonly perCpu: boolean;
  private readonly slot: number;
  private readonly ncpu: number;

  constructor(
    readonly name: string,
    readonly fd: number,
    readonly spec: MapSpec,
    readonly key: Codec<K>,
    readonly value: Codec<V>,
  ) {
    this.perCpu = PERCPU.has(spec.mapType);
    this.slot = Math.ceil(spec.valueSize / 8) * 8;
    this.ncpu = this.perCpu ? possibleCpus().length : 1;
  }

  get type(): number {
    return this.spec.mapType;
  }

  /** The kernel's id for the map (as `bpftool map show` lists it). */
  get id(): number {
    return objInfo(this.fd).id;
  }

  private valueBytes(): number {
    return this.perCpu ? this.slot * this.ncpu : this.spec.valueSize;
  }

  /** The value for `key`, or undefined. Per-CPU maps give one value per possible CPU. */
  lookup(key: K): (V extends never ? never : V) | V[] | undefined {
    const ks = this.spec.keySize;
    const buf = this.scratch.get(ks + this.valueBytes());
    this.key.encodeInto(key, buf.bytes, 0);
    if (!mapLookup(this.fd, buf.address, buf.address + BigInt(ks))) return undefined;
    if (!this.perCpu) return this.value.decode(buf.bytes, ks);
    const out: V[] = [];
    for (let c = 0; c < this.ncpu; c++) out.push(this.value.decode(buf.bytes, ks + c * this.slot));
    return out;
  }

  /** Sets `key` (BPF_ANY by default; 'noexist' / 'exist' as the kernel flags say). */
  update(key: K, value: V, mode: 'any' | 'noexist' | 'exist' = 'any'): void {
    const ks = this.spec.keySize;
    const buf = this.scratch.get(ks + this.valueBytes());
    this.key.encodeInto(key, buf.bytes, 0);
    if (this.perCpu) {
      const values = Array.isArray(value) ? (value as V[]) : Array.from({ length: this.ncpu }, () => value);
      values.forEach((v, c) => {
        this.value.encodeInto(v, buf.bytes, ks + c * this.slot);
      });
    } else {
      this.value.encodeInto(value, buf.bytes, ks);
    }
    const flags =
      mode === 'noexist' ? UpdateFlags.NOEXIST : mode === 'exist' ? UpdateFlags.EXIST : UpdateFlags.ANY;
    mapUpdate(this.fd, buf.address, buf.address + BigInt(ks), flags);
  }

  /** Removes `key`; false when it was not there. */
  delete(key: K): boolean {
    const buf = this.scratch.get(this.spec.keySize);
    this.key.encodeInto(key, buf.bytes, 0);
    return mapDelete(this.fd, buf.address);
  }

  /** Every key, in the kernel's iteration order. */
  *keys(): Generator<K> {
    const ks = this.spec.keySize;
    // [current key | next key]: each step copies "next" over "current" and asks again.
    const b = new NativeBuffer(ks * 2);
    try {
      let have = false;
      for (;;) {
        if (have) b.bytes.copyWithin(0, ks, ks * 2);
        if (!mapGetNextKey(this.fd, have ? b.address : 0n, b.address + BigInt(ks))) return;
        have = true;
        yield this.key.decode(b.bytes, ks);
      }
    } finally {
      b.free();
    }
  }

  /** [key, value] pairs; entries deleted meanwhile are skipped. */
  *entries(): Generator<[K, V | V[]]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v as V | V[]];
    }
  }

  [Symbol.iterator](): Generator<[K, V | V[]]> {
    return this.entries();
  }

  /** @internal Ring buffers and perf event arrays: opens their consumer (set by LoadedObject). */
  stream: (() => AsyncIterable<unknown>) | undefined;

  /**
   * `for await (const ev of obj.maps.events)`: the records of a ring buffer (or the samples of
   * a perf event array), decoded by the map's record type.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (!this.stream) throw new TypeError(`map '${this.name}' is not a ring buffer or perf event array`);
    return this.stream()[Symbol.asyncIterator]();
  }

  close(): void {
    this.scratch.free();
  }
}
