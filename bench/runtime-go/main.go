// The Go side of bench/runtime.bench.ts: cilium/ebpf (Debian's golang-github-cilium-ebpf-dev,
// 0.9.1) draining the same ring buffer the libbpf and JavaScript consumers drain, built by the
// bench in GOPATH mode. It attaches through /sys/kernel/debug/tracing, so the bench runs it
// inside a private mount namespace with debugfs and tracefs mounted there.
//
//	runtime-go OBJECT ROUNDS CALLS readinto|read
//
// ringbench.bpf.o: per round, CALLS getppid() fill the ring with 64 samples each, then the
// reader takes exactly CALLS*64 records with Reader.ReadInto (one reused Record) or
// Reader.Read (a new Record per call), decoding every field into a sink as the C callback
// does. After one untimed round, prints {"rounds": [[ms, events, cpu ms], ...]}: wall time
// as runtime-libbpf, and the process's CPU time (its GC's threads included).
//
// ringbench's program submits with BPF_RB_NO_WAKEUP, and 0.9.1's reader waits in epoll
// before its first record: a reader made after the ring is filled finds it readable at once
// (epoll checks an fd when it is added). So a reader is made per round, before timing.
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

type decoded struct {
	seq, ts    uint64
	pid, index uint32
	comm       [17]byte
}

const sinkSize = 256

var sink [sinkSize]decoded
var checksum uint64

func decode(raw []byte, n int) {
	d := &sink[n%sinkSize]
	d.seq = binary.LittleEndian.Uint64(raw[0:8])
	d.pid = binary.LittleEndian.Uint32(raw[8:12])
	d.index = binary.LittleEndian.Uint32(raw[12:16])
	d.ts = binary.LittleEndian.Uint64(raw[16:24])
	copy(d.comm[:16], raw[24:40])
	checksum += d.seq + d.ts + uint64(d.pid) + uint64(d.index) + uint64(d.comm[0])
}

// cpuMs: user + system CPU time of the whole process so far.
func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: runtime-go OBJECT ROUNDS CALLS readinto|read")
		os.Exit(2)
	}
	rounds, _ := strconv.Atoi(os.Args[2])
	calls, _ := strconv.Atoi(os.Args[3])
	mode := os.Args[4]
	spec, err := ebpf.LoadCollectionSpec(os.Args[1])
	if err != nil {
		fail("load spec", err)
	}
	if err := spec.RewriteConstants(map[string]interface{}{"target_pid": uint32(os.Getpid())}); err != nil {
		fail("rodata", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		fail("load", err)
	}
	defer coll.Close()
	tp, err := link.Tracepoint("syscalls", "sys_enter_getppid", coll.Programs["burst"], nil)
	if err != nil {
		fail("attach", err)
	}
	defer tp.Close()
	want := calls * 64
	fmt.Print("{\"rounds\": [")
	for r := 0; r <= rounds; r++ {
		for i := 0; i < calls; i++ {
			syscall.Getppid()
		}
		rd, err := ringbuf.NewReader(coll.Maps["samples"])
		if err != nil {
			fail("reader", err)
		}
		var rec ringbuf.Record
		c0 := cpuMs()
		t0 := time.Now()
		for n := 0; n < want; n++ {
			if mode == "read" {
				rec, err = rd.Read()
			} else {
				err = rd.ReadInto(&rec)
			}
			if err != nil {
				fail("read", err)
			}
			decode(rec.RawSample, n)
		}
		ms := float64(time.Since(t0).Nanoseconds()) / 1e6
		cpu := cpuMs() - c0
		rd.Close()
		if r > 0 {
			sep := ""
			if r > 1 {
				sep = ", "
			}
			fmt.Printf("%s[%.3f, %d, %.3f]", sep, ms, want, cpu)
		}
	}
	fmt.Printf("], \"checksum\": %d}\n", checksum)
}
