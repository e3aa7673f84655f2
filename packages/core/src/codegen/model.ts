import type { Btf } from '../btf/btf.ts';
import { Kind, Linkage } from '../btf/kinds.ts';
import type { CompositeType, DatasecType, TypeId } from '../btf/types.ts';
import { errors } from '../errors/index.ts';
import { resolveSection } from '../sections/table.ts';
import { MAP_TYPE_NAMES } from '../sections/uapi.ts';
import { TypeDescriber } from './describe.ts';
import type { MapModel, ProgramModel, SkeletonModel } from './runtime/skeleton.ts';

/** What codegen needs of a parsed BPF object (a structural subset of elf's BpfObject). */
export interface SkeletonSource {
  /** Named in errors. */
  file: string;
  btf: Btf;
  sections: readonly { name: string; type: number; data: Uint8Array }[];
  programs: readonly { name: string; section: string; isSubprog?: boolean }[];
}

// The model's shape lives with the runtime that reads it (createSkeleton).
export type { GlobalModel, MapModel, ProgramModel, SkeletonModel } from './runtime/skeleton.ts';

const SHT_NOBITS = 8;
const GLOBAL_SECTION = /^\.(?:rodata|data|bss)(?:\..+)?$/;
// A decl tag naming the record type of a ring buffer: btf_decl_tag("event:struct event").
const EVENT_TAG = /^(?:btfkit[.:])?event[:=]\s*(?:(struct|union)\s+)?([A-Za-z_]\w*)$/;

export function buildSkeletonModel(src: SkeletonSource, name: string): SkeletonModel {
  const { btf } = src;
  const describer = new TypeDescriber(btf);
  const model: SkeletonModel = {
    name,
    littleEndian: btf.littleEndian,
    programs: {},
    maps: {},
    globals: {},
    types: {},
  };

  for (const p of src.programs) {
    if (p.isSubprog) continue;
    // libbpf's reading of the section name; one libbpf does not know is 'unspec', as bpftool says.
    const k = resolveSection(p.section);
    const pm: ProgramModel = {
      section: p.section,
      type: k?.typeName ?? 'unspec',
      attach: k?.prefix ?? p.section,
    };
    if (k && k.target !== '') pm.target = k.target;
    model.programs[p.name] = pm;
  }

  const tags = eventTags(btf);
  for (let id = btf.startId; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind !== Kind.Datasec) continue;
    const secName = btf.name(id);
    if (secName === '.maps') readMaps(src, describer, t, tags, model);
    else if (GLOBAL_SECTION.test(secName)) readGlobals(src, describer, secName, t, model);
  }

  for (const [k, v] of [...describer.named.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    model.types[k] = v;
  }
  return model;
}

function eventTags(btf: Btf): Map<TypeId, string> {
  const out = new Map<TypeId, string>();
  for (let id = btf.startId; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind !== Kind.DeclTag || t.componentIdx !== -1) continue;
    const m = EVENT_TAG.exec(btf.name(id));
    if (m) out.set(t.type, `${m[1] ?? ''} ${m[2]}`.trim());
  }
  return out;
}

function readMaps(
  src: SkeletonSource,
  d: TypeDescriber,
  sec: DatasecType,
  tags: Map<TypeId, string>,
  model: SkeletonModel,
): void {
  const { btf } = src;
  for (const v of sec.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== Kind.Var) continue;
    const mapName = btf.name(v.type);
    const defId = btf.skipModsAndTypedefs(vt.type);
    const def = btf.type(defId);
    if (def.kind !== Kind.Struct) {
      throw errors
        .badBtf(0, `map '${mapName}' in .maps is not a struct (BTF kind ${def.kind})`)
        .withFile(src.file);
    }
    const m: MapModel = { type: 'unspec', typeId: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
    for (const member of (def as CompositeType).members) {
      const field = btf.str(member.nameOff);
      switch (field) {
        case 'type':
          m.typeId = uintField(btf, member.type);
          m.type = MAP_TYPE_NAMES[m.typeId] ?? `type_${m.typeId}`;
          break;
        case 'max_entries':
          m.maxEntries = uintField(btf, member.type);
          break;
        case 'map_flags':
          m.flags = uintField(btf, member.type);
          break;
        case 'key_size':
          m.keySize = uintField(btf, member.type);
          break;
        case 'value_size':
          m.valueSize = uintField(btf, member.type);
          break;
        case 'key': {
          const target = pointee(btf, member.type);
          m.key = d.describe(target);
          m.keySize = d.sizeOf(target);
          break;
        }
        case 'value': {
          const target = pointee(btf, member.type);
          m.value = d.describe(target);
          m.valueSize = d.sizeOf(target);
          break;
        }
      }
    }
    const isEventStream = m.type === 'ringbuf' || m.type === 'perf_event_array' || m.type === 'user_ringbuf';
    const tagged = tags.get(v.type);
    if (tagged !== undefined) {
      const [kind, tname] = tagged.includes(' ') ? tagged.split(' ') : ['', tagged];
      const candidates = btf.byName(tname as string).filter((id) => {
        const k = btf.type(id).kind;
        return kind === 'union'
          ? k === Kind.Union
          : kind === 'struct'
            ? k === Kind.Struct
            : k === Kind.Struct || k === Kind.Union;
      });
      const first = candidates[0];
      if (first === undefined) {
        throw errors
          .badBtf(0, `map '${mapName}': its event tag names '${tagged}', which is not in the object's BTF`)
          .withFile(src.file);
      }
      m.event = d.describe(first);
    } else if (isEventStream && m.value) {
      // __type(value, struct event) on a ring buffer declares the record type, not a value slot.
      m.event = m.value;
      if (m.type === 'ringbuf' || m.type === 'user_ringbuf') {
        delete m.value;
        m.valueSize = 0;
      }
    }
    model.maps[mapName] = m;
  }
}

function readGlobals(
  src: SkeletonSource,
  d: TypeDescriber,
  secName: string,
  sec: DatasecType,
  model: SkeletonModel,
): void {
  const { btf } = src;
  const elfSec = src.sections.find((s) => s.name === secName);
  for (const v of sec.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== Kind.Var || vt.linkage === Linkage.Static) continue;
    const name = btf.name(v.type);
    let init: Uint8Array;
    if (!elfSec || elfSec.type === SHT_NOBITS) init = new Uint8Array(v.size);
    else {
      if (v.offset + v.size > elfSec.data.length) {
        throw errors
          .badBtf(
            0,
            `variable '${name}' [${v.offset}, ${v.offset + v.size}) lies outside section ${secName} (${elfSec.data.length} bytes)`,
          )
          .withFile(src.file);
      }
      init = elfSec.data.subarray(v.offset, v.offset + v.size);
    }
    const key = model.globals[name] === undefined ? name : `${secName}:${name}`;
    model.globals[key] = {
      section: secName,
      offset: v.offset,
      size: v.size,
      type: d.describe(vt.type),
      init: Buffer.from(init).toString('hex'),
    };
  }
}

/** `__uint(name, N)` is `int (*name)[N]`: the number is the array's element count. */
function uintField(btf: Btf, id: TypeId): number {
  const p = btf.type(btf.skipModsAndTypedefs(id));
  if (p.kind !== Kind.Ptr) return 0;
  const a = btf.type(btf.skipModsAndTypedefs(p.type));
  return a.kind === Kind.Array ? a.nelems : 0;
}

/** `__type(name, T)` is `T *name`. */
function pointee(btf: Btf, id: TypeId): TypeId {
  const p = btf.type(btf.skipModsAndTypedefs(id));
  return p.kind === Kind.Ptr ? p.type : id;
}
