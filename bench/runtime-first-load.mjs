/**
 * bench/runtime.bench.ts's fresh-process probe: the first loadObject() + attach() + close()
 * of one object in this process (the running kernel's BTF is read during it, as libbpf's
 * first load reads it), timed in process after the modules are imported. Prints wall ms and
 * CPU ms (this process's, its threads included) of the whole, then of load + attach alone,
 * then of importing @btfkit/runtime before it (not in the others: libbpf's side has none).
 *
 * It runs the product as a user runs it: @btfkit/runtime's built dist/ (and core's), plain
 * JavaScript, no TypeScript loader. Under tsx, every module the first load imports lazily
 * would be transpiled inside the timed region. Plain .mjs for that reason: Node 20 runs no
 * TypeScript. The bench builds the packages first (bench/lib.ts builtPackages).
 *   node bench/runtime-first-load.mjs OBJECT
 */
import { readFileSync } from 'node:fs';

const i0 = process.cpuUsage();
const it0 = performance.now();
const { loadObject } = await import('@btfkit/runtime');
const importMs = performance.now() - it0;
const importCpu = process.cpuUsage(i0);
const path = process.argv[2];
const bytes = new Uint8Array(readFileSync(path));
const c0 = process.cpuUsage();
const t0 = performance.now();
const obj = await loadObject(bytes, { file: path });
await obj.attach();
const attachedMs = performance.now() - t0;
const attachedCpu = process.cpuUsage(c0);
await obj.close();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const cpuMs = (c) => ((c.user + c.system) / 1e3).toFixed(3);
console.log(
  ms.toFixed(3),
  cpuMs(cpu),
  attachedMs.toFixed(3),
  cpuMs(attachedCpu),
  importMs.toFixed(3),
  cpuMs(importCpu),
);
