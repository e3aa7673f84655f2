/**
 * Program type and attach point from an ELF section name, following the table libbpf matches
 * section names against (section_defs in libbpf.c): an exact name, or a prefix followed by '/'
 * and the attach target. The names are the kernel's BPF_PROG_TYPE_* without the prefix,
 * lower-cased, as bpftool prints them.
 */
export interface ProgramKind {
  /** Program type, e.g. 'kprobe', 'tracepoint', 'tracing', 'xdp'. */
  type: string;
  /** How it attaches (the section prefix libbpf matched, e.g. 'kretprobe', 'fentry', 'tp_btf'). */
  attach: string;
  /** What it attaches to (the part after the prefix), if the section names one. */
  target: string | undefined;
}

/** [prefix, program type, takes a target after '/']. Longer prefixes first where they overlap. */
const DEFS: [string, string, boolean][] = [
  ['socket', 'socket_filter', false],
  ['sk_reuseport/migrate', 'sk_reuseport', false],
  ['sk_reuseport', 'sk_reuseport', false],
  ['kprobe.multi', 'kprobe', true],
  ['kretprobe.multi', 'kprobe', true],
  ['uprobe.multi.s', 'kprobe', true],
  ['uretprobe.multi.s', 'kprobe', true],
  ['uprobe.multi', 'kprobe', true],
  ['uretprobe.multi', 'kprobe', true],
  ['kprobe', 'kprobe', true],
  ['kretprobe', 'kprobe', true],
  ['uprobe.s', 'kprobe', true],
  ['uretprobe.s', 'kprobe', true],
  ['uprobe', 'kprobe', true],
  ['uretprobe', 'kprobe', true],
  ['ksyscall', 'kprobe', true],
  ['kretsyscall', 'kprobe', true],
  ['usdt.s', 'kprobe', true],
  ['usdt', 'kprobe', true],
  ['tcx/ingress', 'sched_cls', false],
  ['tcx/egress', 'sched_cls', false],
  ['tc/ingress', 'sched_cls', false],
  ['tc/egress', 'sched_cls', false],
  ['tc', 'sched_cls', false],
  ['classifier', 'sched_cls', false],
  ['action', 'sched_act', false],
  ['tracepoint', 'tracepoint', true],
  ['tp', 'tracepoint', true],
  ['raw_tracepoint.w', 'raw_tracepoint_writable', true],
  ['raw_tp.w', 'raw_tracepoint_writable', true],
  ['raw_tracepoint', 'raw_tracepoint', true],
  ['raw_tp', 'raw_tracepoint', true],
  ['tp_btf', 'tracing', true],
  ['fentry.s', 'tracing', true],
  ['fmod_ret.s', 'tracing', true],
  ['fexit.s', 'tracing', true],
  ['fentry', 'tracing', true],
  ['fmod_ret', 'tracing', true],
  ['fexit', 'tracing', true],
  ['freplace', 'ext', true],
  ['lsm.s', 'lsm', true],
  ['lsm_cgroup', 'lsm', true],
  ['lsm', 'lsm', true],
  ['iter.s', 'tracing', true],
  ['iter', 'tracing', true],
  ['syscall', 'syscall', false],
  ['xdp.frags/devmap', 'xdp', false],
  ['xdp/devmap', 'xdp', false],
  ['xdp.frags/cpumap', 'xdp', false],
  ['xdp/cpumap', 'xdp', false],
  ['xdp.frags', 'xdp', false],
  ['xdp', 'xdp', false],
  ['perf_event', 'perf_event', false],
  ['lwt_in', 'lwt_in', false],
  ['lwt_out', 'lwt_out', false],
  ['lwt_xmit', 'lwt_xmit', false],
  ['lwt_seg6local', 'lwt_seg6local', false],
  ['sockops', 'sock_ops', false],
  ['sk_skb/stream_parser', 'sk_skb', false],
  ['sk_skb/stream_verdict', 'sk_skb', false],
  ['sk_skb', 'sk_skb', false],
  ['sk_msg', 'sk_msg', false],
  ['lirc_mode2', 'lirc_mode2', false],
  ['flow_dissector', 'flow_dissector', false],
  ['cgroup_skb/ingress', 'cgroup_skb', false],
  ['cgroup_skb/egress', 'cgroup_skb', false],
  ['cgroup/skb', 'cgroup_skb', false],
  ['cgroup/sock_create', 'cgroup_sock', false],
  ['cgroup/sock_release', 'cgroup_sock', false],
  ['cgroup/sock', 'cgroup_sock', false],
  ['cgroup/post_bind4', 'cgroup_sock', false],
  ['cgroup/post_bind6', 'cgroup_sock', false],
  ['cgroup/bind4', 'cgroup_sock_addr', false],
  ['cgroup/bind6', 'cgroup_sock_addr', false],
  ['cgroup/connect4', 'cgroup_sock_addr', false],
  ['cgroup/connect6', 'cgroup_sock_addr', false],
  ['cgroup/connect_unix', 'cgroup_sock_addr', false],
  ['cgroup/sendmsg4', 'cgroup_sock_addr', false],
  ['cgroup/sendmsg6', 'cgroup_sock_addr', false],
  ['cgroup/sendmsg_unix', 'cgroup_sock_addr', false],
  ['cgroup/recvmsg4', 'cgroup_sock_addr', false],
  ['cgroup/recvmsg6', 'cgroup_sock_addr', false],
  ['cgroup/recvmsg_unix', 'cgroup_sock_addr', false],
  ['cgroup/getpeername4', 'cgroup_sock_addr', false],
  ['cgroup/getpeername6', 'cgroup_sock_addr', false],
  ['cgroup/getsockname4', 'cgroup_sock_addr', false],
  ['cgroup/getsockname6', 'cgroup_sock_addr', false],
  ['cgroup/getpeername_unix', 'cgroup_sock_addr', false],
  ['cgroup/getsockname_unix', 'cgroup_sock_addr', false],
  ['cgroup/sysctl', 'cgroup_sysctl', false],
  ['cgroup/getsockopt', 'cgroup_sockopt', false],
  ['cgroup/setsockopt', 'cgroup_sockopt', false],
  ['cgroup/dev', 'cgroup_device', false],
  ['struct_ops.s', 'struct_ops', true],
  ['struct_ops', 'struct_ops', true],
  ['sk_lookup', 'sk_lookup', false],
  ['netfilter', 'netfilter', false],
];

/** The program kind for a section name; 'unspec' when libbpf would not recognise it either. */
export function programKind(section: string): ProgramKind {
  for (const [prefix, type, takesTarget] of DEFS) {
    if (section === prefix) return { type, attach: prefix, target: undefined };
    if (takesTarget && section.startsWith(`${prefix}/`)) {
      return { type, attach: prefix, target: section.slice(prefix.length + 1) || undefined };
    }
    // Exact-name sections may still carry a suffix libbpf ignores (e.g. "xdp/foo" in old code).
    if (!takesTarget && section.startsWith(`${prefix}/`)) return { type, attach: prefix, target: undefined };
  }
  return { type: 'unspec', attach: section, target: undefined };
}

/** BPF_MAP_TYPE_* names by number (uapi bpf.h order), lower-cased without the prefix. */
export const MAP_TYPES: readonly string[] = [
  'unspec',
  'hash',
  'array',
  'prog_array',
  'perf_event_array',
  'percpu_hash',
  'percpu_array',
  'stack_trace',
  'cgroup_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
  'array_of_maps',
  'hash_of_maps',
  'devmap',
  'sockmap',
  'cpumap',
  'xskmap',
  'sockhash',
  'cgroup_storage',
  'reuseport_sockarray',
  'percpu_cgroup_storage',
  'queue',
  'stack',
  'sk_storage',
  'devmap_hash',
  'struct_ops',
  'ringbuf',
  'inode_storage',
  'task_storage',
  'bloom_filter',
  'user_ringbuf',
  'cgrp_storage',
  'arena',
];
