// opensnoop, after libbpf-tools' opensnoop.c: traces open()/openat() with the original's BPF
// object (corpus opensnoop.bpf.o) and prints the same columns. Flags: -p PID, -t TID, -u UID,
// -x failed only, -n NAME, -T timestamp, -U print UID, -e extended (flags), -d DURATION.
import { parseArgs } from 'node:util';
import { tracepointExists } from '@btfkit/runtime';
import opensnoop from '../../test/corpus/objects/opensnoop.bpf.o';
import { clock, cString, intOption, left, onStop, perfSamples, right } from './common.ts';

const { values: env } = parseArgs({
  options: {
    pid: { type: 'string', short: 'p' },
    tid: { type: 'string', short: 't' },
    uid: { type: 'string', short: 'u' },
    failed: { type: 'boolean', short: 'x' },
    name: { type: 'string', short: 'n' },
    timestamp: { type: 'boolean', short: 'T' },
    'print-uid': { type: 'boolean', short: 'U' },
    'extended-fields': { type: 'boolean', short: 'e' },
    duration: { type: 'string', short: 'd' },
  },
});

// Architectures without open(2) have no sys_enter_open tracepoint: leave those programs out,
// as the C tool does with bpf_program__set_autoload.
const hasOpen = tracepointExists('syscalls', 'sys_enter_open');
const obj = await opensnoop.load({
  globals: {
    targ_tgid: intOption('PID', env.pid, 0),
    targ_pid: intOption('TID', env.tid, 0),
    targ_uid: intOption('UID', env.uid, 0xffffffff),
    targ_failed: env.failed ?? false,
  },
  autoload: {
    tracepoint__syscalls__sys_enter_open: hasOpen,
    tracepoint__syscalls__sys_exit_open: hasOpen,
  },
});
await obj.attach();
const events = obj.perfbuf('events', { pageCount: 64 });
onStop(() => obj.close());
const duration = intOption('duration', env.duration, 0);
if (duration) setTimeout(() => process.kill(process.pid, 'SIGINT'), duration * 1000);

let header = '';
if (env.timestamp) header += `${left('TIME', 8)} `;
if (env['print-uid']) header += `${left('UID', 7)} `;
header += `${left('PID', 6)} ${left('COMM', 16)} ${right('FD', 3)} ${right('ERR', 3)} `;
if (env['extended-fields']) header += `${left('FLAGS', 8)} `;
console.log(`${header}PATH`);

for await (const { bytes: b, view: v } of perfSamples(events)) {
  // struct event (0.26): u64 ts; pid; uid; int ret; int flags; u64 callers[2]; comm[16]; fname[255].
  const pid = v.getInt32(8, true);
  const uid = v.getUint32(12, true);
  const ret = v.getInt32(16, true);
  const flags = v.getInt32(20, true);
  const comm = cString(b, 40, 16);
  if (env.name && !comm.includes(env.name)) continue;
  const [fd, err] = ret >= 0 ? [ret, 0] : [-1, -ret];
  let line = '';
  if (env.timestamp) line += `${left(clock(), 8)} `;
  if (env['print-uid']) line += `${left(uid, 7)} `;
  line += `${left(pid, 6)} ${left(comm, 16)} ${right(fd, 3)} ${right(err, 3)} `;
  if (env['extended-fields']) line += `${flags.toString(8).padStart(8, '0')} `;
  console.log(line + cString(b, 56, 255));
}
