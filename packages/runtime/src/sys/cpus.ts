/** CPU sets from sysfs ("0-3,5"), as libbpf reads them for per-CPU maps and perf buffers. */
import { readFileSync } from 'node:fs';

export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

let possible: number[] | undefined;
export function possibleCpus(): number[] {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}

export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
