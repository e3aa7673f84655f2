/**
 * BTF for kernels older than the compiler: which BTF kinds the running kernel accepts (probed
 * the way libbpf probes, by loading a tiny BTF using the kind), and the object's BTF rewritten
 * as libbpf 1.1's bpf_object__sanitize_btf rewrites it when some are missing. Every rewrite
 * keeps each record's size, so type ids do not move; only ENUM64 adds one INT at the end.
 */
import { Btf, type BtfType, encodeBtf, Kind, StringTableBuilder } from '../deps.ts';
import { btfLoad, closeFd } from '../sys/bpf.ts';

export interface BtfFeatures {
  func: boolean;
  globalFunc: boolean;
  datasec: boolean;
  float: boolean;
  declTag: boolean;
  typeTag: boolean;
  enum64: boolean;
}

export const ALL_FEATURES: BtfFeatures = {
  func: true,
  globalFunc: true,
  datasec: true,
  float: true,
  declTag: true,
  typeTag: true,
  enum64: true,
};

const INT32 = (nameOff: number): BtfType => ({
  kind: Kind.Int,
  nameOff,
  kflag: false,
  size: 4,
  encoding: 1,
  bitOffset: 0,
  bits: 32,
});

/** A probe BTF: types built over a string table. */
function probe(build: (s: StringTableBuilder) => BtfType[]): Uint8Array {
  const strings = new StringTableBuilder();
  const types = build(strings);
  const hostLe = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  return encodeBtf(new Btf({ types, strings: strings.finish(), littleEndian: hostLe }), { hdrLen: 24 });
}

const PROBES: Record<keyof BtfFeatures, () => Uint8Array> = {
  func: () =>
    probe((s) => [
      INT32(s.add('int')),
      { kind: Kind.FuncProto, nameOff: 0, kflag: false, type: 1, params: [{ nameOff: s.add('x'), type: 1 }] },
      { kind: Kind.Func, nameOff: s.add('f'), kflag: false, type: 2, linkage: 0 },
    ]),
  globalFunc: () =>
    probe((s) => [
      INT32(s.add('int')),
      { kind: Kind.FuncProto, nameOff: 0, kflag: false, type: 1, params: [{ nameOff: s.add('x'), type: 1 }] },
      { kind: Kind.Func, nameOff: s.add('f'), kflag: false, type: 2, linkage: 1 },
    ]),
  datasec: () =>
    probe((s) => [
      INT32(s.add('int')),
      { kind: Kind.Var, nameOff: s.add('x'), kflag: false, type: 1, linkage: 1 },
      {
        kind: Kind.Datasec,
        nameOff: s.add('.data'),
        kflag: false,
        size: 4,
        vars: [{ type: 2, offset: 0, size: 4 }],
      },
    ]),
  float: () => probe((s) => [{ kind: Kind.Float, nameOff: s.add('float'), kflag: false, size: 4 }]),
  declTag: () =>
    probe((s) => [
      INT32(s.add('int')),
      { kind: Kind.Var, nameOff: s.add('x'), kflag: false, type: 1, linkage: 0 },
      { kind: Kind.DeclTag, nameOff: s.add('tag'), kflag: false, type: 2, componentIdx: -1 },
    ]),
  typeTag: () =>
    probe((s) => [
      INT32(s.add('int')),
      { kind: Kind.TypeTag, nameOff: s.add('tag'), kflag: false, type: 1 },
      { kind: Kind.Ptr, nameOff: 0, kflag: false, type: 2 },
    ]),
  enum64: () =>
    probe((s) => [
      {
        kind: Kind.Enum64,
        nameOff: s.add('e'),
        kflag: false,
        size: 8,
        values: [{ nameOff: s.add('v'), lo: 0, hi: 1 }],
      },
    ]),
};

let cached: BtfFeatures | undefined;

/** What the running kernel's BTF loader accepts (probed once per process). */
export function probeBtfFeatures(): BtfFeatures {
  if (cached) return cached;
  const out = { ...ALL_FEATURES };
  for (const k of Object.keys(PROBES) as (keyof BtfFeatures)[]) {
    try {
      closeFd(btfLoad(PROBES[k]()));
    } catch {
      out[k] = false;
    }
  }
  cached = out;
  return out;
}

/** The BTF rewritten for a kernel with `f`; the same object when nothing is missing. */
export function sanitizeBtf(btf: Btf, f: BtfFeatures): Btf {
  if (Object.values(f).every(Boolean)) return btf;
  const strings = btf.strings.slice();
  const types: BtfType[] = [];
  let enum64Placeholder = 0;
  const extraStrings: string[] = [];
  for (let i = 0; i < btf.types.length; i++) {
    const t = btf.types[i] as BtfType;
    let out: BtfType = t;
    if ((!f.datasec && t.kind === Kind.Var) || (!f.declTag && t.kind === Kind.DeclTag)) {
      // One byte is the safe size: four could exceed what the variable took.
      out = { kind: Kind.Int, nameOff: t.nameOff, kflag: false, size: 1, encoding: 0, bitOffset: 0, bits: 8 };
    } else if (!f.datasec && t.kind === Kind.Datasec) {
      // A STRUCT whose members are the variables; C has no '.' in names, so the name is
      // rewritten in place (as libbpf does, for every user of that string).
      for (let o = t.nameOff; o < strings.length && strings[o] !== 0; o++)
        if (strings[o] === 0x2e) strings[o] = 0x5f;
      out = {
        kind: Kind.Struct,
        nameOff: t.nameOff,
        kflag: false,
        size: t.size,
        members: t.vars.map((v) => ({
          nameOff: btf.type(v.type).nameOff,
          type: v.type,
          bitOffset: v.offset * 8,
          bitfieldSize: 0,
        })),
      };
    } else if (!f.func && t.kind === Kind.FuncProto) {
      out = {
        kind: Kind.Enum,
        nameOff: t.nameOff,
        kflag: false,
        size: 4,
        values: t.params.map((p) => ({ nameOff: p.nameOff, value: p.type })),
      };
    } else if (!f.func && t.kind === Kind.Func) {
      out = { kind: Kind.Typedef, nameOff: t.nameOff, kflag: false, type: t.type };
    } else if (!f.globalFunc && t.kind === Kind.Func) {
      out = { ...t, linkage: 0 };
    } else if (!f.float && t.kind === Kind.Float) {
      out = { kind: Kind.Struct, nameOff: 0, kflag: false, size: t.size, members: [] };
    } else if (!f.typeTag && t.kind === Kind.TypeTag) {
      out = { kind: Kind.Const, nameOff: 0, kflag: false, type: t.type };
    } else if (!f.enum64 && t.kind === Kind.Enum) {
      out = { ...t, kflag: false };
    } else if (!f.enum64 && t.kind === Kind.Enum64) {
      if (!enum64Placeholder) {
        enum64Placeholder = btf.startId + btf.types.length;
        extraStrings.push('enum64_placeholder');
      }
      out = {
        kind: Kind.Union,
        nameOff: t.nameOff,
        kflag: false,
        size: t.size,
        members: t.values.map((v) => ({
          nameOff: v.nameOff,
          type: enum64Placeholder,
          bitOffset: 0,
          bitfieldSize: 0,
        })),
      };
    }
    types.push(out);
  }
  let allStrings = strings;
  if (enum64Placeholder) {
    // btf__add_int appends the name to the string section and the INT to the types.
    const name = new TextEncoder().encode(`${extraStrings[0]}\0`);
    allStrings = new Uint8Array(strings.length + name.length);
    allStrings.set(strings);
    allStrings.set(name, strings.length);
    types.push({
      kind: Kind.Int,
      nameOff: btf.startStrOff + strings.length,
      kflag: false,
      size: 1,
      encoding: 0,
      bitOffset: 0,
      bits: 8,
    });
  }
  return new Btf({ types, strings: allStrings, littleEndian: btf.littleEndian });
}
