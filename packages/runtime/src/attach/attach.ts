/**
 * Attaching a loaded program where its section name says (libbpf's auto-attach rules), and
 * the resulting link: every fd it holds, closed together on detach.
 */

import { readFileSync } from 'node:fs';
import { errors, parseElf, SHT } from '../deps.ts';
import { hasSyscallWrapper, syscallPrefix } from '../loader/kernel-features.ts';
import type { ResolvedSection } from '../loader/sections.ts';
import { AttachType, ProgType } from '../loader/sections.ts';
import { closeFd, closeFdAsync, linkCreate, rawTracepointOpen } from '../sys/bpf.ts';
import { KernelError } from '../sys/errors.ts';
import { NativeBuffer } from '../sys/native.ts';
import { PerfIoctl, PerfType, perfEventOpen, perfIoctl } from '../sys/perf.ts';
import { pmuType, retprobeBit, tracepointId } from '../sys/tracefs.ts';
import { resolveBinaryPath } from './binary-path.ts';
import type { IterTarget } from './iter.ts';
import type { PerfEventSpec } from './perf-event.ts';

export class Link {
  private fds: number[];
  constructor(
    readonly program: string,
    readonly kind: string,
    readonly target: string,
    fds: number[],
  ) {
    this.fds = fds;
  }
  get fd(): number {
    return this.fds[0] ?? -1;
  }
  get open(): boolean {
    return this.fds.length > 0;
  }
  /** @internal Hands the fds over to another link (which then owns them); this one is left empty. */
  release(): number[] {
    const fds = this.fds;
    this.fds = [];
    return fds;
  }
  /** Detaches: closing the link (and its perf event) is what removes the program. */
  destroy(): void {
    for (const fd of this.fds) closeFd(fd);
    this.fds = [];
  }
  /** destroy() for LoadedObject.close(), which awaits all links' together: at once here. */
  async destroyAsync(): Promise<void> {
    this.destroy();
  }
}

/**
 * A program carried by a perf event (tracepoints, k/uprobes, USDT). Closing one waits in the
 * kernel for RCU grace periods (70-90 ms per tracepoint here, libbpf's bpf_link__destroy
 * alike), so close() closes these off the main thread, where the waits of an object's links
 * partly overlap (opensnoop's four: ~300 ms in turn, ~190 together). Links without a perf
 * event (raw tracepoints, BTF-id tracing) close in a few milliseconds and lose by it.
 */
export class PerfEventLink extends Link {
  override async destroyAsync(): Promise<void> {
    await Promise.all(this.release().map(closeFdAsync));
  }
}

export interface AttachOptions {
  /** Overrides the target from the section name ("syscalls/sys_enter_openat", "/bin/bash:readline"). */
  target?: string;
  /** uprobes: only this process (default: all). */
  pid?: number;
  /**
   * A value the program reads with bpf_get_attach_cookie() (tracepoints, k/uprobes: carried by
   * the perf link; needs BPF_LINK_CREATE for perf events, kernel 5.15+).
   */
  cookie?: bigint | number;
  /** k/uprobes: attach as a return probe whatever the section says (libbpf's `retprobe` option). */
  retprobe?: boolean;
  /** k/uprobes: bytes added to the function's address (libbpf's func_offset / offset). */
  offset?: number;
  /**
   * Attach a kprobe-type program (SEC kprobe/kretprobe/uprobe/uretprobe…) as this kind of probe,
   * whatever its section says — libbpf's bpf_program__attach_uprobe / attach_kprobe, which tools
   * such as funclatency use on `kprobe/dummy_*` programs. The section's return-ness is then
   * ignored: `retprobe` says it.
   */
  probe?: 'uprobe' | 'kprobe';
  /** xdp: XDP_FLAGS_* (XdpFlags); tcx: BPF_F_BEFORE/AFTER (TcxFlags); cgroup: BPF_F_* link flags. */
  flags?: number;
  /** tc/classifier sections, which name no direction: the tcx hook to attach to. */
  direction?: 'ingress' | 'egress';
  /** tcx: the program or link fd the new program goes before/after (with flags). */
  relativeFd?: number;
  /** tc programs: 'tcx' link or 'netlink' filter (see TcOptions in netdev.ts). */
  tcMode?: 'tcx' | 'netlink';
  /** perf_event programs: the event opened on each CPU to carry the program. */
  perfEvent?: PerfEventSpec;
  /** iter programs: what the iterator walks (a map, a task), when it takes a parameter. */
  iter?: IterTarget;
}

/** The attach target (from the options or the section name), or a BAD_OPTION naming `what`. */
export function requireTarget(name: string, sec: ResolvedSection, target: string, what: string): string {
  if (!target)
    throw errors.badOption(
      `program '${name}' (SEC("${sec.section}")) names no ${what} to attach to; pass one as target`,
    );
  return target;
}

/** Attaches program `name` (fd `progFd`) per its section definition. */
export function attachProgram(
  name: string,
  progFd: number,
  sec: ResolvedSection,
  opts: AttachOptions = {},
): Link {
  const target = opts.target ?? sec.target;
  const need = (what: string): string => requireTarget(name, sec, target, what);
  let kind = sec.attach;
  if (opts.probe) {
    if (sec.progType !== ProgType.KPROBE)
      throw errors.badOption(
        `program '${name}' (SEC("${sec.section}")) is not a kprobe-type program; it cannot be attached as a ${opts.probe}`,
      );
    kind = opts.probe;
  }
  switch (kind) {
    case 'tracepoint': {
      need('tracepoint');
      const slash = target.indexOf('/');
      if (slash < 0)
        throw errors.badOption(`program '${name}': tracepoint '${target}' must be category/name`);
      const id = tracepointId(target.slice(0, slash), target.slice(slash + 1));
      const pfd = perfEventOpen({ type: PerfType.TRACEPOINT, config: id }, -1, 0, `tracepoint ${target}`);
      return perfLink(name, 'tracepoint', target, progFd, pfd, opts.cookie);
    }
    case 'raw_tracepoint':
      need('raw tracepoint');
      noCookie(name, sec, opts);
      return new Link(name, 'raw_tracepoint', target, [rawTracepointOpen(target, progFd)]);
    case 'tracing':
    case 'lsm':
      noCookie(name, sec, opts);
      // The target was fixed at load time through attach_btf_id.
      return new Link(name, 'tracing', target, [rawTracepointOpen(null, progFd)]);
    case 'kprobe':
    case 'kretprobe':
    case 'ksyscall':
    case 'kretsyscall': {
      need('kernel function');
      const ret = opts.probe
        ? opts.retprobe === true
        : sec.attach === 'kretprobe' || sec.attach === 'kretsyscall' || opts.retprobe === true;
      let func = target;
      let offset = opts.offset ?? 0;
      const plus = target.indexOf('+');
      if (plus >= 0) {
        func = target.slice(0, plus);
        offset += Number(target.slice(plus + 1));
      }
      if (sec.attach === 'ksyscall' || sec.attach === 'kretsyscall') func = syscallFunction(func);
      const type = pmuType('kprobe');
      const nameBuf = NativeBuffer.cString(func);
      try {
        const pfd = perfEventOpen(
          {
            type,
            config: ret ? 1n << BigInt(retprobeBit('kprobe')) : 0n,
            config1: nameBuf.address,
            config2: BigInt(offset),
          },
          -1,
          0,
          `${kind} ${target}`,
        );
        return perfLink(name, ret ? 'kretprobe' : kind, target, progFd, pfd, opts.cookie);
      } finally {
        nameBuf.free();
      }
    }
    case 'uprobe':
    case 'uretprobe': {
      need('binary:function');
      const colon = target.lastIndexOf(':');
      if (colon < 0)
        throw errors.badOption(`program '${name}': uprobe target '${target}' must be path:function[+offset]`);
      const path = resolveBinaryPath(target.slice(0, colon));
      const fn = target.slice(colon + 1);
      const offset = uprobeOffset(path, fn) + (opts.offset ?? 0);
      const ret = opts.probe ? opts.retprobe === true : sec.attach === 'uretprobe' || opts.retprobe === true;
      return uprobeLink(name, ret ? 'uretprobe' : 'uprobe', target, progFd, {
        path,
        offset,
        retprobe: ret,
        pid: opts.pid,
        cookie: opts.cookie,
      });
    }
    default:
      throw errors.unsupported(`program '${name}' (SEC("${sec.section}")) cannot be attached automatically`);
  }
}

function noCookie(name: string, sec: ResolvedSection, opts: AttachOptions): void {
  if (opts.cookie !== undefined)
    throw errors.badOption(
      `program '${name}' (SEC("${sec.section}")): attach cookies are carried by perf event links (tracepoints, k/uprobes), not by ${sec.attach} links`,
    );
}

/**
 * A perf event carrying the program: a BPF link when the kernel has them, else the ioctl
 * (which cannot carry a cookie: asking for one there is an error, as in libbpf).
 */
export function perfLink(
  name: string,
  kind: string,
  target: string,
  progFd: number,
  pfd: number,
  cookie?: bigint | number,
): Link {
  try {
    let link = -1;
    try {
      link = linkCreate(
        {
          progFd,
          targetFd: pfd,
          attachType: AttachType.PERF_EVENT,
          ...(cookie !== undefined ? { cookie: BigInt(cookie) } : {}),
        },
        `${kind} ${target}`,
      );
    } catch (e) {
      // Kernels before 5.15 have no perf links: fall back to attaching through the event.
      if (!(e instanceof KernelError) || (e.kind !== 'UNSUPPORTED' && e.errno !== 22)) throw e;
      if (cookie !== undefined) throw e;
      perfIoctl(pfd, PerfIoctl.SET_BPF, progFd, `PERF_EVENT_IOC_SET_BPF ${target}`);
    }
    perfIoctl(pfd, PerfIoctl.ENABLE, 0, `PERF_EVENT_IOC_ENABLE ${target}`);
    return new PerfEventLink(name, kind, target, link >= 0 ? [link, pfd] : [pfd]);
  } catch (e) {
    closeFd(pfd);
    throw e;
  }
}

/**
 * A uprobe (or return uprobe) at file offset `offset` of `path` carrying the program: through
 * the uprobe PMU, for one process (`pid`) or all; `refCtrOffset` is the file offset of a USDT
 * semaphore the kernel counts up while the probe is attached.
 */
export function uprobeLink(
  name: string,
  kind: string,
  target: string,
  progFd: number,
  u: {
    path: string;
    offset: number;
    retprobe?: boolean;
    refCtrOffset?: number;
    pid?: number;
    cookie?: bigint | number;
  },
): Link {
  const type = pmuType('uprobe');
  const pathBuf = NativeBuffer.cString(u.path);
  try {
    const pid = u.pid ?? -1;
    let config = u.retprobe ? 1n << BigInt(retprobeBit('uprobe')) : 0n;
    if (u.refCtrOffset) config |= BigInt(u.refCtrOffset) << BigInt(refCtrShift());
    const pfd = perfEventOpen(
      { type, config, config1: pathBuf.address, config2: BigInt(u.offset) },
      pid,
      pid < 0 ? 0 : -1,
      `${kind} ${target}`,
    );
    return perfLink(name, kind, target, progFd, pfd, u.cookie);
  } finally {
    pathBuf.free();
  }
}

/** Where the uprobe PMU takes the reference counter's offset (format/ref_ctr_offset `config:32-63`). */
function refCtrShift(): number {
  try {
    const m = /config:(\d+)/.exec(
      readFileSync('/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset', 'utf8'),
    );
    return m ? Number(m[1]) : 32;
  } catch {
    return 32;
  }
}

/**
 * The kernel function behind a syscall, as libbpf names it: the arch wrapper
 * (`__x64_sys_kill`) when its probe found wrappers (the same answer the object's
 * LINUX_HAS_SYSCALL_WRAPPER got), else `sys_kill`.
 */
function syscallFunction(name: string): string {
  const pfx = syscallPrefix();
  return pfx && hasSyscallWrapper() ? `__${pfx}_sys_${name}` : `sys_${name}`;
}

/** The file offset of function `fn` (or `fn+off`, or a hex address) in ELF file `path`. */
export function uprobeOffset(path: string, spec: string): number {
  let fn = spec;
  let extra = 0;
  const plus = spec.indexOf('+');
  if (plus >= 0) {
    fn = spec.slice(0, plus);
    extra = Number(spec.slice(plus + 1));
  }
  if (/^0x[0-9a-f]+$/i.test(fn)) return Number(fn) + extra;
  const elf = parseElf(new Uint8Array(readFileSync(path)), path);
  const view = new DataView(elf.bytes.buffer, elf.bytes.byteOffset, elf.bytes.byteLength);
  for (const symtab of elf.sections.filter((s) => s.type === SHT.SYMTAB || s.type === SHT.DYNSYM)) {
    for (const sym of elf.symbols(symtab)) {
      if (sym.name !== fn || sym.type !== 2 || sym.shndx === 0 || sym.value === 0) continue;
      const sec = elf.sections[sym.shndx];
      if (!sec) continue;
      // st_value is a virtual address; the probe wants a file offset (sh_addr @16 of Elf64_Shdr).
      const addr = Number(view.getBigUint64(sec.headerOffset + 16, elf.littleEndian));
      return sym.value - addr + sec.offset + extra;
    }
  }
  throw errors.notFound(path, `no function '${fn}' in the symbol tables`);
}
