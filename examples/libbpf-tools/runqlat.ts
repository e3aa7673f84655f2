// runqlat, after libbpf-tools' runqlat.c: run queue latency as log2 histograms, with the
// original's BPF object (corpus runqlat.bpf.o). Its tp_btf programs are loaded where the kernel
// has BTF for its tracepoints, its raw_tp twins elsewhere (set_autoload, as the C tool).
// Flags: -T timestamp, -m ms, -p PID, -P per process, -L per thread, --pidnss, [interval [count]].
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import runqlat from '../../test/corpus/objects/runqlat.bpf.o';
import { clock, intOption, left, onStop } from './common.ts';
import { printLog2Hist } from './histogram.ts';

const { values: env, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    timestamp: { type: 'boolean', short: 'T' },
    milliseconds: { type: 'boolean', short: 'm' },
    pid: { type: 'string', short: 'p' },
    pids: { type: 'boolean', short: 'P' },
    tids: { type: 'boolean', short: 'L' },
    pidnss: { type: 'boolean' },
  },
});

const btf = existsSync('/sys/kernel/btf/vmlinux');
const obj = await runqlat.load({
  globals: {
    targ_per_process: env.pids ?? false,
    targ_per_thread: env.tids ?? false,
    targ_per_pidns: env.pidnss ?? false,
    targ_ms: env.milliseconds ?? false,
    targ_tgid: intOption('PID', env.pid, 0),
  },
  autoload: {
    sched_wakeup: btf,
    sched_wakeup_new: btf,
    sched_switch: btf,
    handle_sched_wakeup: !btf,
    handle_sched_wakeup_new: !btf,
    handle_sched_switch: !btf,
  },
});
await obj.attach();
// Histograms by key (-1 without -P/-L/--pidnss): struct hist { u32 slots[26]; char comm[16]; }.
const hists = obj.map<number, { slots: number[]; comm: string }>('hists');
console.log('Tracing run queue latency... Hit Ctrl-C to end.');

function print(): void {
  console.log('');
  if (env.timestamp) console.log(left(clock(), 8));
  for (const [key, hist] of [...hists.entries()]) {
    if (env.pids) console.log(`pid = ${key} ${hist.comm}`);
    else if (env.tids) console.log(`tid = ${key} ${hist.comm}`);
    else if (env.pidnss) console.log(`pidns = ${key >>> 0} ${hist.comm}`);
    printLog2Hist(hist.slots, env.milliseconds ? 'msecs' : 'usecs');
    hists.delete(key);
  }
}

const interval = intOption('interval', positionals[0], 0);
let count = intOption('count', positionals[1], 0);
if (interval) {
  setInterval(() => {
    print();
    if (count && --count === 0) process.kill(process.pid, 'SIGTERM');
  }, interval * 1000);
}
onStop(async () => {
  if (!interval) print();
  await obj.close();
});
setInterval(() => {}, 1 << 30);
