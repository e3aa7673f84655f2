/**
 * loadObject(): from the bytes of a compiled BPF object to loaded programs and created maps,
 * the way libbpf 1.1's bpf_object__load does it (maps, BTF, CO-RE, ELF relocations, subprogram
 * linking, program load), and the handle that attaches, reads and closes them.
 */
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import type { AttachOptions, Link } from './attach/attach.ts';
import { attachAny, attachable } from './attach/dispatch.ts';
import { attachUsdt, USDT_SPEC_SIZE, type UsdtSpecTable } from './attach/usdt.ts';
import {
  type BpfObject,
  type BpfProgram,
  type Btf,
  createCodecs,
  decodeBtf,
  encodeBtf,
  errors,
  inFile,
  isLibbpfVersion,
  Kind,
  LIBBPF_VERSIONS,
  type LibbpfVersion,
  MapType,
  parseBpfObject,
  RUNNING_KERNEL_BTF,
  TypeDescriber,
  type TypeId,
} from './deps.ts';
import { fixupBtf } from './loader/btf-fixup.ts';
import { probeBtfFeatures, sanitizeBtf } from './loader/btf-sanitize.ts';
import { findDatasec } from './loader/btf-util.ts';
import { applyCore, type CoreApplied, poisonedAt } from './loader/core.ts';
import { collectExterns, kconfigData } from './loader/externs.ts';
import { applyGlobals } from './loader/globals.ts';
import { INSN_SIZE, POISON_HELPER } from './loader/insn.ts';
import { kernelVersionCode } from './loader/kconfig.ts';
import { applyDataRelocs, linkProgram, type RelocDesc, sectionRelocs } from './loader/link.ts';
import { collectMaps, type MapSpec } from './loader/maps.ts';
import { applyMapSettings, type MapSettings, retarget, selectPrograms } from './loader/preload.ts';
import { ProgType, type ResolvedSection, resolveSection } from './loader/sections.ts';
import { runningKernelBtfBytes } from './loader/vmlinux.ts';
import { ColumnCodec } from './maps/columns.ts';
import { BpfMap, bytesCodec, type Codec, fromRuntimeCodec, PERCPU_MAP_TYPES, PerCpuMap } from './maps/map.ts';
import { PerfBuffer, type PerfBufferOptions } from './maps/perfbuf.ts';
import { RecordViews } from './maps/record-view.ts';
import { RingBuffer, type RingBufferOptions } from './maps/ringbuf.ts';
import { type RunOptions, type RunResult, runProgram } from './program-run.ts';
import { btfLoad, closeFd, mapCreate, mapFreeze, mapUpdate, objInfo, progLoad } from './sys/bpf.ts';
import { possibleCpus } from './sys/cpus.ts';
import { KernelError, verifierError } from './sys/errors.ts';
import { NativeBuffer } from './sys/native.ts';

export interface LoadOptions {
  /** Name of the object file, for messages and libbpf-style internal map names. */
  file?: string;
  /**
   * Initial values of global variables by section ("rodata", "data", "bss" or any
   * ".rodata.foo"), then by variable name; encoded by the variable's BTF type.
   */
  globals?: Record<string, unknown>;
  /**
   * Kernel BTF for CO-RE (raw BTF bytes, e.g. the skeleton's minimized BTF for this kernel),
   * used when /sys/kernel/btf/vmlinux is missing, or always with `preferGivenBtf`.
   */
  btf?: Uint8Array;
  preferGivenBtf?: boolean;
  /** Load only these programs (default: all). */
  programs?: string[];
  /** Typed codecs per map (the generated skeleton supplies them); default: from the object's BTF. */
  codecs?: Record<string, { key?: Codec<unknown>; value?: Codec<unknown> }>;
  /** Verifier log level used when a program is rejected (1 default, 2 verbose). */
  logLevel?: number;
  /** Per map, before it is created: libbpf's bpf_map__set_max_entries / set_value_size. */
  maps?: Record<string, MapSettings>;
  /** Per program: load it or not (libbpf's bpf_program__set_autoload); wins over `programs`. */
  autoload?: Record<string, boolean>;
  /**
   * Per program attached by BTF id (tp_btf, fentry, fexit, fmod_ret, lsm): the kernel
   * function or tracepoint to attach to instead of the section's (bpf_program__set_attach_target).
   */
  attachTargets?: Record<string, string>;
  /**
   * Which libbpf's CO-RE decisions to make: '1.1' (default) or '1.7', which also patches a
   * direct load of a moved array member that 1.1 poisons (see @btfkit/core's profiles).
   */
  libbpf?: LibbpfVersion;
}

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

const live = new Set<{ closeSync(): void }>();
let exitHook = false;

/** Loads every map and program of the object into the kernel. */
export async function loadObject(bytes: Uint8Array, opts: LoadOptions = {}): Promise<LoadedObject> {
  return loadObjectSync(bytes, opts);
}

export function loadObjectSync(bytes: Uint8Array, opts: LoadOptions = {}): LoadedObject {
  // Problems with the object itself are BtfkitErrors attributed to its file.
  return inFile(opts.file ?? '<object bytes>', () => load(bytes, opts));
}

function load(bytes: Uint8Array, opts: LoadOptions): LoadedObject {
  if (opts.libbpf !== undefined && !isLibbpfVersion(opts.libbpf)) {
    throw errors.badOption(
      `libbpf option: '${String(opts.libbpf)}' is not one of ${LIBBPF_VERSIONS.join(', ')}`,
    );
  }
  const obj = parseBpfObject(bytes, opts.file);
  const hostLe = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (obj.littleEndian !== hostLe) {
    throw errors.unsupported(
      `the object is ${obj.littleEndian ? 'little' : 'big'}-endian, the host is not`,
      opts.file,
    );
  }
  const externs = collectExterns(obj, obj.btf);
  const btf = fixupBtf(obj, externs);
  const specs = collectMaps(obj, btf, possibleCpus().length, externs.kconfigSize);
  const kcfg = specs.find((m) => m.kind === 'kconfig');
  if (kcfg) kcfg.initial = kconfigData(obj, btf, externs);
  if (opts.globals) applyGlobals(btf, specs, opts.globals, obj.littleEndian);
  const resized = opts.maps ? applyMapSettings(specs, opts.maps) : new Set<string>();

  const mains = selectPrograms(obj, opts.programs, opts.autoload);
  for (const name of Object.keys(opts.attachTargets ?? {})) selectPrograms(obj, [name], undefined);
  const defs = new Map<BpfProgram, ResolvedSection>();
  for (const p of mains) {
    const def = resolveSection(p.section);
    if (!def)
      throw errors.unsupported(
        `program '${p.name}': SEC("${p.section}") is not a section name libbpf knows`,
        opts.file,
      );
    // freplace targets another program's BTF, struct_ops a kernel struct: not loaded here yet.
    if (def.progType === ProgType.EXT || def.attach === 'struct_ops')
      throw errors.unsupported(
        `program '${p.name}': SEC("${p.section}") programs are not supported by @btfkit/runtime yet`,
        opts.file,
      );
    defs.set(p, retarget(def, p.name, opts.attachTargets?.[p.name]));
  }

  // The kernel's BTF (the costliest step of a first load) is read only if something needs it:
  // CO-RE without a preferred given BTF, or a program attaching to a BTF id.
  const hasCore = (obj.ext?.coreRelos.length ?? 0) > 0;
  let core: CoreApplied | undefined;
  if (hasCore) {
    const vmlinux = opts.btf && opts.preferGivenBtf ? undefined : runningKernelBtf();
    const target =
      opts.btf && (opts.preferGivenBtf || !vmlinux) ? decodeBtf(opts.btf, { file: 'btf option' }) : vmlinux;
    if (!target) {
      throw errors.notFound(
        RUNNING_KERNEL_BTF,
        'the kernel exposes no BTF and no btf option was given for CO-RE',
      );
    }
    core = applyCore(obj, target, release(), opts.libbpf);
  }
  const code = (p: BpfProgram): Uint8Array => {
    if (core) return core.code(p);
    const sec = obj.elf.sections[p.sectionIndex];
    return (sec?.data ?? new Uint8Array()).slice(p.insnOffset, p.insnOffset + p.insnCount * INSN_SIZE);
  };

  const handle = new LoadedObject(obj, btf, opts, resized);
  try {
    const features = probeBtfFeatures();
    handle.btfFd = loadBtf(sanitizeBtf(btf, features));
    // Without FUNC support the kernel takes no func/line info (libbpf drops them too).
    const extInfo = handle.btfFd >= 0 && features.func;
    for (const spec of specs) handle.addMap(spec, createMap(spec, handle.btfFd));
    const relocCache = new Map<number, Map<number, RelocDesc>>();
    const relocs = (idx: number): Map<number, RelocDesc> => {
      let r = relocCache.get(idx);
      if (!r) {
        r = sectionRelocs(obj, idx, specs, externs);
        relocCache.set(idx, r);
      }
      return r;
    };
    const license = licenseOf(obj);
    const kernVersion = kernVersionOf(obj);
    for (const p of mains) {
      const def = defs.get(p) as ResolvedSection;
      const linked = linkProgram(obj, p, code, relocs);
      applyDataRelocs(linked, obj.littleEndian, (i) => handle.mapFdAt(i));
      let attachBtfId = 0;
      if (def.btfTarget) attachBtfId = findAttachBtfId(runningKernelBtf(), p.name, def);
      let fd: number;
      try {
        fd = progLoad({
          progType: def.progType,
          expectedAttachType: def.expectedAttachType,
          progFlags: def.progFlags,
          insns: linked.insns,
          license,
          kernVersion,
          name: p.name,
          progBtfFd: Math.max(handle.btfFd, 0),
          funcInfo: extInfo ? { recSize: 8, bytes: linked.funcInfo } : undefined,
          lineInfo: extInfo ? { recSize: 16, bytes: linked.lineInfo } : undefined,
          attachBtfId,
          logLevel: opts.logLevel,
        });
      } catch (e) {
        throw explainRejection(e, p, linked.layout, core);
      }
      handle.addProgram({
        name: p.name,
        section: p.section,
        def,
        fd,
        id: objInfo(fd).id,
        insns: linked.insns,
      });
    }
  } catch (e) {
    handle.closeSync();
    throw e;
  }
  live.add(handle);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const o of live) o.closeSync();
    });
  }
  return handle;
}

let vmlinuxCache: Btf | null | undefined;

/**
 * The running kernel's BTF, decoded once per process (null when the kernel exposes none).
 * Without libbpf's sanity pass: these bytes are the kernel image's own .BTF section (sysfs
 * exposes it read-only), the same the kernel's BTF verifier parses whenever BPF needs kernel
 * types, so they are not untrusted input; skipping the pass saves a sixth or so of the decode.
 */
function runningKernelBtf(): Btf | undefined {
  if (vmlinuxCache === undefined) {
    vmlinuxCache = existsSync(RUNNING_KERNEL_BTF)
      ? decodeBtf(runningKernelBtfBytes(RUNNING_KERNEL_BTF), {
          file: RUNNING_KERNEL_BTF,
          validate: false,
        })
      : null;
  }
  return vmlinuxCache ?? undefined;
}

function loadBtf(btf: Btf): number {
  try {
    return btfLoad(encodeBtf(btf));
  } catch (e) {
    // libbpf goes on without BTF when the kernel refuses it; so do we (maps lose their types).
    if (e instanceof KernelError && e.kind !== 'PERMISSION') return -1;
    throw e;
  }
}

function createMap(spec: MapSpec, btfFd: number): number {
  // Map types whose BTF key/value the kernel does not accept (libbpf clears them as well).
  const noBtf = new Set<number>([
    MapType.PERF_EVENT_ARRAY,
    MapType.CGROUP_ARRAY,
    MapType.STACK_TRACE,
    MapType.ARRAY_OF_MAPS,
    MapType.HASH_OF_MAPS,
    MapType.DEVMAP,
    MapType.DEVMAP_HASH,
    MapType.CPUMAP,
    MapType.XSKMAP,
    MapType.SOCKMAP,
    MapType.SOCKHASH,
    MapType.QUEUE,
    MapType.STACK,
  ]);
  const withBtf = btfFd >= 0 && !noBtf.has(spec.mapType);
  const attr = {
    mapType: spec.mapType,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    maxEntries: spec.maxEntries,
    mapFlags: spec.mapFlags,
    name: spec.kernelName,
    numaNode: spec.numaNode,
    mapExtra: spec.mapExtra,
  };
  let fd: number;
  try {
    fd = mapCreate(
      withBtf
        ? { ...attr, btfFd, btfKeyTypeId: spec.btfKeyTypeId, btfValueTypeId: spec.btfValueTypeId }
        : attr,
    );
  } catch (e) {
    if (!withBtf || !(e instanceof KernelError) || e.kind === 'PERMISSION') throw e;
    fd = mapCreate(attr); // as libbpf: retry without BTF types
  }
  if (spec.initial && spec.kind !== 'user') {
    try {
      const key = new NativeBuffer(4);
      const value = NativeBuffer.from(spec.initial);
      try {
        mapUpdate(fd, key.address, value.address);
      } finally {
        key.free();
        value.free();
      }
      if (spec.kind === 'rodata' || spec.kind === 'kconfig') mapFreeze(fd);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }
  return fd;
}

function licenseOf(obj: BpfObject): string {
  const s = obj.elf.section('license');
  if (!s) return '';
  const end = s.data.indexOf(0);
  return new TextDecoder().decode(s.data.subarray(0, end < 0 ? s.data.length : end));
}

function kernVersionOf(obj: BpfObject): number {
  const s = obj.elf.section('version');
  if (s && s.data.length === 4)
    return new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, obj.littleEndian);
  return kernelVersionCode();
}

/** libbpf's find_attach_btf_id against vmlinux: btf_trace_<tp> TYPEDEF, bpf_lsm_<hook> FUNC, or FUNC. */
function findAttachBtfId(vmlinux: Btf | undefined, prog: string, def: ResolvedSection): number {
  const t = def.btfTarget;
  if (!t) return 0;
  if (!vmlinux)
    throw errors.notFound(
      RUNNING_KERNEL_BTF,
      `program '${prog}' (${def.section}) needs the kernel's BTF to attach`,
    );
  const kind = t.kind === 'typedef' ? Kind.Typedef : Kind.Func;
  const name = t.prefix + def.target;
  const id = vmlinux.byName(name).find((i) => vmlinux.type(i).kind === kind);
  if (id === undefined) {
    throw new KernelError(
      'NOT_FOUND',
      `attach target of '${prog}'`,
      2,
      `program '${prog}': the kernel's BTF has no ${t.kind} '${name}' to attach ${def.section} to`,
    );
  }
  return id;
}

/** Adds the C-level story to a verifier rejection caused by a poisoned CO-RE relocation. */
function explainRejection(
  e: unknown,
  prog: BpfProgram,
  layout: { prog: BpfProgram; start: number }[],
  core: CoreApplied | undefined,
): unknown {
  if (!(e instanceof KernelError) || e.kind !== 'VERIFIER' || !e.log) return e;
  const re = new RegExp(`^(\\d+): \\(85\\) call unknown#${POISON_HELPER}$`, 'gm');
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(e.log); m; m = re.exec(e.log)) last = m;
  if (!last || !core) {
    const tail = e.log.trim().split('\n').slice(-6).join('\n');
    return verifierError(e.op, e.errno, `${e.message}\n${tail}`, e.log);
  }
  const at = Number(last[1]);
  let owner = layout[0];
  for (const l of layout) if (l.start <= at && (!owner || l.start >= owner.start)) owner = l;
  const local = owner ? at - owner.start : at;
  const r = owner ? poisonedAt(core, owner.prog.name, local) : undefined;
  const what = r
    ? `CO-RE relocation #${r.relo} of '${r.prog}' (${r.kind} of ${r.cPath}) could not be resolved on this kernel${'reason' in r.outcome ? `: ${(r.outcome as { reason: string }).reason}` : ''}`
    : `a poisoned CO-RE relocation at instruction ${at}`;
  return verifierError(e.op, e.errno, `program '${prog.name}' was rejected: it reaches ${what}`, e.log);
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
    private readonly opts: LoadOptions,
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
        if (p.def.attach === 'usdt') {
          const target = o?.target ?? p.def.target;
          if (target) made.push(...attachUsdt(p.name, p.fd, target, o || {}, this.usdtSpecs()));
          continue;
        }
        if (!attachable(p.def, o || undefined)) continue;
        made.push(attachAny(p.name, p.fd, p.def, o || {}));
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

  /** Detaches, unloads and frees everything; the object is unusable afterwards. */
  async close(): Promise<void> {
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
