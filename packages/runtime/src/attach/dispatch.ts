/**
 * attach() for every kind: programs on interfaces, cgroups, perf events, iterators and USDT
 * probes here, tracing kinds (tracepoints, raw tracepoints, BTF-typed, k/uprobes) in
 * attach.ts. Kept apart so the modules for each kind can build on attach.ts's Link without an
 * import cycle.
 */
import { errors } from '../deps.ts';
import type { ResolvedSection } from '../loader/sections.ts';
import { type AttachOptions, attachProgram, type Link, requireTarget } from './attach.ts';
import { cgroupLink } from './cgroup.ts';
import { iterLink } from './iter.ts';
import { tcLink, xdpLink } from './netdev.ts';
import { perfEventLink } from './perf-event.ts';
import { attachUsdt, type UsdtSpecTable } from './usdt.ts';

/** The attach kinds of the SEC() table that attach() implements; the others load only. */
const ATTACHED = new Set<string>([
  'tracepoint',
  'raw_tracepoint',
  'tracing',
  'lsm',
  'kprobe',
  'kretprobe',
  'ksyscall',
  'kretsyscall',
  'uprobe',
  'uretprobe',
  'usdt',
  'xdp',
  'tc',
  'tcx',
  'cgroup',
  'perf_event',
  'iter',
]);

/** Whether attach() attaches this program (libbpf's auto-attach, plus the targets given). */
export function attachable(sec: ResolvedSection, opts: AttachOptions | undefined): boolean {
  if (!ATTACHED.has(sec.attach)) return false;
  switch (sec.attach) {
    case 'tracing':
    case 'lsm':
    case 'iter':
      return true;
    case 'perf_event':
      return opts?.perfEvent !== undefined;
    default:
      return Boolean(opts?.target || sec.target);
  }
}

/** What attaching takes from the loaded object besides the program. */
export interface AttachContext {
  /** usdt.bpf.h's spec map of the object, if it has one (asked only by USDT programs). */
  usdtSpecs(): UsdtSpecTable | undefined;
}

/** Attaches one program: one link, or for USDT one per note of the probe in the binary. */
export function attachAny(
  name: string,
  progFd: number,
  sec: ResolvedSection,
  opts: AttachOptions = {},
  ctx?: AttachContext,
): Link[] {
  const target = opts.target ?? sec.target;
  const need = (what: string): string => requireTarget(name, sec, target, what);
  switch (sec.attach) {
    case 'xdp':
      return [xdpLink(name, progFd, need('network interface'), opts.flags)];
    case 'tcx':
    case 'tc':
      return [tcLink(name, progFd, sec, need('network interface'), opts)];
    case 'cgroup':
      return [cgroupLink(name, progFd, sec, need('cgroup v2 directory'), opts.flags)];
    case 'perf_event':
      if (!opts.perfEvent)
        throw errors.badOption(
          `program '${name}' (SEC("${sec.section}")) needs perfEvent: the event to sample`,
        );
      return [perfEventLink(name, progFd, opts.perfEvent)];
    case 'iter':
      return [iterLink(name, progFd, sec.target, opts.iter)];
    case 'usdt':
      return attachUsdt(name, progFd, need('binary:provider:probe'), opts, ctx?.usdtSpecs());
    default:
      return [attachProgram(name, progFd, sec, opts)];
  }
}
