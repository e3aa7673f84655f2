// SPDX-License-Identifier: GPL-2.0
// exec-trace: one event per exec, through a ring buffer, for children of one parent process
// (set before load; 0 = every exec). Self-contained (no vmlinux.h): the kernel types used are
// declared here with preserve_access_index, so every field access is CO-RE relocated against
// the running kernel when @btfkit/runtime loads it.

/* The integer types bpf_helper_defs.h uses, without the host's kernel headers. */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u32 __wsum;
typedef __u16 __be16;
typedef __u32 __be32;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define BPF_MAP_TYPE_RINGBUF 27

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

struct trace_entry {
	unsigned short type;
} __attribute__((preserve_access_index));

struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	unsigned int __data_loc_filename;
	int pid;
	int old_pid;
} __attribute__((preserve_access_index));

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u64 time_ns;
	char comm[16];
	char filename[128];
};

/* The record type, for the typed skeleton and the runtime: the map's event decl tag. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} execs SEC(".maps") __attribute__((btf_decl_tag("event:struct exec_event")));

/* Set before load: report only children of this process (0: everyone's). */
const volatile __u32 target_ppid = 0;
/* Never set: a global of the event's type is what puts struct exec_event into the object's BTF
 * (clang emits no BTF for types used only inside functions). */
struct exec_event *exec_event_type_anchor;
/* Events the ring buffer had no room for. */
__u64 lost = 0;

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	struct exec_event *e;

	if (target_ppid && ppid != target_ppid)
		return 0;
	e = bpf_ringbuf_reserve(&execs, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	e->time_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* __data_loc: the low 16 bits are the string's offset from the start of the record. */
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
				  (void *)ctx + (BPF_CORE_READ(ctx, __data_loc_filename) & 0xffff));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
