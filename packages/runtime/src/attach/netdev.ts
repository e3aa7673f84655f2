/**
 * Programs attached to a network interface through BPF links: XDP (BPF_LINK_CREATE with the
 * interface index, kernel 5.9+) and tc through tcx links (kernel 6.6+). Closing the link
 * detaches; nothing is left on the interface when the process dies.
 */
import { release } from 'node:os';
import { errors } from '../deps.ts';
import { kernelVersionCode } from '../loader/kconfig.ts';
import { AttachType, type ResolvedSection } from '../loader/sections.ts';
import { linkCreate } from '../sys/bpf.ts';
import { Errno, KernelError } from '../sys/errors.ts';
import { libc } from '../sys/libc.ts';
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

export interface TcxOptions {
  /** For `tc`/`classifier` sections, which name no direction. */
  direction?: 'ingress' | 'egress';
  flags?: number;
  relativeFd?: number;
}

/** The first kernel with tcx links: KERNEL_VERSION(6, 6, 0). */
const TCX_KERNEL = (6 << 16) + (6 << 8);

export function tcxLink(
  name: string,
  progFd: number,
  sec: ResolvedSection,
  target: string,
  o: TcxOptions,
): Link {
  let attachType = sec.expectedAttachType;
  if (o.direction) attachType = o.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
  if (attachType !== AttachType.TCX_INGRESS && attachType !== AttachType.TCX_EGRESS)
    throw errors.badOption(
      `program '${name}' (SEC("${sec.section}")) names no direction; pass direction: 'ingress' or 'egress'`,
    );
  const ifindex = interfaceIndex(name, target);
  const dir = attachType === AttachType.TCX_INGRESS ? 'ingress' : 'egress';
  try {
    const fd = linkCreate(
      { progFd, targetFd: ifindex, attachType, flags: o.flags ?? 0, relativeFd: o.relativeFd },
      `tcx/${dir} ${target}`,
    );
    return new Link(name, `tcx/${dir}`, target, [fd]);
  } catch (e) {
    // Before 6.6 the kernel knows no tcx attach type and says EINVAL: say so, not "invalid".
    if (e instanceof KernelError && e.errno === Errno.EINVAL && kernelVersionCode() < TCX_KERNEL)
      throw new KernelError(
        'UNSUPPORTED',
        e.op,
        e.errno,
        `${e.op} failed: EINVAL: tcx links need Linux 6.6 or later, this kernel is ${release()}; ` +
          'attach through a clsact qdisc (tc filter … bpf direct-action) instead',
      );
    throw e;
  }
}
