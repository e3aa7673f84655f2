import type { Btf } from '../btf/btf.ts';
import { buildIndexFast, type IndexArrays } from '../btf/btf-wasm-kit.ts';

export type { IndexArrays };

/**
 * names.ts buildIndex in WebAssembly for a decoded, non-split BTF (btf/btf-wasm-kit.ts): the
 * same four arrays, computed before V8 would have optimized the JavaScript loop (a CLI run
 * builds one index over ~130k kernel records and exits). Undefined for a BTF it does not
 * take (split, built from objects): names.ts's JavaScript loop builds those.
 */
export function buildIndexWasm(btf: Btf, declarations: boolean): IndexArrays | undefined {
  const records = btf.rawRecords;
  if (records === undefined || btf.base !== undefined) return undefined;
  return buildIndexFast(records.words, records.offsets, btf.strings, declarations);
}
