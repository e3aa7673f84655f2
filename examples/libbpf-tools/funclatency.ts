// funclatency, after libbpf-tools' funclatency.c: times a function and prints a log2 histogram,
// with the original's BPF object (corpus funclatency.bpf.o). Its two programs are
// `kprobe/dummy_kprobe` and `kretprobe/dummy_kretprobe`: the target is chosen at run time, and
// for PROGRAM:FUNCTION (or :FUNCTION, the binary of -p PID) they are attached as a uprobe and a
// return uprobe, as the C tool does with bpf_program__attach_uprobe. A kernel FUNCTION needs
// kprobes. Flags: -m ms, -u µs, -p PID, -d DURATION, -i INTERVAL, -T timestamp.
import { parseArgs } from 'node:util';
import funclatency from '../../test/corpus/objects/funclatency.bpf.o';
import { clock, intOption, left, onStop } from './common.ts';
import { printLog2Hist } from './histogram.ts';

const { values: env, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    milliseconds: { type: 'boolean', short: 'm' },
    microseconds: { type: 'boolean', short: 'u' },
    pid: { type: 'string', short: 'p' },
    duration: { type: 'string', short: 'd' },
    interval: { type: 'string', short: 'i' },
    timestamp: { type: 'boolean', short: 'T' },
  },
});
const fn = positionals[0];
if (!fn) {
  process.stderr.write('Need a function to trace\n');
  process.exit(1);
}
const pid = intOption('PID', env.pid, 0);
// enum units { NSEC, USEC, MSEC } (funclatency.h).
const units = env.milliseconds ? 2 : env.microseconds ? 1 : 0;
const unitName = ['nsec', 'usec', 'msec'][units] as string;

const obj = await funclatency.load({ globals: { targ_tgid: pid, units } });
const colon = fn.indexOf(':');
if (colon >= 0) {
  const binary = colon === 0 ? `/proc/${pid}/exe` : fn.slice(0, colon);
  const target = `${binary}:${fn.slice(colon + 1)}`;
  const on = { probe: 'uprobe' as const, target, ...(pid ? { pid } : {}) };
  await obj.attach({
    programs: { dummy_kprobe: on, dummy_kretprobe: { ...on, retprobe: true } },
  });
} else {
  await obj.attach({ programs: { dummy_kprobe: { target: fn }, dummy_kretprobe: { target: fn } } });
}

console.log(`Tracing ${fn}.  Hit Ctrl-C to exit`);
const print = () => {
  console.log('');
  if (env.timestamp) console.log(left(clock(), 8));
  printLog2Hist(obj.global('bss', 'hist') as number[], unitName);
};
const interval = intOption('INTERVAL', env.interval, 0);
if (interval) setInterval(print, interval * 1000);
const duration = intOption('DURATION', env.duration, 0);
if (duration) setTimeout(() => process.kill(process.pid, 'SIGINT'), duration * 1000);
onStop(async () => {
  print();
  console.log(`Exiting trace of ${fn}`);
  await obj.close();
});
setInterval(() => {}, 1 << 30);
