/**
 * Map definitions of an object, in libbpf's order and with libbpf's attributes: BTF-defined
 * maps of the `.maps` DATASEC (in variable order), then one single-entry array per global
 * data section (`.data*`, `.rodata*`, `.bss*`, in ELF section order), then `.kconfig`.
 */
import {
  type BpfObject,
  type Btf,
  type DatasecType,
  errors,
  Kind,
  MapType,
  SHT,
  type TypeId,
} from '../deps.ts';
import { findDatasec, resolveSize } from './btf-util.ts';

/** BPF_F_RDONLY_PROG, BPF_F_MMAPABLE. */
export const MapFlags = { RDONLY_PROG: 1 << 7, MMAPABLE: 1 << 10 } as const;

export type MapKind = 'user' | 'data' | 'rodata' | 'bss' | 'kconfig';

export interface MapSpec {
  /** The C variable name (user maps) or the section name (".rodata", ".bss", ".kconfig"). */
  name: string;
  /** The name given to the kernel (15 bytes at most, libbpf's spelling for internal maps). */
  kernelName: string;
  kind: MapKind;
  /** ELF section the map comes from (-1 for .kconfig). */
  sectionIndex: number;
  /** Offset of the map's variable within `.maps` (user maps). */
  secOffset: number;
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  numaNode: number;
  mapExtra: bigint;
  /** BTF of key and value (0 = none), as passed to BPF_MAP_CREATE. */
  btfKeyTypeId: TypeId;
  btfValueTypeId: TypeId;
  /**
   * Ring buffers and perf event arrays: the record type, from a `btf_decl_tag("event:struct
   * X")` on the map variable or from `__type(value, struct X)` (the codegen convention).
   */
  eventTypeId?: TypeId;
  /** Global data: initial contents of the value. */
  initial?: Uint8Array;
}

/** Array map values are kmalloc'ed: the kernel refuses more than KMALLOC_MAX_SIZE (4 MiB on most configs). */
const MAX_GLOBAL_DATA = 64 << 20;

/** libbpf's internal_map_name(): object-name prefix + section name, sanitized to [A-Za-z0-9_.]. */
export function internalMapName(objName: string, section: string): string {
  const sfxLen = Math.max(7, section.length);
  const pfxLen = section.indexOf('.', 1) >= 0 ? 0 : Math.min(16 - sfxLen - 1, objName.length);
  const raw = (objName.slice(0, Math.max(0, pfxLen)) + section.slice(0, sfxLen)).slice(0, 15);
  return raw.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** libbpf's object name: the file's base name up to its first dot. */
export function objectName(file: string | undefined): string {
  if (!file) return 'btfkit';
  const base = file.slice(file.lastIndexOf('/') + 1);
  const dot = base.indexOf('.');
  return dot >= 0 ? base.slice(0, dot) : base;
}

/** Sections that become global data maps, and their kind (libbpf's SEC_DATA/RODATA/BSS). */
export function dataSectionKind(name: string, type: number): MapKind | undefined {
  const is = (p: string) => name === p || name.startsWith(`${p}.`);
  if (type === SHT.PROGBITS) {
    if (is('.data')) return 'data';
    if (is('.rodata')) return 'rodata';
  }
  if (type === SHT.NOBITS && is('.bss')) return 'bss';
  return undefined;
}

/** The maps of `obj`; `btf` is the object's BTF after DATASEC fix-up (offsets from the ELF). */
export function collectMaps(obj: BpfObject, btf: Btf, possibleCpus: number, kconfigSize: number): MapSpec[] {
  const out: MapSpec[] = [];
  const mapsSec = obj.elf.section('.maps');
  if (mapsSec) out.push(...userMaps(obj, btf, mapsSec.index, possibleCpus));
  const objName = objectName(obj.file);
  for (const s of obj.elf.sections) {
    const kind = dataSectionKind(s.name, s.type);
    if (!kind || s.size === 0) continue;
    if (s.size > MAX_GLOBAL_DATA) {
      // .bss claims a size without bytes in the file: refuse before allocating it.
      throw errors.badElf(
        s.headerOffset + 32,
        `expected section ${s.name} to be at most ${MAX_GLOBAL_DATA} bytes (the kernel's limit for a map value), found ${s.size}`,
      );
    }
    out.push(
      internalMap(
        btf,
        objName,
        s.name,
        kind,
        s.index,
        s.size,
        kind === 'bss' ? new Uint8Array(s.size) : s.data,
      ),
    );
  }
  if (kconfigSize > MAX_GLOBAL_DATA)
    throw errors.badBtf(0, `the __kconfig externs take ${kconfigSize} bytes, more than a map value can hold`);
  if (kconfigSize > 0) {
    out.push(internalMap(btf, objName, '.kconfig', 'kconfig', -1, kconfigSize, new Uint8Array(kconfigSize)));
  }
  return out;
}

function internalMap(
  btf: Btf,
  objName: string,
  section: string,
  kind: MapKind,
  sectionIndex: number,
  size: number,
  initial: Uint8Array,
): MapSpec {
  const readOnly = kind === 'rodata' || kind === 'kconfig';
  return {
    name: section,
    kernelName: internalMapName(objName, section),
    kind,
    sectionIndex,
    secOffset: 0,
    mapType: MapType.ARRAY,
    keySize: 4,
    valueSize: size,
    maxEntries: 1,
    mapFlags: (readOnly ? MapFlags.RDONLY_PROG : 0) | MapFlags.MMAPABLE,
    numaNode: 0,
    mapExtra: 0n,
    btfKeyTypeId: 0,
    btfValueTypeId: findDatasec(btf, section) ?? 0,
    initial: initial.slice(),
  };
}

/** Parses each VAR of `.maps` as libbpf's parse_btf_map_def does. */
function userMaps(obj: BpfObject, btf: Btf, sectionIndex: number, possibleCpus: number): MapSpec[] {
  const secId = findDatasec(btf, '.maps');
  if (secId === undefined) {
    throw errors.badElf(
      0,
      'expected a .maps DATASEC in the object BTF for the .maps section (compile with -g)',
    );
  }
  const sec = btf.type(secId) as DatasecType;
  const eventTags = eventTypeTags(btf);
  const out: MapSpec[] = [];
  for (const vsi of sec.vars) {
    const v = btf.type(vsi.type);
    if (v.kind !== Kind.Var)
      throw errors.badBtf(0, `expected VAR in DATASEC .maps, found kind ${v.kind} (id ${vsi.type})`);
    const name = btf.str(v.nameOff);
    const defId = btf.skipModsAndTypedefs(v.type);
    const def = btf.type(defId);
    if (def.kind !== Kind.Struct) {
      throw errors.badBtf(0, `map '${name}': expected a struct definition in .maps, found kind ${def.kind}`);
    }
    const spec: MapSpec = {
      name,
      kernelName: name.slice(0, 15),
      kind: 'user',
      sectionIndex,
      secOffset: vsi.offset,
      mapType: 0,
      keySize: 0,
      valueSize: 0,
      maxEntries: 0,
      mapFlags: 0,
      numaNode: 0,
      mapExtra: 0n,
      btfKeyTypeId: 0,
      btfValueTypeId: 0,
    };
    for (const m of def.members) {
      const field = btf.str(m.nameOff);
      switch (field) {
        case 'type':
          spec.mapType = intField(btf, name, field, m.type);
          break;
        case 'max_entries':
          spec.maxEntries = intField(btf, name, field, m.type);
          break;
        case 'map_flags':
          spec.mapFlags = intField(btf, name, field, m.type);
          break;
        case 'numa_node':
          spec.numaNode = intField(btf, name, field, m.type);
          break;
        case 'map_extra':
          spec.mapExtra = BigInt(intField(btf, name, field, m.type));
          break;
        case 'key_size':
          setSize(spec, 'keySize', intField(btf, name, field, m.type), name);
          break;
        case 'value_size':
          setSize(spec, 'valueSize', intField(btf, name, field, m.type), name);
          break;
        case 'key': {
          const id = pointee(btf, name, field, m.type);
          setSize(spec, 'keySize', resolveSize(btf, id), name);
          spec.btfKeyTypeId = id;
          break;
        }
        case 'value': {
          const id = pointee(btf, name, field, m.type);
          setSize(spec, 'valueSize', resolveSize(btf, id), name);
          spec.btfValueTypeId = id;
          break;
        }
        case 'pinning':
          // Pinning by name is a policy of the loading application; this runtime does not pin.
          intField(btf, name, field, m.type);
          break;
        case 'values':
          throw errors.unsupported(
            `map '${name}': initial 'values' (map-in-map, prog arrays) are not supported`,
          );
        default:
          throw errors.badBtf(0, `map '${name}': unknown field '${field}' in the map definition`);
      }
    }
    if (spec.mapType === MapType.PERF_EVENT_ARRAY) {
      if (!spec.keySize) spec.keySize = 4;
      if (!spec.valueSize) spec.valueSize = 4;
      if (!spec.maxEntries) spec.maxEntries = possibleCpus;
    }
    const tagged = eventTags.get(vsi.type);
    if (tagged !== undefined) spec.eventTypeId = tagged;
    else if (
      (spec.mapType === MapType.RINGBUF || spec.mapType === MapType.PERF_EVENT_ARRAY) &&
      spec.btfValueTypeId
    ) {
      spec.eventTypeId = spec.btfValueTypeId;
    }
    if (spec.mapType === MapType.RINGBUF) {
      spec.maxEntries = ringbufSize(spec.maxEntries);
      // The kernel takes no key or value for ring buffers: a value type only names the record.
      if (spec.btfValueTypeId) {
        spec.valueSize = 0;
        spec.btfValueTypeId = 0;
      }
    }
    out.push(spec);
  }
  void obj;
  return out;
}

/** `btf_decl_tag("event:struct X")` (or `btfkit.event=X`) on a VAR: VAR id → the type it names. */
const EVENT_TAG = /^(?:btfkit[.:])?event[:=]\s*(?:(struct|union)\s+)?([A-Za-z_]\w*)$/;

function eventTypeTags(btf: Btf): Map<TypeId, TypeId> {
  const out = new Map<TypeId, TypeId>();
  for (let id = btf.startId; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind !== Kind.DeclTag || t.componentIdx !== -1) continue;
    const m = EVENT_TAG.exec(btf.name(id));
    if (!m) continue;
    const want =
      m[1] === 'union' ? [Kind.Union] : m[1] === 'struct' ? [Kind.Struct] : [Kind.Struct, Kind.Union];
    const target = btf.byName(m[2] as string).find((x) => (want as number[]).includes(btf.type(x).kind));
    if (target === undefined)
      throw errors.badBtf(0, `event tag '${btf.name(id)}' names a type the object's BTF does not have`);
    out.set(t.type, target);
  }
  return out;
}

/** libbpf rounds a ring buffer's size up to a power-of-two multiple of the page size. */
export function ringbufSize(n: number): number {
  const page = 4096;
  let mul = Math.max(1, Math.ceil(n / page));
  let pow = 1;
  while (pow < mul) pow *= 2;
  mul = pow;
  return mul * page;
}

function setSize(spec: MapSpec, which: 'keySize' | 'valueSize', v: number, name: string): void {
  if (spec[which] && spec[which] !== v) {
    throw errors.badBtf(
      0,
      `map '${name}': conflicting ${which === 'keySize' ? 'key' : 'value'} sizes ${spec[which]} and ${v}`,
    );
  }
  spec[which] = v;
}

/** `int (*field)[N]` encodes N: a pointer to an array whose element count is the value. */
function intField(btf: Btf, map: string, field: string, typeId: TypeId): number {
  const p = btf.type(btf.skipModsAndTypedefs(typeId));
  if (p.kind !== Kind.Ptr)
    throw errors.badBtf(
      0,
      `map '${map}': expected '${field}' to be a pointer (__uint), found kind ${p.kind}`,
    );
  const a = btf.type(btf.skipModsAndTypedefs(p.type));
  if (a.kind !== Kind.Array)
    throw errors.badBtf(
      0,
      `map '${map}': expected '${field}' to point to an array (__uint), found kind ${a.kind}`,
    );
  return a.nelems;
}

/** `T *field`: the type T. */
function pointee(btf: Btf, map: string, field: string, typeId: TypeId): TypeId {
  const p = btf.type(btf.skipModsAndTypedefs(typeId));
  if (p.kind !== Kind.Ptr)
    throw errors.badBtf(
      0,
      `map '${map}': expected '${field}' to be a pointer (__type), found kind ${p.kind}`,
    );
  return p.type;
}
