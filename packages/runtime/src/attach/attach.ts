/**
 * Attaching a loaded program where its section name says (libbpf's auto-attach rules), and
 * the resulting link: every fd it holds, closed together on detach.
 */

import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { errors, parseElf, SHT } from '../deps.ts';
import type { ResolvedSection } from '../loader/sections.ts';
import { AttachType } from '../loader/sections.ts';
import { closeFd, linkCreate, rawTracepointOpen } from '../sys/bpf.ts';
import { KernelError } from '../sys/errors.ts';
import { NativeBuffer } from '../sys/native.ts';
import { PerfIoctl, PerfType, perfEventOpen, perfIoctl } from '../sys/perf.ts';
import { pmuType, retprobeBit, tracepointId } from '../sys/tracefs.ts';
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
}

export interface AttachOptions {
  /** Overrides the target from the section name ("syscalls/sys_enter_openat", "/bin/bash:readline"). */
  target?: string;
  /** uprobes: only this process (default: all). */
  pid?: number;
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

/** Attaches program `name` (fd `progFd`) per its section definition. */
export function attachProgram(
  name: string,
  progFd: number,
  sec: ResolvedSection,
  opts: AttachOptions = {},
): Link {
  const target = opts.target ?? sec.target;
  const need = (what: string): void => {
    if (!target) {
      throw errors.badOption(
        `program '${name}' (SEC("${sec.section}")) names no ${what} to attach to; pass one as target`,
      );
    }
  };
  switch (sec.attach) {
    case 'tracepoint': {
      need('tracepoint');
      const slash = target.indexOf('/');
      if (slash < 0)
        throw errors.badOption(`program '${name}': tracepoint '${target}' must be category/name`);
      const id = tracepointId(target.slice(0, slash), target.slice(slash + 1));
      const pfd = perfEventOpen({ type: PerfType.TRACEPOINT, config: id }, -1, 0, `tracepoint ${target}`);
      return perfLink(name, 'tracepoint', target, progFd, pfd);
    }
    case 'raw_tracepoint':
      need('raw tracepoint');
      return new Link(name, 'raw_tracepoint', target, [rawTracepointOpen(target, progFd)]);
    case 'tracing':
    case 'lsm':
      // The target was fixed at load time through attach_btf_id.
      return new Link(name, 'tracing', target, [rawTracepointOpen(null, progFd)]);
    case 'kprobe':
    case 'kretprobe':
    case 'ksyscall':
    case 'kretsyscall': {
      need('kernel function');
      const ret = sec.attach === 'kretprobe' || sec.attach === 'kretsyscall';
      let func = target;
      let offset = 0;
      const plus = target.indexOf('+');
      if (plus >= 0) {
        func = target.slice(0, plus);
        offset = Number(target.slice(plus + 1));
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
          `${sec.attach} ${target}`,
        );
        return perfLink(name, sec.attach, target, progFd, pfd);
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
      const path = target.slice(0, colon);
      const fn = target.slice(colon + 1);
      const offset = uprobeOffset(path, fn);
      const type = pmuType('uprobe');
      const pathBuf = NativeBuffer.cString(path);
      try {
        const pid = opts.pid ?? -1;
        const pfd = perfEventOpen(
          {
            type,
            config: sec.attach === 'uretprobe' ? 1n << BigInt(retprobeBit('uprobe')) : 0n,
            config1: pathBuf.address,
            config2: BigInt(offset),
          },
          pid,
          pid < 0 ? 0 : -1,
          `${sec.attach} ${target}`,
        );
        return perfLink(name, sec.attach, target, progFd, pfd);
      } finally {
        pathBuf.free();
      }
    }
    default:
      throw errors.unsupported(`program '${name}' (SEC("${sec.section}")) cannot be attached automatically`);
  }
}

/** A perf event carrying the program: a BPF link when the kernel has them, else the ioctl. */
export function perfLink(name: string, kind: string, target: string, progFd: number, pfd: number): Link {
  try {
    let link = -1;
    try {
      link = linkCreate({ progFd, targetFd: pfd, attachType: AttachType.PERF_EVENT }, `${kind} ${target}`);
    } catch (e) {
      // Kernels before 5.15 have no perf links: fall back to attaching through the event.
      if (!(e instanceof KernelError) || (e.kind !== 'UNSUPPORTED' && e.errno !== 22)) throw e;
      perfIoctl(pfd, PerfIoctl.SET_BPF, progFd, `PERF_EVENT_IOC_SET_BPF ${target}`);
    }
    perfIoctl(pfd, PerfIoctl.ENABLE, 0, `PERF_EVENT_IOC_ENABLE ${target}`);
    return new Link(name, kind, target, link >= 0 ? [link, pfd] : [pfd]);
  } catch (e) {
    closeFd(pfd);
    throw e;
  }
}

/** The kernel function behind a syscall: the arch wrapper when the kernel has wrappers. */
function syscallFunction(name: string): string {
  const prefix = arch() === 'arm64' ? '__arm64_sys_' : arch() === 'x64' ? '__x64_sys_' : '__se_sys_';
  try {
    const syms = readFileSync('/proc/kallsyms', 'utf8');
    if (syms.includes(` ${prefix}${name}\n`)) return `${prefix}${name}`;
  } catch {
    // No kallsyms: assume wrappers, as every supported arch has had them since 4.17.
    return `${prefix}${name}`;
  }
  return `sys_${name}`;
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
