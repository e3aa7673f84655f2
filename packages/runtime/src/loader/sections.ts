/**
 * libbpf's SEC() conventions (libbpf 1.1 `section_defs`): from an ELF section name to the
 * program type, the expected attach type passed at load, load flags, and how the program is
 * attached. A definition ending in `+` matches the bare prefix or the prefix followed by `/`
 * and a target; others match exactly.
 */

// The kernel's numbers come from @btfkit/core's uapi table (the one the SEC() table there uses).
import { AttachType, ProgFlags, ProgType } from '../deps.ts';

export { AttachType, ProgFlags, ProgType };

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
