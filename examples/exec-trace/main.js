// exec-trace: prints one JSON line per exec of a child of the process given as argv[2] (0 or
// absent: every exec), until SIGINT/SIGTERM. The BPF program is compiled from exec-trace.bpf.c
// by unplugin-btfkit at build time; the typed skeleton loads it through @btfkit/runtime.
import trace from './exec-trace.bpf.c';

const targetPpid = Number(process.argv[2] ?? 0);
// A global set before load: the program's pid filter (const volatile, frozen in .rodata).
const obj = await trace.load({ globals: { target_ppid: targetPpid } });
await obj.attach();

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  obj.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const programs = Object.values(obj.programs).map((p) => ({ name: p.name, id: p.id }));
console.log(JSON.stringify({ ready: true, targetPpid, programs }));
// Events are typed views of `struct exec_event`: each field is read where BTF says it is.
for await (const ev of obj.maps.execs) {
  console.log(JSON.stringify({ pid: ev.pid, ppid: ev.ppid, comm: ev.comm, filename: ev.filename }));
}
