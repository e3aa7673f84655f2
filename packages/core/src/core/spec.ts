import { type Btf, Kind, type TypeId } from '../btf/index.ts';
import { isComposite, resolveSize, skipModsAndTypedefs, typeById, vlen } from './btfview.ts';
import { Errno } from './errno.ts';
import { isEnumvalBased, isFieldBased, isTypeBased } from './kinds.ts';

/** libbpf's BPF_CORE_SPEC_MAX_LEN: most accessors a spec may hold. */
export const SPEC_MAX_LEN = 64;

/**
 * One step of a high-level spec: the root "array" index, a named struct/union member, an
 * array element, or (enumval kinds) an enumerator. `name` is absent for array steps; libbpf
 * tells members and elements apart by it.
 */
export interface Accessor {
  typeId: TypeId;
  idx: number;
  name?: string;
}

/**
 * A CO-RE spec (`struct bpf_core_spec`): where in `btf` the relocated thing is. `accessors`
 * skip anonymous members (C's view); `raw` holds every index including anonymous levels.
 * `bitOffset` is a u32 like libbpf's, so out-of-range indices wrap the same way.
 */
export interface Spec {
  btf: Btf;
  rootTypeId: TypeId;
  kind: number;
  accessors: Accessor[];
  raw: number[];
  bitOffset: number;
}

export interface SpecFailure {
  errno: number;
  reason: string;
}

/** The record fields the parser needs (a `.BTF.ext` core_relo record). */
export interface SpecInput {
  typeId: TypeId;
  accessStrOff: number;
  kind: number;
}

export function isSpecFailure(x: Spec | SpecFailure): x is SpecFailure {
  return 'errno' in x;
}

/** The access string of a record, or undefined when its offset is not a valid string. */
export function accessString(btf: Btf, off: number): string | undefined {
  return btf.hasString(off) ? btf.str(off) : undefined;
}

/**
 * Splits an access string the way libbpf does: numbers read with C's `%d` (leading blanks
 * and a sign allowed), separated by single colons. Negative numbers are accepted (libbpf 1.1).
 */
export function parseAccessString(s: string): number[] | SpecFailure {
  return plainAccessString(s) ?? parseAccessStringScanf(s);
}

/**
 * What clang writes, "0:1:12", read without regular expressions or BigInt: indices of at
 * most 9 digits (they fit an int) joined by single colons. Anything else, undefined, for the
 * scanf-exact reading (signs, blanks, huge numbers, and every error).
 */
function plainAccessString(s: string): number[] | undefined {
  const raw: number[] = [];
  let v = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 9) return undefined;
      v = v * 10 + (c - 0x30);
    } else if (c === 0x3a && digits > 0 && i + 1 < s.length) {
      raw.push(v);
      v = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  if (digits === 0) return undefined;
  raw.push(v);
  return raw.length > SPEC_MAX_LEN ? undefined : raw;
}

/** parseAccessString by C scanf rules alone (exported for the test that holds the plain path to it). */
export function parseAccessStringScanf(s: string): number[] | SpecFailure {
  if (s === '' || s[0] === ':') return fail(Errno.EINVAL, `access string "${s}" is empty or starts with ':'`);
  const raw: number[] = [];
  let pos = 0;
  while (pos < s.length) {
    if (s[pos] === ':') pos++;
    const m = SCANF_INT.exec(s.slice(pos));
    if (!m) return fail(Errno.EINVAL, `access string "${s}" has no number at position ${pos}`);
    if (raw.length === SPEC_MAX_LEN)
      return fail(Errno.E2BIG, `access string "${s}" has more than ${SPEC_MAX_LEN} indices`);
    raw.push(scanfInt(m[1] as string));
    pos += m[0].length;
  }
  if (raw.length === 0) return fail(Errno.EINVAL, `access string "${s}" holds no index`);
  return raw;
}

const SCANF_INT = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/;
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/** glibc's `%d`: strtol (saturating at the long range) truncated to int. */
function scanfInt(text: string): number {
  let v = BigInt(text);
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return Number(BigInt.asIntN(32, v));
}

/** `bpf_core_parse_spec`: turns a relocation record into the local spec. */
export function parseSpec(btf: Btf, relo: SpecInput): Spec | SpecFailure {
  const str = accessString(btf, relo.accessStrOff);
  if (str === undefined || str === '' || str[0] === ':') {
    return fail(
      Errno.EINVAL,
      `access string ${str === undefined ? 'offset is invalid' : `"${str}" is malformed`}`,
    );
  }
  const spec: Spec = { btf, rootTypeId: relo.typeId, kind: relo.kind, accessors: [], raw: [], bitOffset: 0 };
  if (isTypeBased(relo.kind)) {
    if (str !== '0') return fail(Errno.EINVAL, `type relocation needs access string "0", got "${str}"`);
    return spec;
  }
  const raw = parseAccessString(str);
  if (!Array.isArray(raw)) return raw;
  spec.raw = raw;

  let id = skipModsAndTypedefs(btf, relo.typeId);
  if (id < 0) return fail(Errno.EINVAL, `type [${relo.typeId}] does not exist`);
  let t = btf.type(id);
  const first = raw[0] as number;
  spec.accessors.push({ typeId: id, idx: first });

  if (isEnumvalBased(relo.kind)) {
    if ((t.kind !== Kind.Enum && t.kind !== Kind.Enum64) || raw.length > 1 || first >= vlen(t)) {
      return fail(Errno.EINVAL, `enumerator access "${str}" does not name an enumerator of [${id}]`);
    }
    // A negative index reads outside the enumerator array in libbpf; we refuse to guess.
    const v = t.values[first];
    if (!v) return fail(Errno.EINVAL, `enumerator index ${first} is negative`);
    (spec.accessors[0] as Accessor).name = btf.str(v.nameOff);
    return spec;
  }
  if (!isFieldBased(relo.kind)) return fail(Errno.EINVAL, `unknown relocation kind ${relo.kind}`);

  let sz = resolveSize(btf, id);
  if (sz < 0) return fail(sz, `type [${id}] has no size`);
  spec.bitOffset = Math.imul(Math.imul(first, sz), 8) >>> 0;

  for (let i = 1; i < raw.length; i++) {
    id = skipModsAndTypedefs(btf, id);
    if (id < 0) return fail(Errno.EINVAL, `dangling type id in "${str}"`);
    t = btf.type(id);
    const idx = raw[i] as number;
    if (isComposite(t) && t.kind !== Kind.Unkn) {
      const members = (t as { members: { nameOff: number; type: TypeId; bitOffset: number }[] }).members;
      if (idx >= members.length) return fail(Errno.EINVAL, `member index ${idx} is past the end of [${id}]`);
      const m = members[idx];
      if (!m) return fail(Errno.EINVAL, `negative member index ${idx} of [${id}]`);
      spec.bitOffset = (spec.bitOffset + m.bitOffset) >>> 0;
      if (m.nameOff !== 0) {
        const name = btf.hasString(m.nameOff) ? btf.str(m.nameOff) : '';
        if (name === '') return fail(Errno.EINVAL, `member ${idx} of [${id}] has an invalid name`);
        spec.accessors.push({ typeId: id, idx, name });
      }
      id = m.type;
    } else if (t.kind === Kind.Array) {
      const elem = skipModsAndTypedefs(btf, t.type);
      if (elem < 0) return fail(Errno.EINVAL, `array [${id}] has a dangling element type`);
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1] as Accessor, t.nelems);
      if (!flex && (idx < 0 || idx >= t.nelems)) {
        return fail(Errno.EINVAL, `array index ${idx} is out of bounds for [${id}] (${t.nelems} elements)`);
      }
      id = elem;
      spec.accessors.push({ typeId: id, idx });
      sz = resolveSize(btf, id);
      if (sz < 0) return fail(sz, `array element [${id}] has no size`);
      spec.bitOffset = (spec.bitOffset + Math.imul(Math.imul(idx, sz), 8)) >>> 0;
    } else {
      return fail(
        Errno.EINVAL,
        `access "${str}" index ${i} reaches [${id}], which is neither struct, union nor array`,
      );
    }
  }
  return spec;
}

/**
 * `is_flex_arr`: a zero-length array that is the last member of the struct named by the
 * previous named accessor (so `s->arr[5]` is allowed past the declared size).
 */
export function isFlexArray(btf: Btf, prev: Accessor, nelems: number): boolean {
  if (prev.name === undefined || nelems > 0) return false;
  const t = typeById(btf, prev.typeId);
  return t !== undefined && prev.idx === vlen(t) - 1;
}

export function fail(errno: number, reason: string): SpecFailure {
  return { errno, reason };
}
