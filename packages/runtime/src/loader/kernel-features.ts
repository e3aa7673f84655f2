/**
 * The kernel features libbpf probes for and exposes to BPF code as `__kconfig` externs
 * (`LINUX_HAS_BPF_COOKIE`, `LINUX_HAS_SYSCALL_WRAPPER`, used by usdt.bpf.h and BPF_KSYSCALL).
 * Each is found out the way libbpf finds it out, so the same object takes the same branches
 * under both loaders. Probed once per process.
 */
import { arch } from 'node:os';
import { closeFd, progLoad } from '../sys/bpf.ts';
import { KernelError } from '../sys/errors.ts';
import { NativeBuffer } from '../sys/native.ts';
import { perfEventOpen } from '../sys/perf.ts';
import { pmuType } from '../sys/tracefs.ts';
import { CALL_CODE, EXIT_CODE } from './insn.ts';
import { ProgType } from './sections.ts';

const BPF_FUNC_get_attach_cookie = 174;

let cookie: boolean | undefined;
let wrapper: boolean | undefined;

/**
 * bpf_get_attach_cookie() is callable from tracing programs: libbpf loads a two-instruction
 * tracepoint program calling it (`call 174; exit`); the verifier refuses unknown helpers.
 */
export function hasBpfCookie(): boolean {
  if (cookie === undefined) {
    const insns = new Uint8Array(16);
    const v = new DataView(insns.buffer);
    insns[0] = CALL_CODE;
    v.setInt32(4, BPF_FUNC_get_attach_cookie, true);
    insns[8] = EXIT_CODE;
    try {
      closeFd(progLoad({ progType: ProgType.TRACEPOINT, insns, license: 'GPL', name: '', logLevel: 0 }));
      cookie = true;
    } catch (e) {
      if (!(e instanceof KernelError) || e.kind === 'PERMISSION') throw e;
      cookie = false;
    }
  }
  return cookie;
}

/** The arch part of syscall wrapper names (`__x64_sys_bpf`), as libbpf's arch_specific_syscall_pfx. */
export function syscallPrefix(): string | undefined {
  switch (arch()) {
    case 'x64':
      return 'x64';
    case 'ia32':
      return 'ia32';
    case 'arm64':
      return 'arm64';
    case 'arm':
      return 'arm';
    case 's390x':
      return 's390';
    case 'ppc64':
      return 'powerpc';
    case 'riscv64':
      return 'riscv';
    default:
      return undefined;
  }
}

/**
 * Whether syscalls enter through arch wrappers (`__x64_sys_kill`), so that ksyscall programs
 * must read arguments from the inner pt_regs. libbpf asks the kernel to make a kprobe on
 * `__<arch>_sys_bpf` (through the kprobe PMU, else tracefs kprobe_events); when it cannot make
 * one — as on kernels without kprobes — the answer is no, and so it is here. Creating the
 * legacy tracefs event is not attempted: a kernel without the kprobe PMU has no kprobe_events
 * file either (both come from CONFIG_KPROBE_EVENTS).
 */
export function hasSyscallWrapper(): boolean {
  if (wrapper === undefined) {
    const pfx = syscallPrefix();
    wrapper = false;
    if (pfx) {
      let type: number | undefined;
      try {
        type = pmuType('kprobe');
      } catch {
        type = undefined;
      }
      if (type !== undefined) {
        try {
          closeFd(kprobeEvent(type, `__${pfx}_sys_bpf`));
          wrapper = true;
        } catch {
          wrapper = false;
        }
      }
    }
  }
  return wrapper;
}

function kprobeEvent(type: number, func: string): number {
  const buf = NativeBuffer.cString(func);
  try {
    return perfEventOpen({ type, config: 0n, config1: buf.address }, process.pid, -1, `kprobe ${func}`);
  } finally {
    buf.free();
  }
}
