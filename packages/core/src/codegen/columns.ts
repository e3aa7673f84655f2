import type { TypeDesc } from './runtime/codec.ts';

/**
 * Columnar layout of a record type: every scalar a record holds, as one column each, named by
 * its dotted path (`inner.a`, `arr.1.b`, `matrix.0.2`). Nested structs, unions and arrays are
 * flattened; anonymous members belong to their parent (as in the codec and the views, the
 * last of two same-named fields wins). The runtime generates its batch decoder from this, and
 * codegen types a skeleton's columns with it, so both agree on names and array types.
 */

/** The typed array a column's values live in. */
export type ColumnArrayType =
  | 'Int8Array'
  | 'Uint8Array'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'BigInt64Array'
  | 'BigUint64Array'
  | 'Float32Array'
  | 'Float64Array';

export interface ColumnSpec {
  /** Dotted path from the record ('value' for a record that is not a struct or union). */
  name: string;
  /**
   * int: integers (and pointers), one typed-array element per record; float: IEEE values;
   * bool: 0/1 in a Uint8Array; enum: the raw value (names in `values`); chars: char[N] as N
   * bytes per record, read as a C string on demand; bytes: raw bytes, N per record.
   */
  kind: 'int' | 'float' | 'bool' | 'enum' | 'chars' | 'bytes';
  /** Byte offset in the record (bitfields: of the bitfield's first bit, rounded down). */
  offset: number;
  /** Bytes the value takes in the record: the scalar's size, N for chars/bytes. */
  size: number;
  signed: boolean;
  /** The column's typed array; Uint8Array (N per record) for chars and bytes. */
  array: ColumnArrayType;
  /** Bitfields: the field's first bit from the record's start, and its width. */
  bitOffset?: number;
  bitSize?: number;
  /** Enums: [name, decimal value] as in the codec's descriptor. */
  values?: [string, string][];
}

const INT_ARRAYS: Record<string, ColumnArrayType> = {
  s1: 'Int8Array',
  u1: 'Uint8Array',
  s2: 'Int16Array',
  u2: 'Uint16Array',
  s4: 'Int32Array',
  u4: 'Uint32Array',
  s8: 'BigInt64Array',
  u8: 'BigUint64Array',
};

/** Nested levels followed before a descriptor is taken as a cycle (as the codec's resolve). */
const MAX_REFS = 64;

/**
 * The columns of a record of type `desc` over the type table `types`. Flexible array members
 * (zero elements) and zero-sized members have no column.
 */
export function columnLayout(types: Record<string, TypeDesc>, desc: TypeDesc): ColumnSpec[] {
  const resolve = (d: TypeDesc): TypeDesc => {
    let x = d;
    for (let i = 0; x.kind === 'ref' && i < MAX_REFS; i++) {
      const next = types[x.name];
      if (!next) throw new Error(`btfkit columns: the type table has no type '${x.name}'`);
      x = next;
    }
    if (x.kind === 'ref') throw new Error(`btfkit columns: type '${x.name}' refers to itself`);
    return x;
  };
  const out = new Map<string, ColumnSpec>();
  const put = (c: ColumnSpec) => {
    out.delete(c.name);
    out.set(c.name, c);
  };
  const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

  /** A value of type `d` at byte `offset`, named `name`. */
  const leaf = (d: TypeDesc, name: string, offset: number, depth: number): void => {
    if (depth > MAX_REFS) throw new Error(`btfkit columns: '${name}' nests more than ${MAX_REFS} levels`);
    const t = resolve(d);
    switch (t.kind) {
      case 'int': {
        const array = INT_ARRAYS[`${t.signed ? 's' : 'u'}${t.size}`];
        if (!array) break;
        if (t.bool) put({ name, kind: 'bool', offset, size: t.size, signed: false, array: 'Uint8Array' });
        else put({ name, kind: 'int', offset, size: t.size, signed: t.signed, array });
        return;
      }
      case 'ptr':
        put({ name, kind: 'int', offset, size: 8, signed: false, array: 'BigUint64Array' });
        return;
      case 'float':
        if (t.size !== 4 && t.size !== 8) break;
        put({
          name,
          kind: 'float',
          offset,
          size: t.size,
          signed: true,
          array: t.size === 4 ? 'Float32Array' : 'Float64Array',
        });
        return;
      case 'enum': {
        const array = INT_ARRAYS[`${t.signed ? 's' : 'u'}${t.size}`];
        if (!array) break;
        put({ name, kind: 'enum', offset, size: t.size, signed: t.signed, array, values: t.values });
        return;
      }
      case 'string':
        if (t.size > 0)
          put({ name, kind: 'chars', offset, size: t.size, signed: false, array: 'Uint8Array' });
        return;
      case 'array':
        for (let i = 0; i < t.count; i++)
          leaf(t.elem, join(name, String(i)), offset + i * t.stride, depth + 1);
        return;
      case 'struct':
      case 'union':
        fields(t, name, offset * 8, depth + 1);
        return;
    }
    // Odd-sized ints and floats, opaque bytes: raw bytes.
    const size = t.kind === 'ref' ? 0 : t.size;
    if (size > 0) put({ name, kind: 'bytes', offset, size, signed: false, array: 'Uint8Array' });
  };

  const fields = (
    s: Extract<TypeDesc, { kind: 'struct' | 'union' }>,
    prefix: string,
    baseBits: number,
    depth: number,
  ): void => {
    for (const f of s.fields) {
      const bitOffset = baseBits + f.bitOffset;
      const ft = resolve(f.type);
      if (f.bitSize) {
        const name = join(prefix, f.name);
        const base = ft.kind === 'int' || ft.kind === 'enum' ? ft : undefined;
        const array = base ? INT_ARRAYS[`${base.signed ? 's' : 'u'}${base.size}`] : undefined;
        if (!base || !array) continue;
        const bits = { offset: bitOffset >> 3, size: base.size, bitOffset, bitSize: f.bitSize };
        if (base.kind === 'enum')
          put({ name, kind: 'enum', ...bits, signed: base.signed, array, values: base.values });
        else if (base.bool) put({ name, kind: 'bool', ...bits, signed: false, array: 'Uint8Array' });
        else put({ name, kind: 'int', ...bits, signed: base.signed, array });
        continue;
      }
      if (f.name === '' && (ft.kind === 'struct' || ft.kind === 'union')) {
        fields(ft, prefix, bitOffset, depth + 1);
        continue;
      }
      leaf(ft, join(prefix, f.name), bitOffset / 8, depth);
    }
  };

  const top = resolve(desc);
  if (top.kind === 'struct' || top.kind === 'union') fields(top, '', 0, 0);
  else leaf(top, 'value', 0, 0);
  return [...out.values()];
}

/** The TypeScript type of a column (for generated declarations). */
export function columnTsType(c: ColumnSpec, ns: string): string {
  if (c.kind === 'chars') return `${ns}.CharColumn`;
  if (c.kind === 'bytes') return `${ns}.BytesColumn`;
  return c.array;
}
