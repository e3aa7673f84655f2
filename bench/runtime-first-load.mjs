import { readFileSync } from 'node:fs';
import { loadObject } from '@btfkit/runtime';

const path = process.argv[2];
const bytes = new Uint8Array(readFileSync(path));
const c0 = process.cpuUsage();
const t0 = performance.now();
const obj = await loadObject(bytes, { file: path });
await obj.attach();
await obj.close();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
console.log(ms.toFixed(3), ((cpu.user + cpu.system) / 1e3).toFixed(3));
