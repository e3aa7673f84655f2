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
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
} as const;

/** enum bpf_attach_type (uapi), the ones SEC() names imply. */
export const AttachType = {
  NONE: 0,
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_DEVICE: 6,
  CGROUP_SYSCTL: 18,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  XDP: 37,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
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
  | 'none'; // loaded but not auto-attachable (socket filters, xdp, cgroup, …)

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
  def('tc', ProgType.SCHED_CLS, 0, 'none'),
  def('classifier', ProgType.SCHED_CLS, 0, 'none'),
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
  def('iter+', ProgType.TRACING, AttachType.TRACE_ITER, 'none', {
    btfTarget: { prefix: 'bpf_iter_', kind: 'func' },
  }),
  def('iter.s+', ProgType.TRACING, AttachType.TRACE_ITER, 'none', {
    btfTarget: { prefix: 'bpf_iter_', kind: 'func' },
    progFlags: S,
  }),
  def('syscall', ProgType.SYSCALL, 0, 'none', { progFlags: S }),
  def('xdp.frags', ProgType.XDP, AttachType.XDP, 'none', { progFlags: ProgFlags.XDP_HAS_FRAGS }),
  def('xdp', ProgType.XDP, AttachType.XDP, 'none'),
  def('perf_event', ProgType.PERF_EVENT, 0, 'none'),
  def('cgroup_skb/ingress', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, 'none'),
  def('cgroup_skb/egress', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, 'none'),
  def('cgroup/skb', ProgType.CGROUP_SKB, 0, 'none'),
  def('cgroup/sock_create', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE, 'none'),
  def('cgroup/sock', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE, 'none'),
  def('cgroup/dev', ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE, 'none'),
  def('cgroup/sysctl', ProgType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL, 'none'),
  def('sockops', ProgType.SOCK_OPS, 3, 'none'),
  def('sk_lookup', ProgType.SK_LOOKUP, 36, 'none'),
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
