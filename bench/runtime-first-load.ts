/**
 * bench/runtime.bench.ts's fresh-process probe: the first loadObject() + attach() + close()
 * of one object in this process (the running kernel's BTF is read during it, as libbpf's
 * first load reads it), timed in process after the modules are imported. Prints the ms.
 *   node --conditions=@btfkit/source --import tsx bench/runtime-first-load.ts OBJECT
 */
import { readFileSync } from 'node:fs';
import { loadObject } from '../packages/runtime/src/index.ts';

const path = process.argv[2] as string;
const bytes = new Uint8Array(readFileSync(path));
const t0 = performance.now();
const obj = await loadObject(bytes, { file: path });
await obj.attach();
await obj.close();
console.log((performance.now() - t0).toFixed(3));
