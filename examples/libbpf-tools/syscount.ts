// syscount, after libbpf-tools' syscount.c: counts syscalls (and their latency) with the
// original's BPF object (corpus syscount.bpf.o) and prints the same table. Flags: -p PID,
// -P by process, -L latency, -m milliseconds, -x failures only, -e ERRNO (number), -T TOP,
// -i INTERVAL, -d DURATION. Syscall names come from the kernel headers of this machine.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import syscount from '../../test/corpus/objects/syscount.bpf.o';
import { clock, intOption, left, onStop, right } from './common.ts';

const { values: env } = parseArgs({
  options: {
    pid: { type: 'string', short: 'p' },
    process: { type: 'boolean', short: 'P' },
    latency: { type: 'boolean', short: 'L' },
    milliseconds: { type: 'boolean', short: 'm' },
    failures: { type: 'boolean', short: 'x' },
    errno: { type: 'string', short: 'e' },
    top: { type: 'string', short: 'T' },
    interval: { type: 'string', short: 'i' },
    duration: { type: 'string', short: 'd' },
  },
});

/** Syscall number → name, from <asm/unistd_64.h> (`#define __NR_read 0`). */
function syscallNames(): Map<number, string> {
  const names = new Map<number, string>();
  for (const dir of [
    '/usr/include/x86_64-linux-gnu/asm',
    '/usr/include/aarch64-linux-gnu/asm',
    '/usr/include/asm',
  ]) {
    for (const file of ['unistd_64.h', 'unistd.h']) {
      try {
        for (const m of readFileSync(`${dir}/${file}`, 'utf8').matchAll(/^#define __NR_(\w+)\s+(\d+)$/gm))
          names.set(Number(m[2]), m[1] as string);
        if (names.size) return names;
      } catch {
        // next candidate
      }
    }
  }
  return names;
}
const names = syscallNames();

const top = intOption('TOP', env.top, 10);
const obj = await syscount.load({
  globals: {
    filter_pid: intOption('PID', env.pid, 0),
    count_by_process: env.process ?? false,
    measure_latency: env.latency ?? false,
    filter_failed: env.failures ?? false,
    filter_errno: intOption('ERRNO', env.errno, 0),
  },
});
await obj.attach();
// Keys are syscall numbers (or pids with -P); values are `struct data_t`, decoded by its BTF type.
const data = obj.map<number, { count: bigint; total_ns: bigint; comm: string }>('data');

console.log(`Tracing syscalls, printing top ${top}... Ctrl+C to quit.`);

/** Prints and clears what the map holds, as the C tool does at each interval and at the end. */
function print(): void {
  const rows: { key: number; count: bigint; ns: bigint; comm: string }[] = [];
  for (const [key, value] of [...data.entries()]) {
    rows.push({ key, count: value.count, ns: value.total_ns, comm: value.comm });
    data.delete(key);
  }
  rows.sort((a, b) => (env.latency ? Number(b.ns - a.ns) : Number(b.count - a.count)));
  console.log(`[${clock()}]`);
  const unit = env.milliseconds ? 'TIME (ms)' : 'TIME (us)';
  const first = env.process ? `${left('PID', 6)} ${left('COMM', 15)}` : left('SYSCALL', 22);
  console.log(`${first} ${right('COUNT', 8)}${env.latency ? ` ${right(unit, 16)}` : ''}`);
  for (const r of rows.slice(0, top)) {
    const name = env.process
      ? `${left(r.key, 6)} ${left(r.comm, 15)}`
      : left(names.get(r.key) ?? `[unknown: ${r.key}]`, 22);
    const lat = Number(r.ns) / (env.milliseconds ? 1e6 : 1e3);
    console.log(
      `${name} ${right(r.count.toString(), 8)}${env.latency ? ` ${right(lat.toFixed(3), 16)}` : ''}`,
    );
  }
  console.log('');
}

const interval = intOption('INTERVAL', env.interval, 0);
if (interval) setInterval(print, interval * 1000);
const duration = intOption('DURATION', env.duration, 0);
if (duration) setTimeout(() => process.kill(process.pid, 'SIGINT'), duration * 1000);
onStop(async () => {
  print();
  await obj.close();
});
// The tool's work is the kernel's: keep the process alive until stopped.
setInterval(() => {}, 1 << 30);
