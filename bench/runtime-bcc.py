# The Python BCC side of bench/runtime.bench.ts: the same stream as ringbench.bpf.o (64
# samples of struct sample per getppid() of this process into a 16 MiB ring buffer, submitted
# without wakeup), compiled by BCC's own clang at run time; per round CALLS getppid() fill the
# ring, then ring_buffer_consume() drains it through a Python callback that reads every field
# into a sink, as the C callback does. After one untimed round prints
# {"rounds": [[ms, events, cpu ms], ...]} as runtime-libbpf.
#   python3 runtime-bcc.py ROUNDS CALLS     (BCC_KERNEL_SOURCE: kernel headers)
import ctypes
import json
import os
import sys
import time

from bcc import BPF

PROGRAM = r"""
struct sample {
    u64 seq;
    u32 pid;
    u32 index;
    u64 ts;
    char comm[16];
};
BPF_RINGBUF_OUTPUT(samples, 4096);
BPF_ARRAY(counter, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    char comm[16];
    u64 ts = bpf_ktime_get_ns();
    int zero = 0;
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID)
        return 0;
    u64 *seq = counter.lookup(&zero);
    if (!seq)
        return 0;
    bpf_get_current_comm(comm, sizeof(comm));
    for (int i = 0; i < 64; i++) {
        struct sample *s = samples.ringbuf_reserve(sizeof(struct sample));
        if (!s)
            return 0;
        s->seq = __sync_fetch_and_add(seq, 1);
        s->pid = TARGET_PID;
        s->index = i;
        s->ts = ts;
        __builtin_memcpy(s->comm, comm, sizeof(comm));
        samples.ringbuf_submit(s, 1 /* BPF_RB_NO_WAKEUP */);
    }
    return 0;
}
"""


class Sample(ctypes.Structure):
    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("index", ctypes.c_uint32),
        ("ts", ctypes.c_uint64),
        ("comm", ctypes.c_char * 16),
    ]


SINK = 256
sink = [None] * SINK
received = 0
checksum = 0


def on_sample(ctx, data, size):
    global received, checksum
    s = ctypes.cast(data, ctypes.POINTER(Sample)).contents
    d = (s.seq, s.pid, s.index, s.ts, s.comm)
    sink[received % SINK] = d
    checksum += d[0] + d[1] + d[2] + d[3]
    received += 1


def main():
    rounds, calls = int(sys.argv[1]), int(sys.argv[2])
    b = BPF(text=PROGRAM, cflags=["-DTARGET_PID=%d" % os.getpid()])
    b["samples"].open_ring_buffer(on_sample)
    out = []
    for r in range(rounds + 1):
        for _ in range(calls):
            os.getppid()
        before = received
        c0 = time.process_time()
        t0 = time.perf_counter()
        b.ring_buffer_consume()
        ms = (time.perf_counter() - t0) * 1e3
        cpu = (time.process_time() - c0) * 1e3
        if r > 0:
            out.append([ms, received - before, cpu])
    print(json.dumps({"rounds": out, "checksum": checksum}))


main()
