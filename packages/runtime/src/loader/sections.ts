/**
 * libbpf's SEC() conventions (libbpf 1.1 `section_defs`): from an ELF section name to the
 * program type, the expected attach type passed at load, load flags, and how the program is
 * attached. A definition ending in `+` matches the bare prefix or the prefix followed by `/`
 * and a target; others match exactly.
 */

/** enum bpf_prog_type (uapi). */
export const ProgType = {
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;

/** enum bpf_attach_type (uapi), the ones SEC() names imply. */
export const AttachType = {
  NONE: 0,
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12,
  CGROUP_INET6_POST_BIND: 13,
  CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15,
  LIRC_MODE2: 16,
  FLOW_DISSECTOR: 17,
  CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20,
  CGROUP_GETSOCKOPT: 21,
  CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  CGROUP_INET4_GETPEERNAME: 29,
  CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32,
  XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34,
  XDP_CPUMAP: 35,
  SK_LOOKUP: 36,
  XDP: 37,
  SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
  LSM_CGROUP: 43,
  NETFILTER: 45,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
  CGROUP_UNIX_CONNECT: 49,
  CGROUP_UNIX_SENDMSG: 50,
  CGROUP_UNIX_RECVMSG: 51,
  CGROUP_UNIX_GETPEERNAME: 52,
  CGROUP_UNIX_GETSOCKNAME: 53,
} as const;

/** How a program of this section is attached (our attach/ module implements each). */
export type AttachKind =
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tracing' // tp_btf, fentry, fexit, fmod_ret, lsm: BTF-typed, attach_btf_id at load
  | 'kprobe'
  | 'kretprobe'
  | 'ksyscall'
  | 'kretsyscall'
  | 'uprobe'
  | 'uretprobe'
  | 'xdp' // BPF_LINK_CREATE on an interface (target: its name or index)
  | 'tcx' // tcx link on an interface, kernel 6.6+ (target: the interface)
  | 'tc' // bare tc/classifier: libbpf leaves them to netlink; we attach them as tcx by direction
  | 'cgroup' // BPF_LINK_CREATE on a cgroup v2 directory (target: its path)
  | 'perf_event' // perf events opened per CPU (options.perfEvent), as libbpf-tools' profile
  | 'iter' // an iterator link, read through BPF_ITER_CREATE
  | 'none'; // loaded but not attached by attach() (socket filters, sk_*, syscall, …)

/** BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS. */
export const ProgFlags = { SLEEPABLE: 1 << 4, XDP_HAS_FRAGS: 1 << 5 } as const;

export interface SectionDef {
  progType: number;
  expectedAttachType: number;
  progFlags: number;
  attach: AttachKind;
  /** For tracing programs: how the kernel BTF names the target (prefix + kind). */
  btfTarget?: { prefix: string; kind: 'func' | 'typedef' };
}

interface Entry extends SectionDef {
  sec: string;
}

function def(
  sec: string,
  progType: number,
  expectedAttachType: number,
  attach: AttachKind,
  extra: Partial<SectionDef> = {},
): Entry {
  return { sec, progType, expectedAttachType, progFlags: 0, attach, ...extra };
}

/** `cgroup/<hook>`: a program attached to a cgroup directory with the hook's attach type. */
function cgroup(hook: string, progType: number, attachType: number): Entry {
  return def(`cgroup/${hook}`, progType, attachType, 'cgroup');
}

const S = ProgFlags.SLEEPABLE;
const fn = { prefix: '', kind: 'func' } as const;

// Order matters only where one name is a prefix of another without `/` (e.g. `raw_tp.w+`
// before `raw_tp+`): matching below requires `/` or the end after the prefix, as libbpf does.
const DEFS: Entry[] = [
  def('socket', ProgType.SOCKET_FILTER, 0, 'none'),
  def('kprobe+', ProgType.KPROBE, 0, 'kprobe'),
  def('uprobe+', ProgType.KPROBE, 0, 'uprobe'),
  def('uprobe.s+', ProgType.KPROBE, 0, 'uprobe', { progFlags: S }),
  def('kretprobe+', ProgType.KPROBE, 0, 'kretprobe'),
  def('uretprobe+', ProgType.KPROBE, 0, 'uretprobe'),
  def('uretprobe.s+', ProgType.KPROBE, 0, 'uretprobe', { progFlags: S }),
  def('kprobe.multi+', ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI, 'none'),
  def('kretprobe.multi+', ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI, 'none'),
  def('ksyscall+', ProgType.KPROBE, 0, 'ksyscall'),
  def('kretsyscall+', ProgType.KPROBE, 0, 'kretsyscall'),
  def('usdt+', ProgType.KPROBE, 0, 'none'),
  // libbpf 1.3+ reads tc/ingress and tc/egress as tcx; bare tc/classifier attach by direction.
  def('tc/ingress', ProgType.SCHED_CLS, AttachType.TCX_INGRESS, 'tcx'),
  def('tc/egress', ProgType.SCHED_CLS, AttachType.TCX_EGRESS, 'tcx'),
  def('tcx/ingress', ProgType.SCHED_CLS, AttachType.TCX_INGRESS, 'tcx'),
  def('tcx/egress', ProgType.SCHED_CLS, AttachType.TCX_EGRESS, 'tcx'),
  def('tc', ProgType.SCHED_CLS, 0, 'tc'),
  def('classifier', ProgType.SCHED_CLS, 0, 'tc'),
  def('action', ProgType.SCHED_ACT, 0, 'none'),
  def('tracepoint+', ProgType.TRACEPOINT, 0, 'tracepoint'),
  def('tp+', ProgType.TRACEPOINT, 0, 'tracepoint'),
  def('raw_tracepoint+', ProgType.RAW_TRACEPOINT, 0, 'raw_tracepoint'),
  def('raw_tp+', ProgType.RAW_TRACEPOINT, 0, 'raw_tracepoint'),
  def('raw_tracepoint.w+', ProgType.RAW_TRACEPOINT_WRITABLE, 0, 'raw_tracepoint'),
  def('raw_tp.w+', ProgType.RAW_TRACEPOINT_WRITABLE, 0, 'raw_tracepoint'),
  def('tp_btf+', ProgType.TRACING, AttachType.TRACE_RAW_TP, 'tracing', {
    btfTarget: { prefix: 'btf_trace_', kind: 'typedef' },
  }),
  def('fentry+', ProgType.TRACING, AttachType.TRACE_FENTRY, 'tracing', { btfTarget: fn }),
  def('fmod_ret+', ProgType.TRACING, AttachType.MODIFY_RETURN, 'tracing', { btfTarget: fn }),
  def('fexit+', ProgType.TRACING, AttachType.TRACE_FEXIT, 'tracing', { btfTarget: fn }),
  def('fentry.s+', ProgType.TRACING, AttachType.TRACE_FENTRY, 'tracing', { btfTarget: fn, progFlags: S }),
  def('fmod_ret.s+', ProgType.TRACING, AttachType.MODIFY_RETURN, 'tracing', { btfTarget: fn, progFlags: S }),
  def('fexit.s+', ProgType.TRACING, AttachType.TRACE_FEXIT, 'tracing', { btfTarget: fn, progFlags: S }),
  def('freplace+', ProgType.EXT, 0, 'none'),
  def('lsm+', ProgType.LSM, AttachType.LSM_MAC, 'tracing', {
    btfTarget: { prefix: 'bpf_lsm_', kind: 'func' },
  }),
  def('lsm.s+', ProgType.LSM, AttachType.LSM_MAC, 'tracing', {
    btfTarget: { prefix: 'bpf_lsm_', kind: 'func' },
    progFlags: S,
  }),
  def('iter+', ProgType.TRACING, AttachType.TRACE_ITER, 'iter', {
    btfTarget: { prefix: 'bpf_iter_', kind: 'func' },
  }),
  def('iter.s+', ProgType.TRACING, AttachType.TRACE_ITER, 'iter', {
    btfTarget: { prefix: 'bpf_iter_', kind: 'func' },
    progFlags: S,
  }),
  def('syscall', ProgType.SYSCALL, 0, 'none', { progFlags: S }),
  def('xdp.frags/devmap', ProgType.XDP, AttachType.XDP_DEVMAP, 'none', {
    progFlags: ProgFlags.XDP_HAS_FRAGS,
  }),
  def('xdp/devmap', ProgType.XDP, AttachType.XDP_DEVMAP, 'none'),
  def('xdp.frags/cpumap', ProgType.XDP, AttachType.XDP_CPUMAP, 'none', {
    progFlags: ProgFlags.XDP_HAS_FRAGS,
  }),
  def('xdp/cpumap', ProgType.XDP, AttachType.XDP_CPUMAP, 'none'),
  def('xdp.frags', ProgType.XDP, AttachType.XDP, 'xdp', { progFlags: ProgFlags.XDP_HAS_FRAGS }),
  def('xdp', ProgType.XDP, AttachType.XDP, 'xdp'),
  def('perf_event', ProgType.PERF_EVENT, 0, 'perf_event'),
  def('lwt_in', ProgType.LWT_IN, 0, 'none'),
  def('lwt_out', ProgType.LWT_OUT, 0, 'none'),
  def('lwt_xmit', ProgType.LWT_XMIT, 0, 'none'),
  def('lwt_seg6local', ProgType.LWT_SEG6LOCAL, 0, 'none'),
  def('sockops', ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS, 'cgroup'),
  def('sk_skb/stream_parser', ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER, 'none'),
  def('sk_skb/stream_verdict', ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT, 'none'),
  def('sk_skb', ProgType.SK_SKB, 0, 'none'),
  def('sk_msg', ProgType.SK_MSG, AttachType.SK_MSG_VERDICT, 'none'),
  def('lirc_mode2', ProgType.LIRC_MODE2, AttachType.LIRC_MODE2, 'none'),
  def('flow_dissector', ProgType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR, 'none'),
  def('cgroup_skb/ingress', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, 'cgroup'),
  def('cgroup_skb/egress', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, 'cgroup'),
  def('cgroup/skb', ProgType.CGROUP_SKB, 0, 'cgroup'),
  cgroup('sock_create', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE),
  cgroup('sock_release', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_RELEASE),
  cgroup('sock', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE),
  cgroup('post_bind4', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET4_POST_BIND),
  cgroup('post_bind6', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET6_POST_BIND),
  cgroup('bind4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_BIND),
  cgroup('bind6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_BIND),
  cgroup('connect4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT),
  cgroup('connect6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_CONNECT),
  cgroup('connect_unix', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_CONNECT),
  cgroup('sendmsg4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_SENDMSG),
  cgroup('sendmsg6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_SENDMSG),
  cgroup('sendmsg_unix', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_SENDMSG),
  cgroup('recvmsg4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_RECVMSG),
  cgroup('recvmsg6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_RECVMSG),
  cgroup('recvmsg_unix', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_RECVMSG),
  cgroup('getpeername4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETPEERNAME),
  cgroup('getpeername6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETPEERNAME),
  cgroup('getpeername_unix', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETPEERNAME),
  cgroup('getsockname4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETSOCKNAME),
  cgroup('getsockname6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETSOCKNAME),
  cgroup('getsockname_unix', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETSOCKNAME),
  cgroup('sysctl', ProgType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL),
  cgroup('getsockopt', ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT),
  cgroup('setsockopt', ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_SETSOCKOPT),
  cgroup('dev', ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE),
  def('sk_lookup', ProgType.SK_LOOKUP, AttachType.SK_LOOKUP, 'none'),
  def('netfilter', ProgType.NETFILTER, AttachType.NETFILTER, 'none'),
];

export interface ResolvedSection extends SectionDef {
  /** The section name as written. */
  section: string;
  /** What follows the matched prefix and `/` (the attach target), or '' for bare names. */
  target: string;
}

/** The definition libbpf would pick for this section name, or undefined for unknown names. */
export function resolveSection(section: string): ResolvedSection | undefined {
  for (const d of DEFS) {
    const plus = d.sec.endsWith('+');
    const prefix = plus ? d.sec.slice(0, -1) : d.sec;
    if (section === prefix) return { ...d, section, target: '' };
    if (plus && section.startsWith(`${prefix}/`))
      return { ...d, section, target: section.slice(prefix.length + 1) };
  }
  return undefined;
}

/** Every section name (or `prefix+`) the table knows, in matching order. */
export function knownSections(): string[] {
  return DEFS.map((d) => d.sec);
}
