// execsnoop, after libbpf-tools' execsnoop.c: traces exec() syscalls with the original's BPF
// object (the corpus's execsnoop.bpf.o, loaded through its generated skeleton) and prints the
// same columns. Flags: -T time, -t timestamp, -x include failed, -u UID, -q quote, -n NAME,
// -l LINE, -U print UID, --max-args N.
import { parseArgs } from 'node:util';
import execsnoop from '../../test/corpus/objects/execsnoop.bpf.o';
import { clock, cString, intOption, left, onStop, perfSamples, right } from './common.ts';

const { values: env } = parseArgs({
  options: {
    time: { type: 'boolean', short: 'T' },
    timestamp: { type: 'boolean', short: 't' },
    fails: { type: 'boolean', short: 'x' },
    uid: { type: 'string', short: 'u' },
    quote: { type: 'boolean', short: 'q' },
    name: { type: 'string', short: 'n' },
    line: { type: 'string', short: 'l' },
    'print-uid': { type: 'boolean', short: 'U' },
    'max-args': { type: 'string' },
  },
});
const INVALID_UID = 0xffffffff;
const maxArgs = intOption('MAX_ARGS', env['max-args'], 20);

const obj = await execsnoop.load({
  globals: { ignore_failed: !env.fails, targ_uid: intOption('UID', env.uid, INVALID_UID), max_args: maxArgs },
});
const start = process.hrtime.bigint();
await obj.attach();
const events = obj.perfbuf('events', { pageCount: 64 });
onStop(() => obj.close());

let header = '';
if (env.time) header += left('TIME', 9);
if (env.timestamp) header += `${left('TIME(s)', 8)} `;
if (env['print-uid']) header += `${left('UID', 6)} `;
console.log(`${header}${left('PCOMM', 16)} ${left('PID', 6)} ${left('PPID', 6)} ${right('RET', 3)} ARGS`);

const quoted = (s: string) => s.replace(/["\t\n]/g, (c) => (c === '"' ? '\\"' : c === '\t' ? '\\t' : '\\n'));

for await (const { bytes: b, view: v } of perfSamples(events)) {
  // struct event: pid, ppid, uid, retval, args_count, args_size (4 bytes each), comm[16], args[].
  const [pid, ppid, uid, retval, argsCount, argsSize] = [0, 4, 8, 12, 16, 20].map((o) => v.getInt32(o, true));
  const comm = cString(b, 24, 16);
  if (env.name && !comm.includes(env.name)) continue;
  if (env.line && !comm.includes(env.line)) continue;
  const args = new TextDecoder()
    .decode(b.subarray(40, 40 + (argsSize as number)))
    .split('\0')
    .slice(0, argsCount as number);
  let line = '';
  if (env.time) line += `${left(clock(), 8)} `;
  if (env.timestamp) line += left((Number(process.hrtime.bigint() - start) / 1e9).toFixed(3), 8);
  if (env['print-uid']) line += left(uid as number, 6);
  line += `${left(comm, 16)} ${left(pid as number, 6)} ${left(ppid as number, 6)} ${right(retval as number, 3)} `;
  line += env.quote ? args.map((a) => `"${quoted(a)}" `).join('') : args.map((a) => `${a} `).join('');
  if (argsCount === maxArgs + 1) line += ' ...';
  console.log(line);
}
