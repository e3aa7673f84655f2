/**
 * Programs attached to a network interface through BPF links: XDP (BPF_LINK_CREATE with the
 * interface index, kernel 5.9+) and tc through tcx links (kernel 6.6+), or the netlink way
 * (a clsact qdisc and a direct-action bpf filter) for bare tc sections and older kernels.
 * Closing a link detaches and nothing is left when the process dies; netlink filters are
 * deleted by destroy() (LoadedObject.close(), and process exit, call it).
 */
import { errors } from '../deps.ts';
import { kernelVersionCode } from '../loader/kconfig.ts';
import { AttachType, type ResolvedSection } from '../loader/sections.ts';
import { linkCreate } from '../sys/bpf.ts';
import { Errno, KernelError } from '../sys/errors.ts';
import { libc } from '../sys/libc.ts';
import { addBpfFilter, addClsact, deleteBpfFilter, deleteClsact, type TcFilter } from '../sys/rtnetlink.ts';
import { Link } from './attach.ts';

/** The index of interface `target` (a name, or a decimal index) in this process's network namespace. */
export function interfaceIndex(prog: string, target: string): number {
  if (/^\d+$/.test(target)) return Number(target);
  const index = libc.ifNameToIndex(target);
  if (index === 0)
    throw new KernelError(
      'NOT_FOUND',
      `if_nametoindex ${target}`,
      libc.errno() || Errno.ENODEV,
      `program '${prog}': no network interface '${target}' in this process's network namespace`,
    );
  return index;
}

/** XDP_FLAGS_* (uapi if_link.h): the mode the program runs in. */
export const XdpFlags = { SKB_MODE: 1 << 1, DRV_MODE: 1 << 2, HW_MODE: 1 << 3 } as const;

export function xdpLink(name: string, progFd: number, target: string, flags = 0): Link {
  const ifindex = interfaceIndex(name, target);
  const fd = linkCreate({ progFd, targetFd: ifindex, attachType: AttachType.XDP, flags }, `xdp ${target}`);
  return new Link(name, 'xdp', target, [fd]);
}

/** BPF_F_BEFORE / BPF_F_AFTER: where a tcx program goes relative to `relativeFd` (or first/last). */
export const TcxFlags = { BEFORE: 1 << 3, AFTER: 1 << 4 } as const;

export interface TcOptions {
  /** For `tc`/`classifier` sections, which name no direction. */
  direction?: 'ingress' | 'egress';
  flags?: number;
  relativeFd?: number;
  /**
   * 'tcx' (a link, kernel 6.6+; the default for tc/ingress, tcx/* sections) or 'netlink' (a
   * direct-action bpf filter on a clsact qdisc, libbpf's bpf_tc_attach; the default for bare
   * tc/classifier sections, and what tcx falls back to on kernels before 6.6).
   */
  tcMode?: 'tcx' | 'netlink';
}

/** The first kernel with tcx links: KERNEL_VERSION(6, 6, 0). */
const TCX_KERNEL = (6 << 16) + (6 << 8);

/**
 * A tc program attached through netlink: no fd holds it, so destroy() deletes the filter, and
 * the clsact qdisc too when this link created it (as libbpf's bpf_tc_hook_destroy would, which
 * removes any filter others added to it since).
 */
export class TcLink extends Link {
  private filter: TcFilter | undefined;
  constructor(
    program: string,
    kind: string,
    target: string,
    filter: TcFilter,
    private readonly ownQdisc: boolean,
  ) {
    super(program, kind, target, []);
    this.filter = filter;
  }
  override get open(): boolean {
    return this.filter !== undefined;
  }
  override destroy(): void {
    const f = this.filter;
    if (!f) return;
    this.filter = undefined;
    try {
      deleteBpfFilter(f, this.target);
    } finally {
      if (this.ownQdisc) deleteClsact(f.ifindex, this.target);
    }
  }
}

export function tcLink(
  name: string,
  progFd: number,
  sec: ResolvedSection,
  target: string,
  o: TcOptions,
): Link {
  let attachType = sec.expectedAttachType;
  if (o.direction) attachType = o.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
  if (attachType !== AttachType.TCX_INGRESS && attachType !== AttachType.TCX_EGRESS)
    throw errors.badOption(
      `program '${name}' (SEC("${sec.section}")) names no direction; pass direction: 'ingress' or 'egress'`,
    );
  const ifindex = interfaceIndex(name, target);
  const dir = attachType === AttachType.TCX_INGRESS ? 'ingress' : 'egress';
  const mode = o.tcMode ?? (sec.attach === 'tc' ? 'netlink' : 'tcx');
  if (mode === 'tcx') {
    try {
      const fd = linkCreate(
        { progFd, targetFd: ifindex, attachType, flags: o.flags ?? 0, relativeFd: o.relativeFd },
        `tcx/${dir} ${target}`,
      );
      return new Link(name, `tcx/${dir}`, target, [fd]);
    } catch (e) {
      // Before 6.6 the kernel knows no tcx attach type and says EINVAL: go the netlink way.
      if (!(e instanceof KernelError && e.errno === Errno.EINVAL && kernelVersionCode() < TCX_KERNEL))
        throw e;
    }
  }
  const ownQdisc = addClsact(ifindex, target);
  try {
    const filter = addBpfFilter(ifindex, target, dir, progFd, name);
    return new TcLink(name, `tc/${dir}`, target, filter, ownQdisc);
  } catch (e) {
    if (ownQdisc) deleteClsact(ifindex, target);
    throw e;
  }
}
