import { type Btf, type CompositeType, IntEncoding, Kind, type TypeId } from '../btf/index.ts';
import { resolveSize, signedBitQuirk, skipModsAndTypedefs, typeById } from './btfview.ts';
import { Errno } from './errno.ts';
import { isEnumvalBased, isFieldBased, isTypeBased, RelocationKind } from './kinds.ts';
import { type LibbpfVersion, libbpfRules } from './profile.ts';
import type { Accessor, Spec } from './spec.ts';

/**
 * `struct bpf_core_relo_res`: what to check in and write into the instruction. Values are
 * u64 (bigint): ENUMVAL_VALUE and LD_IMM64 carry 64 bits.
 */
export interface RelocationResult {
  origVal: bigint;
  newVal: bigint;
  poison: boolean;
  validate: boolean;
  /** LDX/ST/STX may not be resized (the instruction gets poisoned instead). */
  failMemszAdjust: boolean;
  origSize: number;
  newSize: number;
  origTypeId: TypeId;
  newTypeId: TypeId;
}

export interface CalcFailure {
  errno: number;
  reason: string;
}

export interface Options {
  /** Host byte order libbpf was compiled for; LSHIFT_U64 depends on it. Default little. */
  hostLittleEndian?: boolean;
  /** Which libbpf's rules (profile.ts). Default 1.1. */
  libbpf?: LibbpfVersion;
}

interface FieldOut {
  val: bigint;
  size: number;
  typeId: TypeId;
  validate: boolean;
}

const U32 = 0xffffffff;

/** `bpf_core_calc_field_relo` for one side; `spec` undefined means "no candidate matched". */
function fieldValue(kind: number, spec: Spec | undefined, opts: Options): FieldOut | CalcFailure {
  const out: FieldOut = { val: 0n, size: 0, typeId: 0, validate: true };
  if (kind === RelocationKind.FieldExists) {
    out.val = spec ? 1n : 0n;
    return out;
  }
  if (!spec) return { errno: Errno.EUCLEAN, reason: 'poison' };
  const acc = spec.accessors[spec.accessors.length - 1] as Accessor;
  const btf = spec.btf;
  const rules = libbpfRules(opts.libbpf);
  if (acc.name === undefined) {
    // Last step is an array element (or the root itself used as an array).
    if (kind === RelocationKind.FieldByteOffset) {
      out.val = BigInt(Math.floor(spec.bitOffset / 8));
      const sz = memSize(btf, acc.typeId, rules.arrayElementMemSize);
      if (sz < 0) return { errno: Errno.EINVAL, reason: `element type [${acc.typeId}] has no size` };
      out.size = sz;
      out.typeId = acc.typeId;
    } else if (kind === RelocationKind.FieldByteSize) {
      const sz = resolveSize(btf, acc.typeId);
      if (sz < 0) return { errno: Errno.EINVAL, reason: `element type [${acc.typeId}] has no size` };
      out.val = BigInt(sz);
    } else {
      return { errno: Errno.EINVAL, reason: 'this relocation kind cannot be applied to an array element' };
    }
    return out;
  }

  const t = typeById(btf, acc.typeId) as CompositeType;
  const m = t.members[acc.idx] as CompositeType['members'][number];
  const fieldTypeId = skipModsAndTypedefs(btf, m.type);
  if (fieldTypeId < 0) return { errno: Errno.EINVAL, reason: `member type [${m.type}] is dangling` };
  const mt = btf.type(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = 'size' in mt ? mt.size : 0;
    if (byteSz === 0) return { errno: Errno.EINVAL, reason: `bitfield type [${fieldTypeId}] has no size` };
    byteOff = Math.floor(Math.floor(bitOff / 8) / byteSz) * byteSz;
    // Smallest power-of-two load that covers the whole bitfield.
    while ((bitOff + bitSz - byteOff * 8) >>> 0 > (byteSz * 8) >>> 0) {
      if (byteSz >= 8)
        return { errno: Errno.E2BIG, reason: 'the bitfield cannot be loaded with any integer size' };
      byteSz *= 2;
      byteOff = Math.floor(Math.floor(bitOff / 8) / byteSz) * byteSz;
    }
  } else {
    const sz = resolveSize(btf, fieldTypeId);
    if (sz < 0) return { errno: Errno.EINVAL, reason: `member type [${fieldTypeId}] has no size` };
    byteSz = sz;
    byteOff = Math.floor(bitOff / 8);
    bitSz = (byteSz * 8) >>> 0;
  }
  // For bitfields libbpf may disagree with the compiler, so it checks nothing but the sign
  // and the right shift.
  out.validate = !bitfield;
  switch (kind) {
    case RelocationKind.FieldByteOffset:
      out.val = BigInt(byteOff);
      if (!bitfield) {
        if (rules.arrayElementMemSize) {
          const sz = memSize(btf, fieldTypeId, true);
          if (sz < 0) return { errno: Errno.EINVAL, reason: `member type [${fieldTypeId}] has no size` };
          out.size = sz;
        } else out.size = byteSz;
        out.typeId = fieldTypeId;
      }
      break;
    case RelocationKind.FieldByteSize:
      out.val = BigInt(byteSz);
      break;
    case RelocationKind.FieldSigned: {
      // libbpf 1.1 reads the INT encoding word whatever the member's kind is; 1.3 fixed that.
      const enumSigned = (mt.kind === Kind.Enum || mt.kind === Kind.Enum64) && mt.kflag;
      const intSigned =
        mt.kind === Kind.Int
          ? (mt.encoding & IntEncoding.Signed) !== 0
          : !rules.signedOnlyIntOrEnum && signedBitQuirk(btf, fieldTypeId);
      out.val = enumSigned || intSigned ? 1n : 0n;
      out.validate = true;
      break;
    }
    case RelocationKind.FieldLshiftU64: {
      // u32 arithmetic in libbpf, then widened to u64.
      const v =
        opts.hostLittleEndian === false
          ? ((8 - byteSz) * 8 + (bitOff - byteOff * 8)) >>> 0
          : (64 - ((bitOff + bitSz - byteOff * 8) >>> 0)) >>> 0;
      out.val = BigInt(v & U32);
      break;
    }
    case RelocationKind.FieldRshiftU64:
      out.val = BigInt((64 - bitSz) >>> 0);
      out.validate = true;
      break;
    default:
      return { errno: Errno.EOPNOTSUPP, reason: `unsupported field relocation kind ${kind}` };
  }
  return out;
}

/**
 * The size a direct load/store of type `id` accesses, for the size-adjustment check: the
 * whole type in libbpf < 1.6; from 1.6 the innermost element of an array (a load reads one
 * element, not the array).
 */
function memSize(btf: Btf, id: TypeId, elementOfArrays: boolean): number {
  if (!elementOfArrays) return resolveSize(btf, id);
  let elem = skipModsAndTypedefs(btf, id);
  for (let depth = 0; elem >= 0 && depth < 4096; depth++) {
    const t = btf.type(elem);
    if (t.kind !== Kind.Array) break;
    elem = skipModsAndTypedefs(btf, t.type);
  }
  return elem < 0 ? Errno.EINVAL : resolveSize(btf, elem);
}

/** `bpf_core_calc_type_relo`: value 0 when no candidate matched (never poison). */
function typeValue(kind: number, spec: Spec | undefined): { val: bigint; validate: boolean } | CalcFailure {
  if (!spec) return { val: 0n, validate: true };
  switch (kind) {
    case RelocationKind.TypeIdTarget:
      // Ids embedded in instructions change during linking: never checked.
      return { val: BigInt(spec.rootTypeId), validate: false };
    case RelocationKind.TypeExists:
    case RelocationKind.TypeMatches:
      return { val: 1n, validate: true };
    case RelocationKind.TypeSize: {
      const sz = resolveSize(spec.btf, spec.rootTypeId);
      if (sz < 0) return { errno: Errno.EINVAL, reason: `type [${spec.rootTypeId}] has no size` };
      return { val: BigInt(sz), validate: true };
    }
    default:
      return { errno: Errno.EOPNOTSUPP, reason: `unsupported type relocation kind ${kind}` };
  }
}

/** `bpf_core_calc_enumval_relo`: 32-bit enumerators are sign-extended whatever their enum's sign. */
function enumvalValue(kind: number, spec: Spec | undefined): bigint | CalcFailure {
  if (kind === RelocationKind.EnumvalExists) return spec ? 1n : 0n;
  if (kind !== RelocationKind.EnumvalValue)
    return { errno: Errno.EOPNOTSUPP, reason: `unsupported kind ${kind}` };
  if (!spec) return { errno: Errno.EUCLEAN, reason: 'poison' };
  const acc = spec.accessors[0] as Accessor;
  const t = spec.btf.type(acc.typeId);
  if (t.kind === Kind.Enum) {
    const v = t.values[acc.idx];
    if (!v) return { errno: Errno.EINVAL, reason: `enumerator ${acc.idx} does not exist` };
    return BigInt.asUintN(64, BigInt(v.value | 0));
  }
  if (t.kind === Kind.Enum64) {
    const v = t.values[acc.idx];
    if (!v) return { errno: Errno.EINVAL, reason: `enumerator ${acc.idx} does not exist` };
    return (BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0);
  }
  return { errno: Errno.EINVAL, reason: `[${acc.typeId}] is not an enum` };
}

function isFailure(x: unknown): x is CalcFailure {
  return typeof x === 'object' && x !== null && 'errno' in x;
}

/**
 * `bpf_core_calc_relo`: the original value (from the local spec: what the compiler put in the
 * instruction) and the new one (from the target spec), plus whether the instruction must
 * become a poison call. Returns a failure for real errors only.
 */
export function calcRelocation(
  kind: number,
  local: Spec,
  targ: Spec | undefined,
  localBtf: Btf,
  opts: Options = {},
): RelocationResult | CalcFailure {
  const res: RelocationResult = {
    origVal: 0n,
    newVal: 0n,
    poison: false,
    validate: true,
    failMemszAdjust: false,
    origSize: 0,
    newSize: 0,
    origTypeId: 0,
    newTypeId: 0,
  };
  let failure: CalcFailure | undefined;
  if (isFieldBased(kind)) {
    const o = fieldValue(kind, local, opts);
    if (isFailure(o)) failure = o;
    else {
      res.origVal = o.val;
      res.origSize = o.size;
      res.origTypeId = o.typeId;
      res.validate = o.validate;
      const n = fieldValue(kind, targ, opts);
      if (isFailure(n)) failure = n;
      else {
        res.newVal = n.val;
        res.newSize = n.size;
        res.newTypeId = n.typeId;
        if (res.origSize !== res.newSize && targ) {
          const ot = localBtf.type(res.origTypeId);
          const nt = targ.btf.type(res.newTypeId);
          // Resizing a load is safe for pointers and for unsigned integers (zero extension).
          const bothPtr = ot.kind === Kind.Ptr && nt.kind === Kind.Ptr;
          const bothUnsigned =
            ot.kind === Kind.Int &&
            nt.kind === Kind.Int &&
            ot.encoding !== IntEncoding.Signed &&
            nt.encoding !== IntEncoding.Signed;
          res.failMemszAdjust = !bothPtr && !bothUnsigned;
        }
      }
    }
  } else if (isTypeBased(kind)) {
    const o = typeValue(kind, local);
    if (isFailure(o)) failure = o;
    else {
      res.origVal = o.val;
      res.validate = o.validate;
      const n = typeValue(kind, targ);
      if (isFailure(n)) failure = n;
      else res.newVal = n.val;
    }
  } else if (isEnumvalBased(kind)) {
    const o = enumvalValue(kind, local);
    if (isFailure(o)) failure = o;
    else {
      res.origVal = o;
      const n = enumvalValue(kind, targ);
      if (isFailure(n)) failure = n;
      else res.newVal = n;
    }
  } else {
    failure = { errno: Errno.EOPNOTSUPP, reason: `unrecognized CO-RE relocation kind ${kind}` };
  }
  if (failure) {
    if (failure.errno === Errno.EUCLEAN) {
      res.poison = true;
      return res;
    }
    return failure;
  }
  return res;
}

export { isFailure as isCalcFailure };
