/**
 * Child process of dump.bench.ts: decodes a raw BTF and dumps it (raw format) to /dev/null
 * in-process, N times, and prints the timings and the process's peak RSS as JSON. Decode is
 * the validating scan (type objects are built on demand); `types` is building all of them,
 * which the raw dump needs. A fresh process per bench keeps the RSS figure about this work only.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { decodeBtf } from '../packages/core/src/btf/decode.ts';
import { dumpRawTo } from '../packages/core/src/dump/raw.ts';

const [path, runsArg] = process.argv.slice(2);
if (!path) throw new Error('usage: dump-inprocess.ts RAW_BTF [RUNS]');
const runs = Number.parseInt(runsArg ?? '10', 10);
const bytes = readFileSync(path);
const decodeMs: number[] = [];
const typesMs: number[] = [];
const dumpMs: number[] = [];
const fd = openSync('/dev/null', 'w');
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const btf = decodeBtf(bytes, { file: path });
  const t1 = performance.now();
  if (btf.typeCount <= 1) throw new Error(`${path}: no types`);
  const t2 = performance.now();
  dumpRawTo(btf, (chunk) => {
    writeSync(fd, chunk);
  });
  const t3 = performance.now();
  decodeMs.push(t1 - t0);
  typesMs.push(t2 - t1);
  dumpMs.push(t3 - t2);
}
closeSync(fd);
process.stdout.write(
  `${JSON.stringify({ decodeMs, typesMs, dumpMs, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
);
