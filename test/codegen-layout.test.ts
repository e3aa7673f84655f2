import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Btf } from '../packages/core/src/btf/index.ts';
import { createCodecs } from '../packages/core/src/codegen/codec.js';
import { TypeDescriber } from '../packages/core/src/codegen/describe.ts';
import { buildLayoutFixture, type Written } from './fixtures/codegen/layouts.ts';

// The codecs' layouts come from clang's BTF; the bytes come from the same structs compiled by
// gcc for the host. Agreement on offsets, sizes and decoded values shows the codecs follow C.

let btf: Btf;
let written: Written[];
let bpftoolSizes: Map<string, number>;
/** bpftool's members of each named struct/union: clang's bit offsets and bitfield widths. */
let bpftoolMembers: Map<string, { name: string; bitsOffset: number; bitfieldSize: number }[]>;

beforeAll(() => {
  const fixture = buildLayoutFixture('btfkit-layout-');
  ({ btf, written } = fixture);
  const obj = join(fixture.dir, 'layouts.bpf.o');
  // bpftool's own reading of the BTF, for the sizes.
  bpftoolSizes = new Map();
  bpftoolMembers = new Map();
  let members: { name: string; bitsOffset: number; bitfieldSize: number }[] | undefined;
  for (const line of execFileSync('bpftool', ['btf', 'dump', 'file', obj], { encoding: 'utf8' }).split(
    '\n',
  )) {
    const m = /^\[\d+\] (?:STRUCT|UNION) '(\w+)' size=(\d+)/.exec(line);
    if (m) {
      bpftoolSizes.set(m[1] as string, Number(m[2]));
      members = [];
      bpftoolMembers.set(m[1] as string, members);
      continue;
    }
    if (line.startsWith('[')) members = undefined;
    const f = /^\t'([^']*)' type_id=\d+ bits_offset=(\d+)(?: bitfield_size=(\d+))?/.exec(line);
    if (f && members) {
      members.push({ name: f[1] as string, bitsOffset: Number(f[2]), bitfieldSize: Number(f[3] ?? 0) });
    }
  }
});

function codecFor(name: string) {
  const ids = btf.byName(name).filter((id) => {
    const k = btf.type(id).kind;
    return k === 4 || k === 5;
  });
  expect(ids).toHaveLength(1);
  const d = new TypeDescriber(btf);
  const ref = d.describe(ids[0] as number);
  const codecs = createCodecs(Object.fromEntries(d.named), btf.littleEndian);
  return codecs.codec(ref);
}

function at(value: unknown, path: string): unknown {
  let v = value;
  for (const p of path.split('.')) v = (v as Record<string, unknown>)[p];
  return v;
}

function norm(v: unknown): unknown {
  if (typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  }
  return v;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('codec layouts against clang BTF and gcc-written bytes', () => {
  it('covers every struct the writer wrote', () => {
    expect(written.map((w) => w.type).sort()).toEqual(
      ['aligned', 'bits', 'flex', 'nested', 'overlay', 'packed', 'padded', 'strings'].sort(),
    );
  });

  for (const name of ['padded', 'packed', 'aligned', 'bits', 'overlay', 'nested', 'strings', 'flex']) {
    describe(name, () => {
      it('has the size gcc and bpftool give', () => {
        const w = written.find((x) => x.type === name) as Written;
        const c = codecFor(name);
        expect(c.size).toBe(w.size);
        expect(c.size).toBe(bpftoolSizes.get(name));
      });

      it('places each field at its offsetof', () => {
        const w = written.find((x) => x.type === name) as Written;
        const layout = codecFor(name).layout ?? [];
        const fields = Object.entries(w.offsets).filter(([field]) => field !== '_');
        // C has no offsetof for bitfields: `bits` is checked against clang's BTF below only.
        if (name === 'bits') expect(fields).toEqual([]);
        else expect(fields.length).toBeGreaterThan(0);
        for (const [field, off] of fields) {
          const f = layout.find((l) => l.name === field);
          expect(f, field).toBeDefined();
          expect((f?.bitOffset ?? -1) / 8, field).toBe(off);
        }
      });

      it('places each named member at the bit offset and width clang gave it (bpftool)', () => {
        const layout = codecFor(name).layout ?? [];
        // Anonymous members are flattened into their fields by the codec; bpftool lists them
        // as one '(anon)' member, whose fields the offsetof test covers.
        const named = (bpftoolMembers.get(name) ?? []).filter((m) => m.name !== '(anon)');
        expect(named.length).toBeGreaterThan(0);
        for (const m of named) {
          const f = layout.find((l) => l.name === m.name);
          expect(f, m.name).toBeDefined();
          expect(f?.bitOffset, m.name).toBe(m.bitsOffset);
          expect(f?.bitSize, m.name).toBe(m.bitfieldSize);
        }
      });

      it('decodes the bytes gcc wrote to the values it stored', () => {
        const w = written.find((x) => x.type === name) as Written;
        const value = codecFor(name).decode(Buffer.from(w.bytes, 'hex'));
        expect(Object.keys(w.values).length).toBeGreaterThan(0);
        for (const [path, expected] of Object.entries(w.values)) {
          expect(norm(at(value, path)), path).toEqual(expected);
        }
      });

      it('encodes the decoded value back to the same bytes', () => {
        const w = written.find((x) => x.type === name) as Written;
        const c = codecFor(name);
        const bytes = Buffer.from(w.bytes, 'hex');
        expect(hex(c.encode(c.decode(bytes)))).toBe(w.bytes);
      });
    });
  }

  it('writes a bitfield without touching its neighbours', () => {
    const c = codecFor('bits');
    const w = written.find((x) => x.type === 'bits') as Written;
    const bytes = Buffer.from(w.bytes, 'hex');
    const v = c.decode(bytes) as Record<string, unknown>;
    const out = Uint8Array.from(bytes);
    c.encodeInto({ c: 63 }, out);
    const back = c.decode(out) as Record<string, unknown>;
    expect(back.c).toBe(63);
    for (const k of ['a', 'b', 'd', 'e', 'f', 'g', 'h', 'i']) expect(back[k], k).toEqual(v[k]);
  });

  it('gives enum names with their numbers available', () => {
    const ids = btf.byName('color');
    const d = new TypeDescriber(btf);
    const c = createCodecs({}, true);
    const ref = d.describe(ids[0] as number);
    const codec = createCodecs(Object.fromEntries(d.named), true).codec(ref);
    expect(codec.values).toEqual({ RED: 1, GREEN: 2, BLUE: 40000 });
    expect(c.sizeOf({ kind: 'int', size: 4, signed: false })).toBe(4);
    expect(() => codec.encode('PURPLE')).toThrow(/PURPLE/);
  });
});
