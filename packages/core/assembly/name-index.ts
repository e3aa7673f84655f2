// AssemblyScript, part of the BTF module (assembly/btf.ts, compiled by scripts/build-wasm.mjs
// into packages/core/src/btf/btf-wasm.ts). core/names.ts buildIndex for a non-split BTF:
// the essential-name index (FNV-1a of each name up to its last `___` flavor separator) of one
// group of types, as the four arrays names.ts looks up in. Why: a CLI run builds it once over
// a kernel's ~130k records and exits, and V8 ran the JavaScript loop unoptimized for most of
// it (~15 ms cold against ~3 ms warm); WebAssembly is compiled before it runs.
//
// Memory, laid out by btf/btf-wasm-kit.ts: type section words (host order) at `words`, record
// starts (word index) at `offs`, strings at `strs`; the four output arrays at `head` (size
// entries, a power of two), `next`, `hash`, `len` (count entries each), all zeroed. The
// flavor separator is found by counting underscore runs in the same pass as the hash.

import { BtfKind } from '../src/btf/wire';

const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 0x01000193;
const UNDERSCORE: u32 = 0x5f;

let strs: usize = 0;
let strLen: u32 = 0;


/**
 * Indexes records [0, count): those with a name, of the declaration kinds (FUNC, VAR,
 * DATASEC, DECL_TAG) when `declarations` is 1, of every other kind when 0.
 */
export function build(
  words: usize,
  offs: usize,
  count: u32,
  stringsPtr: usize,
  stringsLength: u32,
  declarations: u32,
  head: usize,
  size: u32,
  next: usize,
  hash: usize,
  len: usize,
): void {
  strs = stringsPtr;
  strLen = stringsLength;
  const mask = size - 1;
  for (let i: u32 = 0; i < count; i++) {
    const w = words + (<usize>load<u32>(offs + (<usize>i << 2)) << 2);
    const nameOff = load<u32>(w);
    if (nameOff == 0) continue;
    const kind = (load<u32>(w, 4) >>> 24) & 0x7f;
    const decl: u32 = kind == BtfKind.Func || kind == BtfKind.Var || kind == BtfKind.Datasec || kind == BtfKind.DeclTag ? 1 : 0;
    if (decl != declarations) continue;
    if (nameOff >= strLen) continue;
    // One pass: FNV-1a of the whole name, and of the essential name when a flavor separator
    // (a non-underscore, exactly `___`, then another non-underscore) has been seen: the hash
    // after the last non-underscore byte is kept, and a byte that ends a run of exactly three
    // underscores with one such byte before it makes that hash the essential one so far.
    let h = FNV_OFFSET;
    let beforeRun = FNV_OFFSET;
    let run: u32 = 0;
    let seenPlain = false;
    let essH: u32 = 0;
    let essEnd: i64 = -1;
    let j = nameOff;
    for (; j < strLen; j++) {
      const c = <u32>load<u8>(strs + <usize>j);
      if (c == 0) break;
      h = (h ^ c) * FNV_PRIME;
      if (c == UNDERSCORE) {
        run++;
        continue;
      }
      if (run == 3 && seenPlain) {
        essH = beforeRun;
        essEnd = <i64>j - 3;
      }
      run = 0;
      seenPlain = true;
      beforeRun = h;
    }
    let hv: u32;
    let lv: u32;
    if (essEnd < 0) {
      hv = h;
      lv = j - nameOff;
    } else {
      hv = essH;
      lv = <u32>essEnd - nameOff;
    }
    if (lv == 0) continue;
    const b = hv & mask;
    const slot = <usize>i << 2;
    store<u32>(hash + slot, hv);
    store<u32>(len + slot, lv);
    store<i32>(next + slot, load<i32>(head + (<usize>b << 2)));
    store<i32>(head + (<usize>b << 2), <i32>i + 1);
  }
}
