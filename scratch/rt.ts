import { readFileSync, readdirSync } from 'node:fs';
import { xz } from '@napi-rs/lzma';
import { parseTar } from 'nanotar';
import { decodeBtf, encodeBtf } from '../packages/core/src/btf/index.ts';
const dir='test/corpus/kernels/debian/12/x86_64/';
for (const f of readdirSync(dir)) {
  const raw = parseTar(xz.decompressSync(readFileSync(dir+f)))[0]!.data!;
  let t=performance.now();
  const btf = decodeBtf(raw, {file: f});
  const dt=performance.now()-t; t=performance.now();
  const out = encodeBtf(btf);
  console.log(f, btf.types.length, dt.toFixed(1), (performance.now()-t).toFixed(1), Buffer.compare(Buffer.from(out), Buffer.from(raw))===0);
}
