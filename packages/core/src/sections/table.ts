/**
 * The one SEC() table: from a program's ELF section name to what libbpf makes of it (program
 * type, expected attach type, prog_flags), how it is attached, and whether the kernel must
 * have its own BTF for it. Codegen, compat and the runtime all read this table;
 * test/sections-libbpf.test.ts holds it to libbpf's own answers (tools/sec-oracle).
 *
 * Matching is libbpf's (1.x, strict): a definition ending in `+` matches the bare name or the
 * name followed by `/` and a target; one ending in `/` matches any name it prefixes; any other
 * matches exactly. The first matching definition wins, so order matters where one name
 * prefixes another.
 */
import { AttachType as A, ProgType as P, PROG_TYPE_NAMES, ProgFlags } from './uapi.ts';

/** How a program of a section is attached (the runtime's attach/ implements each). */
export type AttachKind =
  | 'kprobe'
  | 'kretprobe'
  | 'kprobe_multi'
  | 'ksyscall'
  | 'kretsyscall'
  | 'uprobe'
  | 'uretprobe'
  | 'uprobe_multi'
  | 'usdt'
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tracing' // tp_btf, fentry, fexit, fmod_ret, freplace: attach_btf_id at load, BPF_RAW_TRACEPOINT_OPEN / LINK_CREATE
  | 'lsm'
  | 'iter'
  | 'xdp'
  | 'tc' // legacy classifier / action: attached with netlink (tc filter), not by a link
  | 'tcx'
  | 'cgroup'
  | 'perf_event'
  | 'sockmap' // sk_skb / sk_msg: attached to a sockmap
  | 'netns' // flow_dissector, sk_lookup
  | 'struct_ops'
  | 'none'; // loaded, never attached by libbpf (socket filters, syscall, lwt, ...)

export interface SectionDef {
  /** The pattern as libbpf writes it (`kprobe+`, `xdp`, `cgroup/connect4`). */
  readonly sec: string;
  readonly progType: number;
  readonly expectedAttachType: number;
  readonly progFlags: number;
  readonly attach: AttachKind;
  /**
   * The kernel must have its own BTF (/sys/kernel/btf/vmlinux): libbpf finds the attach target
   * there at load (SEC_ATTACH_BTF), or the kernel checks the program against it (struct_ops,
   * LSM). freplace is BTF-attached too, but to another program's BTF.
   */
  readonly needsKernelBtf: boolean;
  /** For BTF-attached programs: how the kernel BTF names the target (prefix + kind). */
  readonly btfTarget?: { readonly prefix: string; readonly kind: 'func' | 'typedef' };
  /** First libbpf release that knows the name (this table's answers before it are 'unknown'). */
  readonly since: LibbpfRelease;
}

/** A libbpf release that added SEC() names (not the decision profile: core/profile.ts LibbpfVersion). */
export type LibbpfRelease = '1.1' | '1.2' | '1.3' | '1.5';

interface Extra {
  flags?: number;
  btf?: { prefix: string; kind: 'func' | 'typedef' };
  since?: LibbpfRelease;
}

function def(sec: string, progType: number, expected: number, attach: AttachKind, x: Extra = {}): SectionDef {
  return {
    sec,
    progType,
    expectedAttachType: expected,
    progFlags: x.flags ?? 0,
    attach,
    needsKernelBtf: x.btf !== undefined && x.btf !== PROGRAM,
    ...(x.btf ? { btfTarget: x.btf } : {}),
    since: x.since ?? '1.1',
  };
}

const S = ProgFlags.SLEEPABLE;
const FRAGS = ProgFlags.XDP_HAS_FRAGS;
const FN = { prefix: '', kind: 'func' } as const;
const TP_BTF = { prefix: 'btf_trace_', kind: 'typedef' } as const;
const LSM = { prefix: 'bpf_lsm_', kind: 'func' } as const;
const ITER = { prefix: 'bpf_iter_', kind: 'func' } as const;
/** struct_ops names a struct type of the kernel's BTF; freplace a function of a program's BTF. */
const OTHER = { prefix: '', kind: 'func' } as const;
const PROGRAM = { prefix: '', kind: 'func' } as const;

/** libbpf's section_defs (1.1), then the names later releases added, in libbpf's order. */
export const SECTION_DEFS: readonly SectionDef[] = [
  def('socket', P.SOCKET_FILTER, 0, 'none'),
  def('sk_reuseport/migrate', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, 'none'),
  def('sk_reuseport', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, 'none'),
  def('kprobe+', P.KPROBE, 0, 'kprobe'),
  def('uprobe+', P.KPROBE, 0, 'uprobe'),
  def('uprobe.s+', P.KPROBE, 0, 'uprobe', { flags: S }),
  def('kretprobe+', P.KPROBE, 0, 'kretprobe'),
  def('uretprobe+', P.KPROBE, 0, 'uretprobe'),
  def('uretprobe.s+', P.KPROBE, 0, 'uretprobe', { flags: S }),
  def('kprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI, 'kprobe_multi'),
  def('kretprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI, 'kprobe_multi'),
  def('uprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI, 'uprobe_multi', { since: '1.3' }),
  def('uretprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI, 'uprobe_multi', { since: '1.3' }),
  def('uprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, 'uprobe_multi', { flags: S, since: '1.3' }),
  def('uretprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, 'uprobe_multi', { flags: S, since: '1.3' }),
  def('ksyscall+', P.KPROBE, 0, 'ksyscall'),
  def('kretsyscall+', P.KPROBE, 0, 'kretsyscall'),
  def('usdt+', P.KPROBE, 0, 'usdt'),
  def('usdt.s+', P.KPROBE, 0, 'usdt', { flags: S, since: '1.5' }),
  def('tc/ingress', P.SCHED_CLS, A.TCX_INGRESS, 'tcx', { since: '1.3' }),
  def('tc/egress', P.SCHED_CLS, A.TCX_EGRESS, 'tcx', { since: '1.3' }),
  def('tcx/ingress', P.SCHED_CLS, A.TCX_INGRESS, 'tcx', { since: '1.3' }),
  def('tcx/egress', P.SCHED_CLS, A.TCX_EGRESS, 'tcx', { since: '1.3' }),
  def('tc', P.SCHED_CLS, 0, 'tc'),
  def('classifier', P.SCHED_CLS, 0, 'tc'),
  def('action', P.SCHED_ACT, 0, 'tc'),
  def('tracepoint+', P.TRACEPOINT, 0, 'tracepoint'),
  def('tp+', P.TRACEPOINT, 0, 'tracepoint'),
  def('raw_tracepoint+', P.RAW_TRACEPOINT, 0, 'raw_tracepoint'),
  def('raw_tp+', P.RAW_TRACEPOINT, 0, 'raw_tracepoint'),
  def('raw_tracepoint.w+', P.RAW_TRACEPOINT_WRITABLE, 0, 'raw_tracepoint'),
  def('raw_tp.w+', P.RAW_TRACEPOINT_WRITABLE, 0, 'raw_tracepoint'),
  def('tp_btf+', P.TRACING, A.TRACE_RAW_TP, 'tracing', { btf: TP_BTF }),
  def('fentry+', P.TRACING, A.TRACE_FENTRY, 'tracing', { btf: FN }),
  def('fmod_ret+', P.TRACING, A.MODIFY_RETURN, 'tracing', { btf: FN }),
  def('fexit+', P.TRACING, A.TRACE_FEXIT, 'tracing', { btf: FN }),
  def('fentry.s+', P.TRACING, A.TRACE_FENTRY, 'tracing', { btf: FN, flags: S }),
  def('fmod_ret.s+', P.TRACING, A.MODIFY_RETURN, 'tracing', { btf: FN, flags: S }),
  def('fexit.s+', P.TRACING, A.TRACE_FEXIT, 'tracing', { btf: FN, flags: S }),
  def('freplace+', P.EXT, 0, 'tracing', { btf: PROGRAM }),
  def('lsm+', P.LSM, A.LSM_MAC, 'lsm', { btf: LSM }),
  def('lsm.s+', P.LSM, A.LSM_MAC, 'lsm', { btf: LSM, flags: S }),
  def('lsm_cgroup+', P.LSM, A.LSM_CGROUP, 'cgroup', { btf: LSM }),
  def('iter+', P.TRACING, A.TRACE_ITER, 'iter', { btf: ITER }),
  def('iter.s+', P.TRACING, A.TRACE_ITER, 'iter', { btf: ITER, flags: S }),
  def('syscall', P.SYSCALL, 0, 'none', { flags: S }),
  def('xdp.frags/devmap', P.XDP, A.XDP_DEVMAP, 'none', { flags: FRAGS }),
  def('xdp/devmap', P.XDP, A.XDP_DEVMAP, 'none'),
  def('xdp.frags/cpumap', P.XDP, A.XDP_CPUMAP, 'none', { flags: FRAGS }),
  def('xdp/cpumap', P.XDP, A.XDP_CPUMAP, 'none'),
  def('xdp.frags', P.XDP, A.XDP, 'xdp', { flags: FRAGS }),
  def('xdp', P.XDP, A.XDP, 'xdp'),
  def('perf_event', P.PERF_EVENT, 0, 'perf_event'),
  def('lwt_in', P.LWT_IN, 0, 'none'),
  def('lwt_out', P.LWT_OUT, 0, 'none'),
  def('lwt_xmit', P.LWT_XMIT, 0, 'none'),
  def('lwt_seg6local', P.LWT_SEG6LOCAL, 0, 'none'),
  def('sockops', P.SOCK_OPS, A.CGROUP_SOCK_OPS, 'cgroup'),
  def('sk_skb/stream_parser', P.SK_SKB, A.SK_SKB_STREAM_PARSER, 'sockmap'),
  def('sk_skb/stream_verdict', P.SK_SKB, A.SK_SKB_STREAM_VERDICT, 'sockmap'),
  def('sk_skb', P.SK_SKB, 0, 'sockmap'),
  def('sk_msg', P.SK_MSG, A.SK_MSG_VERDICT, 'sockmap'),
  def('lirc_mode2', P.LIRC_MODE2, A.LIRC_MODE2, 'none'),
  def('flow_dissector', P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, 'netns'),
  def('cgroup_skb/ingress', P.CGROUP_SKB, A.CGROUP_INET_INGRESS, 'cgroup'),
  def('cgroup_skb/egress', P.CGROUP_SKB, A.CGROUP_INET_EGRESS, 'cgroup'),
  def('cgroup/skb', P.CGROUP_SKB, 0, 'cgroup'),
  def('cgroup/sock_create', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, 'cgroup'),
  def('cgroup/sock_release', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, 'cgroup'),
  def('cgroup/sock', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, 'cgroup'),
  def('cgroup/post_bind4', P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, 'cgroup'),
  def('cgroup/post_bind6', P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, 'cgroup'),
  def('cgroup/bind4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, 'cgroup'),
  def('cgroup/bind6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, 'cgroup'),
  def('cgroup/connect4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, 'cgroup'),
  def('cgroup/connect6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, 'cgroup'),
  def('cgroup/connect_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, 'cgroup', { since: '1.3' }),
  def('cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, 'cgroup'),
  def('cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, 'cgroup'),
  def('cgroup/sendmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, 'cgroup', { since: '1.3' }),
  def('cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, 'cgroup'),
  def('cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, 'cgroup'),
  def('cgroup/recvmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, 'cgroup', { since: '1.3' }),
  def('cgroup/getpeername4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, 'cgroup'),
  def('cgroup/getpeername6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, 'cgroup'),
  def('cgroup/getpeername_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, 'cgroup', { since: '1.3' }),
  def('cgroup/getsockname4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, 'cgroup'),
  def('cgroup/getsockname6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, 'cgroup'),
  def('cgroup/getsockname_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, 'cgroup', { since: '1.3' }),
  def('cgroup/sysctl', P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, 'cgroup'),
  def('cgroup/getsockopt', P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, 'cgroup'),
  def('cgroup/setsockopt', P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, 'cgroup'),
  def('cgroup/dev', P.CGROUP_DEVICE, A.CGROUP_DEVICE, 'cgroup'),
  def('struct_ops+', P.STRUCT_OPS, 0, 'struct_ops', { btf: OTHER }),
  def('struct_ops.s+', P.STRUCT_OPS, 0, 'struct_ops', { btf: OTHER, flags: S, since: '1.3' }),
  def('sk_lookup', P.SK_LOOKUP, A.SK_LOOKUP, 'netns'),
  def('netfilter', P.NETFILTER, A.NETFILTER, 'none', { since: '1.2' }),
];

export interface ResolvedSection extends SectionDef {
  /** The section name as written. */
  readonly section: string;
  /** The definition's name without its `+` or trailing `/` (e.g. `kretprobe`, `xdp`). */
  readonly prefix: string;
  /** What follows the matched name and `/` (the attach target), or '' for bare names. */
  readonly target: string;
  /** bpftool's name of the program type (`kprobe`, `sched_cls`, `tracing`). */
  readonly typeName: string;
}

const ORDER: Record<LibbpfRelease, number> = { '1.1': 0, '1.2': 1, '1.3': 2, '1.5': 3 };

/**
 * The definition libbpf would pick for this section name, or undefined where it knows none.
 * `libbpf` limits the table to the names that release knows (default: every name here).
 */
export function resolveSection(section: string, libbpf?: LibbpfRelease): ResolvedSection | undefined {
  const limit = libbpf === undefined ? Number.POSITIVE_INFINITY : ORDER[libbpf];
  for (const d of SECTION_DEFS) {
    if (ORDER[d.since] > limit) continue;
    const target = matchTarget(d.sec, section);
    if (target === undefined) continue;
    const prefix = d.sec.endsWith('+') || d.sec.endsWith('/') ? d.sec.slice(0, -1) : d.sec;
    return { ...d, section, prefix, target, typeName: PROG_TYPE_NAMES[d.progType] ?? 'unspec' };
  }
  return undefined;
}

/** The attach target if `sec` (a definition) matches `name`, else undefined. */
function matchTarget(sec: string, name: string): string | undefined {
  const last = sec[sec.length - 1];
  if (last === '/') return name.startsWith(sec) ? name.slice(sec.length) : undefined;
  if (last === '+') {
    const bare = sec.slice(0, -1);
    if (!name.startsWith(bare)) return undefined;
    if (name.length === bare.length) return '';
    return name[bare.length] === '/' ? name.slice(bare.length + 1) : undefined;
  }
  return name === sec ? '' : undefined;
}
