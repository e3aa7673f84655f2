// The skeleton module's types. A generated `probe.bpf.d.o.ts` fills in the shape of one object;
// `unplugin-btfkit/client` types any `*.bpf.o` import with the generic shape.

import type {
  AttachOptions,
  BpfMap,
  BytesColumn,
  CharColumn,
  LoadedObject,
  PerCpuMap,
  PerfEvent,
} from '@btfkit/runtime';

/** Columns of char[N] fields (a byte slab, `string(i)`) and of raw-byte fields. */
export type { BytesColumn, CharColumn };

/** What a codec accepts when encoding: any subset of the fields (the rest are written as zero). */
export type DeepPartial<T> = T extends bigint | number | string | boolean | Uint8Array
  ? T
  : T extends readonly (infer E)[]
    ? readonly DeepPartial<E>[]
    : { [K in keyof T]?: DeepPartial<T[K]> };

export interface FieldLayout {
  readonly name: string;
  readonly bitOffset: number;
  readonly bitSize: number;
  readonly size: number;
}

/** Decodes and encodes one BTF type; `size` is its BTF size in bytes. */
export interface Codec<T> {
  readonly size: number;
  decode(bytes: Uint8Array | DataView, offset?: number): T;
  encode(value: DeepPartial<T>): Uint8Array;
  encodeInto(value: DeepPartial<T>, bytes: Uint8Array | DataView, offset?: number): void;
  /** Structs and unions: where each field is (anonymous members flattened). */
  readonly layout?: readonly FieldLayout[];
}

/** An enum decodes to its value's name (or the number when no name matches). */
export interface EnumCodec<T> extends Codec<T> {
  readonly values: Readonly<Record<Extract<T, string>, number | bigint>>;
}

export interface ProgramInfo {
  readonly name: string;
  /** The ELF section, e.g. "tracepoint/syscalls/sys_enter_execve". */
  readonly section: string;
  /** BPF program type as bpftool names it: "kprobe", "tracepoint", "tracing", "xdp", ... */
  readonly type: string;
  /** The section prefix libbpf matched: "kprobe", "kretprobe", "fentry", "tp_btf", ... */
  readonly attach: string;
  readonly target: string | undefined;
}

type CodecOf<T> = [T] extends [never] ? undefined : Codec<T>;

/**
 * `C`: a ring buffer's or perf event array's columnar batch shape (column name → typed
 * array), what `map.columns()` batches hold.
 */
export interface MapInfo<K, V, E, T extends string = string, C = never> {
  readonly name: string;
  /** BPF map type ("hash", "ringbuf", ...) and its number. */
  readonly type: T;
  readonly typeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly key: CodecOf<K>;
  readonly value: CodecOf<V>;
  /** Ring buffer / perf event array record type, from `__type(value, ...)` or an `event:` decl tag. */
  readonly event: CodecOf<E>;
  /** Type only (never set): the columns shape `C`, carried for LoadedMap. */
  readonly columnsShape?: C;
}

export interface GlobalVar<T> {
  readonly name: string;
  /** .rodata, .data, .bss, or a .data.* / .rodata.* section. */
  readonly section: string;
  readonly offset: number;
  /** The variable's BTF width: `encode` always returns exactly this many bytes. */
  readonly size: number;
  /** The value the object's ELF gives it. */
  readonly initial: T;
  readonly codec: Codec<T>;
  decode(bytes: Uint8Array | DataView): T;
  encode(value: DeepPartial<T>): Uint8Array;
}

export interface KernelInfo {
  readonly distro: string;
  readonly version: string;
  readonly arch: string;
  readonly release: string;
}

export type BtfResult =
  | { readonly bytes: Uint8Array; readonly kernel: KernelInfo; readonly reason?: undefined }
  | { readonly bytes: undefined; readonly reason: string; readonly kernel?: undefined };

export interface SkeletonShape {
  name: string;
  programs: Record<string, ProgramInfo>;
  // biome-ignore lint/suspicious/noExplicitAny: any column shape (MapInfo's C is invariant-free data)
  maps: Record<string, MapInfo<unknown, unknown, unknown, string, any>>;
  globals: Record<string, GlobalVar<unknown>>;
  types: Record<string, Codec<unknown>>;
}

type GlobalValues<S extends SkeletonShape> = {
  [K in keyof S['globals']]?: S['globals'][K] extends GlobalVar<infer T> ? DeepPartial<T> : never;
};

export interface LoadOptions<S extends SkeletonShape> {
  /** Initial values for globals (.rodata is frozen after load). */
  globals?: GlobalValues<S>;
  /** Kernel BTF for CO-RE; default: the configured kernel matching the running one, if any. */
  btf?: Uint8Array;
  /** `false`: do not look up the running kernel's minimized BTF. */
  kernelBtf?: false;
  /** CO-RE against `btf` even when the kernel exposes /sys/kernel/btf/vmlinux. */
  preferGivenBtf?: boolean;
  /** Load only these programs (default: all). */
  programs?: readonly (keyof S['programs'] & string)[];
  /** Verifier log level used when a program is rejected (1 default, 2 verbose). */
  logLevel?: number;
  /** Whose CO-RE decisions to make; default: the plugin's `libbpf` option, else '1.1'. */
  libbpf?: '1.1' | '1.7';
}

/** Map types whose value is one slot per possible CPU. */
type PerCpuMapType = 'percpu_hash' | 'percpu_array' | 'lru_percpu_hash' | 'percpu_cgroup_storage';

/** A key, value or event without a BTF type is raw bytes. */
type Data<T> = [T] extends [never] ? Uint8Array : T;

/** The runtime map for a skeleton map: typed by its codecs, iterable when it is a stream. */
/** Columns of a record type; without one, whatever columns() finds (it then throws). */
type Columns<C> = [C] extends [never] ? Record<string, unknown> : C;

export type LoadedMap<M> =
  M extends MapInfo<infer K, infer V, infer E, infer T, infer C>
    ? string extends T
      ? BpfMap<Data<K>, Data<V>, unknown>
      : T extends PerCpuMapType
        ? PerCpuMap<Data<K>, Data<V>>
        : T extends 'ringbuf'
          ? BpfMap<Data<K>, Data<V>, Data<E>, Columns<C>>
          : T extends 'perf_event_array'
            ? BpfMap<Data<K>, Data<V>, PerfEvent<Data<E>>, Columns<C>>
            : BpfMap<Data<K>, Data<V>, never>
    : never;

/** What `load()` resolves to: @btfkit/runtime's LoadedObject with this object's maps and programs. */
export type Loaded<S extends SkeletonShape> = LoadedObject<
  { readonly [K in keyof S['maps']]: LoadedMap<S['maps'][K]> },
  keyof S['programs'] & string
>;

export type { AttachOptions };

export interface Skeleton<S extends SkeletonShape = SkeletonShape> {
  readonly name: S['name'];
  /** The object's bytes. */
  object(): Promise<Uint8Array>;
  readonly programs: Readonly<S['programs']>;
  readonly maps: Readonly<S['maps']>;
  readonly globals: Readonly<S['globals']>;
  readonly types: Readonly<S['types']>;
  readonly kernels: readonly KernelInfo[];
  /** The minimized BTF for a configured kernel (by entry or release), or why there is none. */
  btfFor(kernel: KernelInfo | string): Promise<BtfResult>;
  btfForRunningKernel(): Promise<BtfResult>;
  /** Loads the object with @btfkit/runtime. */
  load(opts?: LoadOptions<S>): Promise<Loaded<S>>;
}
