/**
 * loadObject(): from the bytes of a compiled BPF object to loaded programs and created maps,
 * the way libbpf 1.1's bpf_object__load does it (maps, BTF, CO-RE, ELF relocations, subprogram
 * linking, program load), in that order; the steps are the other loader/ modules, the result
 * the LoadedObject handle of ../object.ts.
 */
import { release } from 'node:os';
import {
  type BpfObject,
  type BpfProgram,
  type Btf,
  decodeBtf,
  encodeBtf,
  errors,
  inFile,
  isLibbpfVersion,
  LIBBPF_VERSIONS,
  type LibbpfVersion,
  MapType,
  parseBpfObject,
  RUNNING_KERNEL_BTF,
} from '../deps.ts';
import { closeAtExit, LoadedObject, type MapCodecs } from '../object.ts';
import { btfLoad, closeFd, mapCreate, mapFreeze, mapUpdate, objInfo, progLoad } from '../sys/bpf.ts';
import { possibleCpus } from '../sys/cpus.ts';
import { KernelError } from '../sys/errors.ts';
import { runningKernelBtf } from '../sys/kernel-btf.ts';
import { NativeBuffer } from '../sys/native.ts';
import { findAttachBtfId } from './attach-target.ts';
import { fixupBtf } from './btf-fixup.ts';
import { probeBtfFeatures, sanitizeBtf } from './btf-sanitize.ts';
import { applyCore, type CoreApplied, explainRejection } from './core.ts';
import { collectExterns, kconfigData } from './externs.ts';
import { applyGlobals } from './globals.ts';
import { INSN_SIZE } from './insn.ts';
import { kernelVersionCode } from './kconfig.ts';
import { applyDataRelocs, linkProgram, type RelocDesc, sectionRelocs } from './link.ts';
import { collectMaps, type MapSpec } from './maps.ts';
import { applyMapSettings, type MapSettings, retarget, selectPrograms } from './preload.ts';
import { ProgType, type ResolvedSection, resolveSection } from './sections.ts';

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
  codecs?: MapCodecs;
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
  closeAtExit(handle);
  return handle;
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
