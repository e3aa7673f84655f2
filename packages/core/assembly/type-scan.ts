// AssemblyScript, part of the BTF module (assembly/btf.ts, compiled by scripts/build-wasm.mjs
// into packages/core/src/btf/btf-wasm.ts). The fast path of btf/records.ts scanTypes: one pass
// over a type section (host-order u32 words at `words`, `bytes` long) writing each record's
// first word index to `offs`, and the largest name offset and referenced type id on the way.
//
// It only ever accepts what scanTypes accepts. Anything else (a record running past the
// section, a kind outside 1..19, which only a layout section could describe) makes it answer
// FAIL, and scanTypes then scans in JavaScript, which accepts the layout-described kinds and
// words the error for the rest. Why at all: a CLI run decodes one kernel (~130k records) and
// exits, and V8 ran the JavaScript scan unoptimized for most of it (~15-25 ms cold against
// ~5 ms warm); WebAssembly is compiled before it runs.

import {
  BtfKind,
  ARRAY_BYTES,
  DECL_TAG_BYTES,
  ENUM64_VALUE_BYTES,
  ENUM_VALUE_BYTES,
  INT_ENCODING_BYTES,
  MEMBER_BYTES,
  PARAM_BYTES,
  RECORD_HEAD_BYTES,
  VAR_BYTES,
  VAR_SECINFO_BYTES,
} from '../src/btf/wire';

export const FAIL: u32 = 0xffffffff;

let maxName: u32 = 0;
let maxRef: u32 = 0;

export function maxNameOff(): u32 {
  return maxName;
}

export function maxTypeRef(): u32 {
  return maxRef;
}

/** Scans; returns the record count, or FAIL. */
export function scan(words: usize, bytes: u32, offs: usize): u32 {
  let pos: u32 = 0;
  let count: u32 = 0;
  let names: u32 = 0;
  let refs: u32 = 0;
  while (pos < bytes) {
    if (bytes - pos < <u32>RECORD_HEAD_BYTES) return FAIL;
    const w = words + <usize>pos;
    const nameOff = load<u32>(w);
    const info = load<u32>(w, 4);
    const ref = load<u32>(w, 8);
    if (nameOff > names) names = nameOff;
    const vlen = info & 0xffffff;
    const kind = (info >>> 24) & 0x7f;
    store<u32>(offs + (<usize>count << 2), pos >>> 2);
    count++;
    pos += RECORD_HEAD_BYTES;
    // Bytes after the 12-byte head, and which of its words are names or type ids.
    let extra: u64 = 0;
    switch (kind) {
      case BtfKind.Int:
        extra = INT_ENCODING_BYTES;
        break;
      case BtfKind.Fwd:
      case BtfKind.Float:
        break;
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.Func:
      case BtfKind.TypeTag:
        if (ref > refs) refs = ref;
        break;
      case BtfKind.Array: {
        if (bytes - pos < <u32>ARRAY_BYTES) return FAIL;
        const elem = load<u32>(w, 12);
        const index = load<u32>(w, 16);
        if (elem > refs) refs = elem;
        if (index > refs) refs = index;
        extra = ARRAY_BYTES;
        break;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        extra = <u64>vlen * MEMBER_BYTES;
        if (<u64>(bytes - pos) < extra) return FAIL;
        for (let p = w + RECORD_HEAD_BYTES, e = p + <usize>extra; p < e; p += MEMBER_BYTES) {
          const n = load<u32>(p);
          const t = load<u32>(p, 4);
          if (n > names) names = n;
          if (t > refs) refs = t;
        }
        break;
      }
      case BtfKind.Enum: {
        extra = <u64>vlen * ENUM_VALUE_BYTES;
        if (<u64>(bytes - pos) < extra) return FAIL;
        for (let p = w + RECORD_HEAD_BYTES, e = p + <usize>extra; p < e; p += ENUM_VALUE_BYTES) {
          const n = load<u32>(p);
          if (n > names) names = n;
        }
        break;
      }
      case BtfKind.Enum64: {
        extra = <u64>vlen * ENUM64_VALUE_BYTES;
        if (<u64>(bytes - pos) < extra) return FAIL;
        for (let p = w + RECORD_HEAD_BYTES, e = p + <usize>extra; p < e; p += ENUM64_VALUE_BYTES) {
          const n = load<u32>(p);
          if (n > names) names = n;
        }
        break;
      }
      case BtfKind.FuncProto: {
        extra = <u64>vlen * PARAM_BYTES;
        if (<u64>(bytes - pos) < extra) return FAIL;
        if (ref > refs) refs = ref;
        for (let p = w + RECORD_HEAD_BYTES, e = p + <usize>extra; p < e; p += PARAM_BYTES) {
          const n = load<u32>(p);
          const t = load<u32>(p, 4);
          if (n > names) names = n;
          if (t > refs) refs = t;
        }
        break;
      }
      case BtfKind.Var:
      case BtfKind.DeclTag:
        // VAR_BYTES and DECL_TAG_BYTES: one word each.
        extra = VAR_BYTES;
        if (ref > refs) refs = ref;
        break;
      case BtfKind.Datasec: {
        extra = <u64>vlen * VAR_SECINFO_BYTES;
        if (<u64>(bytes - pos) < extra) return FAIL;
        for (let p = w + RECORD_HEAD_BYTES, e = p + <usize>extra; p < e; p += VAR_SECINFO_BYTES) {
          const t = load<u32>(p);
          if (t > refs) refs = t;
        }
        break;
      }
      default:
        return FAIL;
    }
    if (<u64>(bytes - pos) < extra) return FAIL;
    pos += <u32>extra;
  }
  maxName = names;
  maxRef = refs;
  return count;
}

/**
 * libbpf's sanity rule that a FUNC refers to a FUNC_PROTO, over the `count` records a scan
 * left at `offs` (the first has id `firstId`): 1 when every FUNC's target is one of these
 * records and a FUNC_PROTO. 0 says only "not shown here" (a target in a base BTF, or a
 * violation): decode.ts then checks in JavaScript, which finds and words the violation.
 */
export function funcProtosOk(words: usize, offs: usize, count: u32, firstId: u32): u32 {
  for (let i: u32 = 0; i < count; i++) {
    const w = words + (<usize>load<u32>(offs + (<usize>i << 2)) << 2);
    if (((load<u32>(w, 4) >>> 24) & 0x7f) != BtfKind.Func) continue;
    const ref = load<u32>(w, 8);
    if (ref < firstId || ref - firstId >= count) return 0;
    const t = words + (<usize>load<u32>(offs + (<usize>(ref - firstId) << 2)) << 2);
    if (((load<u32>(t, 4) >>> 24) & 0x7f) != BtfKind.FuncProto) return 0;
  }
  return 1;
}
