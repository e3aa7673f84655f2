/**
 * Setting global variables before load: each value is encoded by its BTF type (through the
 * codegen codecs) into the initial contents of its section's map, at the VAR's offset.
 */
import { type Btf, createCodecs, errors, Kind, type TypeDesc, TypeDescriber } from '../deps.ts';
import { findDatasec } from './btf-util.ts';
import type { MapSpec } from './maps.ts';

/** "rodata" and ".rodata" both name the .rodata section. */
export function sectionOf(key: string): string {
  return key.startsWith('.') ? key : `.${key}`;
}

/**
 * Two spellings are accepted: by section (`{ rodata: { target_pid: 42 } }`) and flat by
 * variable name (`{ target_pid: 42 }`, which the generated skeleton uses, passing values it
 * has already encoded as bytes of the variable's size).
 */
export function applyGlobals(btf: Btf, maps: MapSpec[], globals: Record<string, unknown>, le: boolean): void {
  const describer = new TypeDescriber(btf);
  const dataMaps = maps.filter((m) => m.kind !== 'user' && m.kind !== 'kconfig' && m.initial);
  for (const [key, value] of Object.entries(globals)) {
    const section = sectionOf(key);
    const bySection = dataMaps.find((m) => m.name === section);
    if (bySection && isPlainObject(value)) {
      for (const [name, v] of Object.entries(value)) setVar(btf, describer, bySection, name, v, le);
      continue;
    }
    const owner = dataMaps.find((m) => varIn(btf, m.name, key) !== undefined);
    if (!owner) {
      throw errors.badOption(
        `globals: no global variable '${key}' in ${dataMaps.map((m) => m.name).join(', ') || 'the object'}`,
      );
    }
    setVar(btf, describer, owner, key, value, le);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v);
}

function varIn(btf: Btf, section: string, name: string) {
  const secId = findDatasec(btf, section);
  if (secId === undefined) return undefined;
  const ds = btf.type(secId);
  if (ds.kind !== Kind.Datasec) return undefined;
  return ds.vars.find((v) => btf.name(v.type) === name);
}

function setVar(
  btf: Btf,
  describer: TypeDescriber,
  map: MapSpec,
  name: string,
  value: unknown,
  le: boolean,
): void {
  const initial = map.initial as Uint8Array;
  const vsi = varIn(btf, map.name, name);
  if (!vsi) {
    const secId = findDatasec(btf, map.name);
    const ds = secId === undefined ? undefined : btf.type(secId);
    const known = ds?.kind === Kind.Datasec ? ds.vars.map((v) => btf.name(v.type)).join(', ') : '';
    throw errors.badOption(`globals: no variable '${name}' in ${map.name} (it has: ${known || 'none'})`);
  }
  if (value instanceof Uint8Array) {
    if (value.length !== vsi.size)
      throw errors.badOption(`globals: '${name}' takes ${vsi.size} bytes, got ${value.length}`);
    initial.set(value, vsi.offset);
    return;
  }
  const v = btf.type(vsi.type);
  if (v.kind !== Kind.Var) return;
  const desc: TypeDesc = describer.describe(v.type);
  const { codec } = createCodecs(Object.fromEntries(describer.named), le);
  const c = codec(desc);
  if (c.size !== vsi.size)
    throw errors.badOption(`globals: '${name}' is ${vsi.size} bytes but its type encodes ${c.size}`);
  try {
    c.encodeInto(value, initial, vsi.offset);
  } catch (e) {
    throw errors.badOption(`globals: cannot encode ${String(value)} as '${name}' (${(e as Error).message})`);
  }
}
