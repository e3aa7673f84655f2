/**
 * The handle of a loaded object (what loadObject() in loader/pipeline.ts returns): its maps and
 * programs by name, attaching, typed readers of its maps and globals, and closing.
 */
import type { AttachOptions, Link } from './attach/attach.ts';
import { attachAny, attachable } from './attach/dispatch.ts';
import { USDT_SPEC_SIZE, type UsdtSpecTable } from './attach/usdt.ts';
import {
  type BpfObject,
  type Btf,
  createCodecs,
  errors,
  Kind,
  MapType,
  type ResolvedSection,
  TypeDescriber,
  type TypeId,
} from './deps.ts';
import { findDatasec } from './loader/btf-util.ts';
import type { MapSpec } from './loader/maps.ts';
import { ColumnCodec } from './maps/columns.ts';
import { BpfMap, bytesCodec, type Codec, fromRuntimeCodec, PERCPU_MAP_TYPES, PerCpuMap } from './maps/map.ts';
import { PerfBuffer, type PerfBufferOptions } from './maps/perfbuf.ts';
import { RecordViews } from './maps/record-view.ts';
import { RingBuffer, type RingBufferOptions } from './maps/ringbuf.ts';
import { type RunOptions, type RunResult, runProgram } from './program-run.ts';
import { closeFd } from './sys/bpf.ts';

export interface LoadedProgram {
  name: string;
  section: string;
  def: ResolvedSection;
  fd: number;
  /** Kernel program id (as `bpftool prog show` lists it). */
  id: number;
  /** The instructions handed to the kernel (host byte order). */
  insns: Uint8Array;
  /**
   * Runs the program once in the kernel on a packet and/or context (BPF_PROG_TEST_RUN), without
   * attaching it: its return value, the packet and context as it left them, the time it took.
   */
  run(data?: Uint8Array | null, ctx?: Uint8Array | null, opts?: RunOptions): RunResult;
}

/** Typed codecs per map name (the generated skeleton supplies them). */
export type MapCodecs = Record<string, { key?: Codec<unknown>; value?: Codec<unknown> }>;

/** Objects still open: closed when the process exits, as libbpf's users expect of their fds. */
const live = new Set<{ closeSync(): void }>();
let exitHook = false;

/** @internal Closes the handle at process exit unless it was closed before. */
export function closeAtExit(handle: LoadedObject): void {
  live.add(handle);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const o of live) o.closeSync();
    });
  }
}

/**
 * A loaded object: its maps and programs, and what is attached. `M` and `P` type the maps by
 * name and the program names; the generated skeleton fills them in from the object's BTF.
 */
export class LoadedObject<M = Record<string, BpfMap>, P extends string = string> {
  btfFd = -1;
  private readonly mapTable: Record<string, BpfMap> = {};
  private readonly programTable: Record<string, LoadedProgram> = {};
  /** The maps by name: ring buffers and perf event arrays are async iterables of their events. */
  readonly maps: M = this.mapTable as unknown as M;
  readonly programs: Readonly<Record<P, LoadedProgram>> = this.programTable as Record<P, LoadedProgram>;
  readonly links: Link[] = [];
  private readonly mapList: { spec: MapSpec; fd: number }[] = [];
  private readonly consumers: { close(): void }[] = [];
  private closed = false;
  private describer: TypeDescriber | undefined;
  private readonly columnCodecs = new Map<TypeId, ColumnCodec>();

  constructor(
    readonly object: BpfObject,
    /** The object's BTF as loaded (DATASECs fixed up). */
    readonly btf: Btf,
    private readonly opts: { codecs?: MapCodecs },
    /** Maps whose value size was set before load: the object's value codec no longer fits them. */
    private readonly resized: ReadonlySet<string> = new Set(),
  ) {}

  /** @internal */
  addMap(spec: MapSpec, fd: number): void {
    this.mapList.push({ spec, fd });
    const given = this.opts.codecs?.[spec.name];
    const key = given?.key ?? this.codecFor(spec.btfKeyTypeId, spec.keySize);
    const value =
      (this.resized.has(spec.name) ? undefined : given?.value) ??
      this.codecFor(spec.btfValueTypeId, spec.valueSize);
    if (PERCPU_MAP_TYPES.has(spec.mapType)) {
      this.mapTable[spec.name] = new PerCpuMap(spec.name, fd, spec, key, value) as BpfMap;
      return;
    }
    const map = new BpfMap(spec.name, fd, spec, key, value);
    if (spec.mapType === MapType.RINGBUF) {
      map.stream = () => this.ringbuf(spec.name);
      map.columnStream = (max) => this.ringbuf(spec.name).columnBatches(max);
    }
    if (spec.mapType === MapType.PERF_EVENT_ARRAY) {
      map.stream = () => this.perfbuf(spec.name);
      map.columnStream = (max) => this.perfbuf(spec.name).columnBatches(max);
    }
    this.mapTable[spec.name] = map;
  }

  /** @internal */
  mapFdAt(index: number): number {
    const m = this.mapList[index];
    if (!m) throw errors.badElf(0, `map #${index} does not exist`);
    return m.fd;
  }

  /** @internal */
  addProgram(p: Omit<LoadedProgram, 'run'>): void {
    this.programTable[p.name] = {
      ...p,
      run: (data, ctx, o) => runProgram(p.name, p.fd, p.def, data, ctx, o),
    };
  }

  private codecFor(typeId: TypeId, size: number): Codec<unknown> {
    if (!typeId || size === 0) return bytesCodec(size) as Codec<unknown>;
    this.describer ??= new TypeDescriber(this.btf);
    const desc = this.describer.describe(typeId);
    const { codec } = createCodecs(Object.fromEntries(this.describer.named), this.object.littleEndian);
    const c = codec(desc);
    return c.size === size ? fromRuntimeCodec(c) : (bytesCodec(size) as Codec<unknown>);
  }

  /**
   * Attaches every program whose section names a target (libbpf's auto-attach); per-program
   * options give or override targets, or `false` skips a program. On failure, the links made
   * by this call are removed again.
   */
  async attach(opts: { programs?: Partial<Record<P, AttachOptions | false>> } = {}): Promise<Link[]> {
    const made: Link[] = [];
    const given: Partial<Record<string, AttachOptions | false>> = opts.programs ?? {};
    try {
      for (const p of Object.values(this.programTable)) {
        const o = given[p.name];
        if (o === false) continue;
        if (!attachable(p.def, o || undefined)) continue;
        made.push(...attachAny(p.name, p.fd, p.def, o || {}, { usdtSpecs: () => this.usdtSpecs() }));
      }
    } catch (e) {
      for (const l of made) l.destroy();
      throw e;
    }
    this.links.push(...made);
    return made;
  }

  private usdtTable: UsdtSpecTable | undefined;

  /** usdt.bpf.h's spec map, its ids handed out in order (libbpf's spec ids). */
  private usdtSpecs(): UsdtSpecTable | undefined {
    if (!this.usdtTable) {
      const m = this.mapList.find((x) => x.spec.name === '__bpf_usdt_specs');
      if (!m) return undefined;
      if (m.spec.valueSize !== USDT_SPEC_SIZE)
        throw errors.unsupported(
          `__bpf_usdt_specs holds ${m.spec.valueSize}-byte values; this loader writes usdt.bpf.h's ${USDT_SPEC_SIZE}-byte struct __bpf_usdt_spec`,
        );
      this.usdtTable = { fd: m.fd, capacity: m.spec.maxEntries, next: 0 };
    }
    return this.usdtTable;
  }

  /** Detaches everything attached, keeping programs and maps loaded. */
  detach(): void {
    for (const l of this.links) l.destroy();
    this.links.length = 0;
  }

  map<K = unknown, V = unknown>(name: string): BpfMap<K, V> {
    const m = this.mapTable[name];
    if (!m) throw errors.badOption(`no map '${name}' (maps: ${Object.keys(this.mapTable).join(', ')})`);
    return m as unknown as BpfMap<K, V>;
  }

  /** A per-CPU map by name (its lookups give one value per possible CPU). */
  perCpuMap<K = unknown, V = unknown>(name: string): PerCpuMap<K, V> {
    const m = this.map(name);
    if (!(m instanceof PerCpuMap)) throw errors.badOption(`map '${name}' is not a per-CPU map`);
    return m as PerCpuMap<K, V>;
  }

  /**
   * Events of a BPF_MAP_TYPE_RINGBUF map as an async iterable (and zero-copy batches). Records
   * of a struct type (`type`, else the map's event tag or value type) are lazy typed views
   * whose fields are read when accessed; `decode` or `record` override that.
   */
  ringbuf<T = Uint8Array>(name: string, opts: RingBufferOptions<T> & { type?: string } = {}): RingBuffer<T> {
    const m = this.map(name);
    if (m.type !== MapType.RINGBUF) throw errors.badOption(`map '${name}' is not a ring buffer`);
    let o: RingBufferOptions<T> = opts;
    const id = opts.type ? this.typeNamed(opts.type) : m.spec.eventTypeId;
    if (!opts.decode && !opts.record && id) o = { ...this.recordOf<T>(id), ...opts };
    if (id && !o.columns) o = { ...o, columns: () => this.columnCodecOf(id) };
    const rb = new RingBuffer<T>(name, m.fd, m.spec.maxEntries, o);
    this.consumers.push(rb);
    return rb;
  }

  /** A lazy view class for struct/union records, else the codec's eager decode. */
  private recordOf<T>(id: TypeId): RingBufferOptions<T> {
    this.describer ??= new TypeDescriber(this.btf);
    const desc = this.describer.describe(id);
    const types = Object.fromEntries(this.describer.named);
    const View = new RecordViews(types, this.object.littleEndian).classOf<T>(desc);
    if (View) return { record: (v, off) => new View(v, off) };
    const c = createCodecs(types, this.object.littleEndian).codec(desc);
    return { decode: (b) => c.decode(b, 0) as T };
  }

  /** The columnar decoder of a record type (generated once per type and object). */
  private columnCodecOf(id: TypeId): ColumnCodec {
    let c = this.columnCodecs.get(id);
    if (!c) {
      this.describer ??= new TypeDescriber(this.btf);
      const desc = this.describer.describe(id);
      const types = Object.fromEntries(this.describer.named);
      const size = createCodecs(types, this.object.littleEndian).sizeOf(desc);
      c = new ColumnCodec(types, desc, size, this.object.littleEndian);
      this.columnCodecs.set(id, c);
    }
    return c;
  }

  /** Events of a BPF_MAP_TYPE_PERF_EVENT_ARRAY map as an async iterable. */
  perfbuf<T = Uint8Array>(name: string, opts: PerfBufferOptions<T> & { type?: string } = {}): PerfBuffer<T> {
    const m = this.map(name);
    if (m.type !== MapType.PERF_EVENT_ARRAY)
      throw errors.badOption(`map '${name}' is not a perf event array`);
    const decode = opts.decode ?? (opts.type ? this.decoder<T>(opts.type) : this.eventDecoder<T>(m.spec));
    const id = opts.type ? this.typeNamed(opts.type) : m.spec.eventTypeId;
    const columns = opts.columns ?? (id ? () => this.columnCodecOf(id) : undefined);
    const pb = new PerfBuffer<T>(name, m.fd, m.spec.maxEntries, {
      ...opts,
      ...(decode ? { decode } : {}),
      ...(columns ? { columns } : {}),
    });
    this.consumers.push(pb);
    return pb;
  }

  /** The decoder of a map's record type (event tag or value type), if it has one. */
  private eventDecoder<T>(spec: MapSpec): ((b: Uint8Array) => T) | undefined {
    if (!spec.eventTypeId) return undefined;
    this.describer ??= new TypeDescriber(this.btf);
    const desc = this.describer.describe(spec.eventTypeId);
    const { codec } = createCodecs(Object.fromEntries(this.describer.named), this.object.littleEndian);
    const c = codec(desc);
    return (b) => c.decode(b, 0) as T;
  }

  private decoder<T>(type: string): (b: Uint8Array) => T {
    const id = this.typeNamed(type);
    this.describer ??= new TypeDescriber(this.btf);
    const desc = this.describer.describe(id);
    const { codec } = createCodecs(Object.fromEntries(this.describer.named), this.object.littleEndian);
    const c = codec(desc);
    return (b) => c.decode(b, 0) as T;
  }

  /** The id of a record type named in C terms ('struct event', 'event'). */
  private typeNamed(type: string): TypeId {
    const bare = type.replace(/^(struct|union|enum)\s+/, '');
    const id = this.btf.byName(bare).find((i) => {
      const k = this.btf.type(i).kind;
      return k === Kind.Struct || k === Kind.Union || k === Kind.Typedef || k === Kind.Int || k === Kind.Enum;
    });
    if (id === undefined) throw errors.badOption(`the object's BTF has no type '${type}'`);
    return id;
  }

  /** The current value of a global variable (reads its section's map). */
  global(section: string, name: string): unknown {
    const sec = section.startsWith('.') ? section : `.${section}`;
    const m = this.mapTable[sec];
    const secId = findDatasec(this.btf, sec);
    if (!m || secId === undefined) throw errors.badOption(`no ${sec} section`);
    const ds = this.btf.type(secId);
    const vsi = ds.kind === Kind.Datasec ? ds.vars.find((v) => this.btf.name(v.type) === name) : undefined;
    if (!vsi) throw errors.badOption(`no variable '${name}' in ${sec}`);
    const v = this.btf.type(vsi.type);
    this.describer ??= new TypeDescriber(this.btf);
    const desc = this.describer.describe(v.kind === Kind.Var ? v.type : 0);
    const { codec } = createCodecs(Object.fromEntries(this.describer.named), this.object.littleEndian);
    const raw = new BpfMap(sec, m.fd, m.spec, bytesCodec(4), bytesCodec(m.spec.valueSize));
    try {
      const whole = raw.lookup(new Uint8Array(4));
      return whole instanceof Uint8Array ? codec(desc).decode(whole, vsi.offset) : undefined;
    } finally {
      raw.close();
    }
  }

  /**
   * Detaches, unloads and frees everything; the object is unusable afterwards. The links go
   * first, together (Link.destroyAsync): a perf event link's close waits in the kernel for
   * grace periods that closes made side by side partly share.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const links = this.links.splice(0);
    await Promise.all(links.map((l) => l.destroyAsync()));
    this.closeSync();
  }

  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    for (const c of this.consumers) c.close();
    this.detach();
    for (const p of Object.values(this.programTable)) closeFd(p.fd);
    for (const m of Object.values(this.mapTable)) m.close();
    for (const m of this.mapList) closeFd(m.fd);
    if (this.btfFd >= 0) closeFd(this.btfFd);
    this.btfFd = -1;
  }
}
