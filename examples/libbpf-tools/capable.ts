// capable, after libbpf-tools' capable.c: security capability checks, with the original's BPF
// object (corpus capable.bpf.o). Its stack map is sized at run time (set_max_entries /
// set_value_size: --stack-storage-size, --perf-max-stack-depth), without which the kernel
// refuses the map. It attaches a kprobe and a kretprobe on cap_capable: on a kernel without
// kprobes it stops with the reason, as the C tool does. Flags: -p PID, -K, -U, -x,
// --unique (off|pid|cgroup), --stack-storage-size, --perf-max-stack-depth.
import { parseArgs } from 'node:util';
import capable from '../../test/corpus/objects/capable.bpf.o';
import { clock, intOption, left, onStop } from './common.ts';

const { values: env } = parseArgs({
  options: {
    pid: { type: 'string', short: 'p' },
    'kernel-stack': { type: 'boolean', short: 'K' },
    'user-stack': { type: 'boolean', short: 'U' },
    'extra-fields': { type: 'boolean', short: 'x' },
    unique: { type: 'string', short: 'u' },
    'stack-storage-size': { type: 'string' },
    'perf-max-stack-depth': { type: 'string' },
  },
});
const unique = { off: 0, pid: 1, cgroup: 2 }[env.unique ?? 'off'];
if (unique === undefined) {
  process.stderr.write(`Unknown unique type: ${env.unique}\n`);
  process.exit(2);
}
const depth = intOption('perf-max-stack-depth', env['perf-max-stack-depth'], 127);

let obj: Awaited<ReturnType<typeof capable.load>>;
try {
  obj = await capable.load({
    globals: {
      targ_pid: intOption('PID', env.pid, -1),
      my_pid: process.pid,
      unique_type: unique,
      kernel_stack: env['kernel-stack'] ?? false,
      user_stack: env['user-stack'] ?? false,
    },
    maps: {
      stackmap: {
        maxEntries: intOption('stack-storage-size', env['stack-storage-size'], 1024),
        valueSize: depth * 8,
      },
    },
  });
  await obj.attach();
} catch (e) {
  process.stderr.write(`failed to attach BPF programs: ${(e as Error).message}\n`);
  process.exit(1);
}
onStop(() => obj.close());

const NAMES =
  'CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE'.split(
    ' ',
  );
const extra = env['extra-fields'];
console.log(
  `${left('TIME', 9)}${left('UID', 6)} ${left('PID', 7)} ${extra ? `${left('TID', 7)} ` : ''}${left('COMM', 16)} ${left('CAP', 4)} ${left('NAME', 24)} ${left('AUDIT', 6)} ${extra ? `${left('INSETID', 7)} ` : ''}VERDICT`,
);
type CapEvent = {
  pid: number;
  cap: number;
  tgid: number;
  uid: number;
  audit: number;
  insetid: number;
  ret: number;
  task: string;
};
for await (const ev of obj.perfbuf<CapEvent>('events', { type: 'struct cap_event' })) {
  if (!('data' in ev)) continue;
  const e = ev.data;
  const verdict = e.ret === 0 ? 'allow' : 'deny';
  console.log(
    `${left(clock(), 8)} ${left(e.uid, 6)} ${left(e.tgid, 7)} ${extra ? `${left(e.pid, 7)} ` : ''}${left(e.task, 16)} ${left(e.cap, 4)} ${left(NAMES[e.cap] ?? '?', 24)} ${left(e.audit, 6)} ${extra ? `${left(e.insetid, 7)} ` : ''}${verdict}`,
  );
}
