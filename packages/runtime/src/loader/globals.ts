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

export function applyGlobals(
  btf: Btf,
  maps: MapSpec[],
  globals: Record<string, Record<string, unknown>>,
  le: boolean,
): void {
  const describer = new TypeDescriber(btf);
  for (const [key, values] of Object.entries(globals)) {
    const section = sectionOf(key);
    const map = maps.find((m) => m.kind !== 'user' && m.name === section);
    const secId = findDatasec(btf, section);
    if (!map?.initial || secId === undefined)
      throw errors.badOption(`globals: the object has no ${section} section`);
    const ds = btf.type(secId);
    if (ds.kind !== Kind.Datasec) continue;
    for (const [name, value] of Object.entries(values)) {
      const vsi = ds.vars.find((v) => btf.name(v.type) === name);
      if (!vsi) {
        const known = ds.vars.map((v) => btf.name(v.type)).join(', ');
        throw errors.badOption(`globals: no variable '${name}' in ${section} (it has: ${known || 'none'})`);
      }
      const v = btf.type(vsi.type);
      if (v.kind !== Kind.Var) continue;
      const desc: TypeDesc = describer.describe(v.type);
      const { codec } = createCodecs(Object.fromEntries(describer.named), le);
      const c = codec(desc);
      if (c.size !== vsi.size)
        throw errors.badOption(`globals: '${name}' is ${vsi.size} bytes but its type encodes ${c.size}`);
      try {
        c.encodeInto(value, map.initial, vsi.offset);
      } catch (e) {
        throw errors.badOption(
          `globals: cannot encode ${JSON.stringify(value)} as '${name}' (${(e as Error).message})`,
        );
      }
    }
  }
}
