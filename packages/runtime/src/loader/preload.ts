/**
 * libbpf's pre-load controls, applied between open and load as libbpf's setters are:
 * bpf_map__set_max_entries / bpf_map__set_value_size on the map specs, bpf_program__set_autoload
 * and bpf_program__set_attach_target on the programs. Unknown names and values the kernel could
 * never take are BtfkitErrors naming what was wrong.
 */
import { type BpfObject, type BpfProgram, errors, MapType } from '../deps.ts';
import { type MapSpec, ringbufSize } from './maps.ts';
import type { ResolvedSection } from './sections.ts';

export interface MapSettings {
  /**
   * bpf_map__set_type, as libbpf-tools' bpf_buffer does to turn its `events` perf array into a
   * ring buffer where the kernel has them: a map type number, or 'ringbuf'.
   */
  type?: number | 'ringbuf';
  /** bpf_map__set_max_entries (ring buffers are rounded to a power-of-two page multiple, as libbpf does). */
  maxEntries?: number;
  /** bpf_map__set_value_size: the map's BTF value type no longer fits, so it is created without one. */
  valueSize?: number;
}

/** Applies `settings` to the specs; returns the names of maps whose value size changed. */
export function applyMapSettings(specs: MapSpec[], settings: Record<string, MapSettings>): Set<string> {
  const resized = new Set<string>();
  for (const [name, s] of Object.entries(settings)) {
    const spec = specs.find((m) => m.name === name);
    if (!spec)
      throw errors.badOption(
        `maps.${name}: the object has no such map (maps: ${specs.map((m) => m.name).join(', ')})`,
      );
    if (s.type !== undefined) {
      const type = s.type === 'ringbuf' ? MapType.RINGBUF : s.type;
      if (!Number.isInteger(type) || type < 1)
        throw errors.badOption(
          `maps.${name}.type must be a map type number or 'ringbuf', got ${String(s.type)}`,
        );
      if (spec.kind !== 'user') throw errors.badOption(`maps.${name}: a global data map is an array`);
      spec.mapType = type;
      if (type === MapType.RINGBUF) {
        // No key or value: the record type stays for decoding (eventTypeId), as codegen decides.
        spec.keySize = 0;
        spec.valueSize = 0;
        spec.btfKeyTypeId = 0;
        spec.btfValueTypeId = 0;
        spec.maxEntries = ringbufSize(spec.maxEntries || 4096);
        resized.add(name);
      }
    }
    if (s.maxEntries !== undefined) {
      if (!Number.isInteger(s.maxEntries) || s.maxEntries < 1 || s.maxEntries > 0xffffffff)
        throw errors.badOption(
          `maps.${name}.maxEntries must be an integer from 1 to 2^32-1, got ${s.maxEntries}`,
        );
      if (spec.kind !== 'user')
        throw errors.badOption(
          `maps.${name}: a global data map has one entry; its size comes from the object`,
        );
      spec.maxEntries = spec.mapType === MapType.RINGBUF ? ringbufSize(s.maxEntries) : s.maxEntries;
    }
    if (s.valueSize !== undefined) {
      if (!Number.isInteger(s.valueSize) || s.valueSize < 1 || s.valueSize > 0xffffffff)
        throw errors.badOption(`maps.${name}.valueSize must be a positive integer, got ${s.valueSize}`);
      if (spec.kind !== 'user')
        throw errors.badOption(`maps.${name}: the value size of a global data map is its section's size`);
      if (spec.mapType === MapType.RINGBUF)
        throw errors.badOption(`maps.${name}: a ring buffer has no value size (set maxEntries)`);
      if (s.valueSize !== spec.valueSize) {
        spec.valueSize = s.valueSize;
        spec.btfValueTypeId = 0;
        resized.add(name);
      }
    }
  }
  return resized;
}

/**
 * The programs to load: `only` (names to load), minus those whose `autoload` is false, plus
 * those whose `autoload` is true. Names that are not programs of the object are errors.
 */
export function selectPrograms(
  obj: BpfObject,
  only: readonly string[] | undefined,
  autoload: Record<string, boolean> | undefined,
): BpfProgram[] {
  const mains = obj.programs.filter((p) => !p.isSubprog);
  const names = new Set(mains.map((p) => p.name));
  const known = (what: string, n: string): void => {
    if (!names.has(n))
      throw errors.badOption(
        `${what}: '${n}' is not a program of the object (programs: ${[...names].join(', ')})`,
      );
  };
  for (const n of only ?? []) known('programs', n);
  for (const n of Object.keys(autoload ?? {})) known('autoload', n);
  return mains.filter((p) => {
    const a = autoload?.[p.name];
    if (a !== undefined) return a;
    return !only || only.includes(p.name);
  });
}

/**
 * bpf_program__set_attach_target for programs attached by BTF id (tp_btf, fentry, fexit,
 * fmod_ret, lsm, iter): the target named at run time replaces the section's, so a section
 * like `fentry/dummy` can be pointed at the function chosen by the tool.
 */
export function retarget(def: ResolvedSection, prog: string, target: string | undefined): ResolvedSection {
  if (target === undefined) return def;
  if (!def.btfTarget) {
    throw errors.badOption(
      `attachTargets.${prog}: SEC("${def.section}") is not attached by BTF id (tp_btf, fentry, fexit, fmod_ret, lsm, iter); give other targets to attach({ programs: { ${prog}: { target } } })`,
    );
  }
  if (target === '' || /\s/.test(target))
    throw errors.badOption(`attachTargets.${prog}: '${target}' is not a function or tracepoint name`);
  return { ...def, target };
}
