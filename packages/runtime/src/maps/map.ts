/**
 * A created map and typed access to it. Keys and values go through codecs (the skeleton's, or
 * ones derived from the map's BTF); without BTF types they are raw bytes. Per-CPU maps are their
 * own type (PerCpuMap): their value is one value per possible CPU, each rounded up to 8 bytes,
 * as the kernel copies them.
 */

import { errors, MapType, type RuntimeCodec } from '../deps.ts';
import type { MapSpec } from '../loader/maps.ts';
import { mapDelete, mapGetNextKey, mapLookup, mapUpdate, objInfo, UpdateFlags } from '../sys/bpf.ts';
import { possibleCpus } from '../sys/cpus.ts';
import { NativeBuffer, Scratch } from '../sys/native.ts';
import type { Column, ColumnBatch } from './columns.ts';

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
      if (!(v instanceof Uint8Array) || v.length !== size)
        throw errors.badOption(
          `expected a Uint8Array of ${size} bytes, got ${v instanceof Uint8Array ? `${v.length} bytes` : typeof v}`,
        );
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

/** Map types whose value is one slot per possible CPU (uapi bpf.h numbers). */
export const PERCPU_MAP_TYPES: ReadonlySet<number> = new Set<number>([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  21 /* PERCPU_CGROUP_STORAGE */,
]);

/**
 * A map whose value is `V`. `E` is what `for await` over it yields: the record type of a ring
 * buffer, the samples of a perf event array; `never` for maps that are not streams. `C` is
 * the shape of its columnar batches (column name → typed array), as codegen types it.
 */
export class BpfMap<K = unknown, V = unknown, E = unknown, C = Record<string, Column>> {
  private readonly scratch = new Scratch(64);

  constructor(
    readonly name: string,
    readonly fd: number,
    readonly spec: MapSpec,
    readonly key: Codec<K>,
    readonly value: Codec<V>,
  ) {}

  get type(): number {
    return this.spec.mapType;
  }

  /** The kernel's id for the map (as `bpftool map show` lists it). */
  get id(): number {
    return objInfo(this.fd).id;
  }

  /** The value for `key`, or undefined. */
  lookup(key: K): V | undefined {
    const ks = this.spec.keySize;
    const buf = this.scratch.get(ks + this.value.size);
    this.key.encodeInto(key, buf.bytes, 0);
    if (!mapLookup(this.fd, buf.address, buf.address + BigInt(ks))) return undefined;
    return this.value.decode(buf.bytes, ks);
  }

  /** Sets `key` (BPF_ANY by default; 'noexist' / 'exist' as the kernel flags say). */
  update(key: K, value: V, mode: 'any' | 'noexist' | 'exist' = 'any'): void {
    const ks = this.spec.keySize;
    const buf = this.scratch.get(ks + this.value.size);
    this.key.encodeInto(key, buf.bytes, 0);
    this.value.encodeInto(value, buf.bytes, ks);
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
  *entries(): Generator<[K, V]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  /** @internal Ring buffers and perf event arrays: opens their consumer (set by LoadedObject). */
  stream: (() => AsyncIterable<E>) | undefined;

  /** @internal Ring buffers and perf event arrays: their columnar batches (set by LoadedObject). */
  columnStream: ((max?: number) => AsyncIterable<ColumnBatch<C>>) | undefined;

  /**
   * `for await (const batch of obj.maps.events.columns())`: the records as columnar batches
   * (one typed array per field, refilled by each batch; see RingBuffer.columns()).
   */
  columns(max?: number): AsyncIterable<ColumnBatch<C>> {
    if (!this.columnStream)
      throw errors.badOption(`map '${this.name}' is not a ring buffer or perf event array`);
    return this.columnStream(max);
  }

  /**
   * `for await (const ev of obj.maps.events)`: the records of a ring buffer (or the samples of
   * a perf event array), decoded by the map's record type.
   */
  [Symbol.asyncIterator](): AsyncIterator<E> {
    if (!this.stream) throw errors.badOption(`map '${this.name}' is not a ring buffer or perf event array`);
    return this.stream()[Symbol.asyncIterator]();
  }

  close(): void {
    this.scratch.free();
  }
}

/**
 * A per-CPU map (percpu_hash, percpu_array, lru_percpu_hash, percpu_cgroup_storage): a lookup
 * gives one `V` per possible CPU, an update takes one per CPU (or `updateAll` one for every CPU).
 */
export class PerCpuMap<K = unknown, V = unknown> extends BpfMap<K, V[], never> {
  readonly cpus: number;

  constructor(
    name: string,
    fd: number,
    spec: MapSpec,
    key: Codec<K>,
    /** The codec of one CPU's value. */
    readonly cpuValue: Codec<V>,
    cpus = possibleCpus().length,
  ) {
    super(name, fd, spec, key, perCpuCodec(name, cpuValue, spec.valueSize, cpus));
    this.cpus = cpus;
  }

  /** Sets `key` to the same value on every possible CPU. */
  updateAll(key: K, value: V, mode: 'any' | 'noexist' | 'exist' = 'any'): void {
    this.update(
      key,
      Array.from({ length: this.cpus }, () => value),
      mode,
    );
  }
}

/** One value per CPU, each in a slot rounded up to 8 bytes (the kernel's per-CPU copy layout). */
function perCpuCodec<V>(map: string, one: Codec<V>, valueSize: number, cpus: number): Codec<V[]> {
  const slot = Math.ceil(valueSize / 8) * 8;
  return {
    size: slot * cpus,
    decode: (b, o = 0) => Array.from({ length: cpus }, (_, c) => one.decode(b, o + c * slot)),
    encodeInto: (values, b, o = 0) => {
      if (!Array.isArray(values) || values.length !== cpus) {
        throw errors.badOption(
          `map '${map}' is per-CPU: an update takes ${cpus} values (one per possible CPU), got ${Array.isArray(values) ? values.length : typeof values}`,
        );
      }
      b.fill(0, o, o + slot * cpus);
      values.forEach((v, c) => {
        one.encodeInto(v, b, o + c * slot);
      });
    },
  };
}
