// exitsnoop, after libbpf-tools' exitsnoop.c: traces process exits with the original's BPF
// object (corpus exitsnoop.bpf.o) and prints the same columns. Flags: -p PID, -t timestamp,
// -x failed exits only, -T trace by thread.
import { parseArgs } from 'node:util';
import exitsnoop from '../../test/corpus/objects/exitsnoop.bpf.o';
import { clock, cString, intOption, left, onStop, perfSamples } from './common.ts';

const { values: env } = parseArgs({
  options: {
    pid: { type: 'string', short: 'p' },
    timestamp: { type: 'boolean', short: 't' },
    failed: { type: 'boolean', short: 'x' },
    threaded: { type: 'boolean', short: 'T' },
  },
});

const obj = await exitsnoop.load({
  globals: {
    target_pid: intOption('PID', env.pid, 0),
    trace_failed_only: env.failed ?? false,
    trace_by_process: !env.threaded,
  },
});
await obj.attach();
const events = obj.perfbuf('events', { pageCount: 64 });
onStop(() => obj.close());

const ts = env.timestamp ? `${left('TIME', 8)} ` : '';
console.log(
  `${ts}${left('PCOMM', 16)} ${left('PID', 7)} ${left('PPID', 7)} ${left('TID', 7)} ${left('AGE(s)', 7)} EXIT_CODE`,
);

for await (const { bytes: b, view: v } of perfSamples(events)) {
  // struct event: u64 start_time, exit_time; u32 pid, tid, ppid, sig; int exit_code; comm[16].
  const age = Number(v.getBigUint64(8, true) - v.getBigUint64(0, true)) / 1e9;
  const [pid, tid, ppid, sig] = [16, 20, 24, 28].map((o) => v.getUint32(o, true)) as number[];
  const code = v.getInt32(32, true);
  const comm = cString(b, 36, 16);
  let line = env.timestamp ? `${left(clock(), 8)} ` : '';
  line += `${left(comm, 16)} ${left(pid, 7)} ${left(ppid, 7)} ${left(tid, 7)} ${left(age.toFixed(2), 7)} `;
  if (!sig) line += code ? `code ${code}` : '0';
  else line += `signal ${sig & 0x7f}${sig & 0x80 ? ' (core dumped)' : ''}`;
  console.log(line);
}
