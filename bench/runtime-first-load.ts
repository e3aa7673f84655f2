/**
 * bench/runtime.bench.ts's fresh-process probe: the first loadObject() + attach() + close()
 * of one object in this process (the running kernel's BTF is read during it, as libbpf's
 * first load reads it), timed in process after the modules are imported. Prints wall ms and
 * CPU ms (this process's, its threads included).
 *   node --conditions=@btfkit/source --import tsx bench/runtime-first-load.ts OBJECT
 */
import { readFileSync } from 'node:fs';
import { loadObject } from '../packages/runtime/src/index.ts';

const path = process.argv[2] as string;
const bytes = new Uint8Array(readFileSync(path));
const c0 = process.cpuUsage();
const t0 = performance.now();
const obj = await loadObject(bytes, { file: path });
await obj.attach();
await obj.close();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
console.log(ms.toFixed(3), ((cpu.user + cpu.system) / 1e3).toFixed(3));
