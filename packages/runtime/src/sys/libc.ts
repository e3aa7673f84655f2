/**
 * The few libc entry points the runtime needs, bound once through koffi.
 *
 * bpf(2) and perf_event_open(2) have no libc wrapper, so they go through `syscall()`. It is
 * declared with a fixed prototype (four integer arguments) rather than as variadic: on the
 * Linux ABIs we support (x86_64 SysV, AAPCS64) integer arguments of a variadic call travel in
 * the same registers as a fixed one, and a fixed prototype lets koffi skip per-call type
 * parsing, which matters for map lookups in loops. Pointers are passed as integer addresses
 * of native memory (see native.ts), never as JS buffers, because the kernel reads pointers
 * *inside* bpf_attr too and those must stay valid and unmoved.
 */
import { createRequire } from 'node:module';
import { arch } from 'node:os';

// koffi ships as CommonJS with a prebuilt binary; load it the way it expects.
const require = createRequire(import.meta.url);
export const koffi = require('koffi') as typeof import('koffi');

/** Syscall numbers per architecture (uapi asm/unistd*.h; arm64 and riscv64 use the generic table). */
const SYSCALLS: Record<string, { bpf: number; perfEventOpen: number }> = {
  x64: { bpf: 321, perfEventOpen: 298 },
  arm64: { bpf: 280, perfEventOpen: 241 },
  riscv64: { bpf: 280, perfEventOpen: 241 },
  loong64: { bpf: 280, perfEventOpen: 241 },
  ia32: { bpf: 357, perfEventOpen: 336 },
  arm: { bpf: 386, perfEventOpen: 364 },
  s390x: { bpf: 351, perfEventOpen: 331 },
  ppc64: { bpf: 361, perfEventOpen: 319 },
};

const nrs = SYSCALLS[arch()];
export const SYS_bpf = nrs?.bpf ?? -1;
export const SYS_perf_event_open = nrs?.perfEventOpen ?? -1;
export const SUPPORTED_ARCH = nrs !== undefined;

const lib = koffi.load('libc.so.6');

/** `long syscall(long nr, a1, a2, a3)`: bpf(cmd, attr, size) and friends. */
const syscall4 = lib.func('long syscall(long nr, long a1, uint64_t a2, uint64_t a3)');
/** perf_event_open(attr, pid, cpu, group_fd, flags): five arguments after the number. */
const syscall6 = lib.func('long syscall(long nr, uint64_t a1, long a2, long a3, long a4, unsigned long a5)');

export const libc = {
  close: lib.func('int close(int fd)') as (fd: number) => number,
  ioctl: lib.func('int ioctl(int fd, unsigned long req, unsigned long arg)') as (
    fd: number,
    req: number,
    arg: number | bigint,
  ) => number,
  mmap: lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)') as (
    addr: null,
    len: number,
    prot: number,
    flags: number,
    fd: number,
    off: number,
  ) => unknown,
  munmap: lib.func('int munmap(void *addr, size_t len)') as (addr: unknown, len: number) => number,
  epollCreate1: lib.func('int epoll_create1(int flags)') as (flags: number) => number,
  epollCtl: lib.func('int epoll_ctl(int epfd, int op, int fd, uint64_t event)') as unknown as (
    epfd: number,
    op: number,
    fd: number,
    event: bigint,
  ) => number,
  epollWait: lib.func('int epoll_wait(int epfd, uint64_t events, int max, int timeout)') as unknown as (
    epfd: number,
    events: bigint,
    max: number,
    timeoutMs: number,
  ) => number,
  bpf(cmd: number, attr: bigint, size: number): number {
    return Number(syscall4(SYS_bpf, cmd, attr, size));
  },
  perfEventOpen(attr: bigint, pid: number, cpu: number, groupFd: number, flags: number): number {
    return Number(syscall6(SYS_perf_event_open, attr, pid, cpu, groupFd, flags));
  },
  errno(): number {
    return koffi.errno();
  },
  socket: lib.func('int socket(int domain, int type, int protocol)') as (
    d: number,
    t: number,
    p: number,
  ) => number,
  send: lib.func('long send(int fd, uint64_t buf, size_t len, int flags)') as unknown as (
    fd: number,
    buf: bigint,
    len: number,
    flags: number,
  ) => number,
  recv: lib.func('long recv(int fd, uint64_t buf, size_t len, int flags)') as unknown as (
    fd: number,
    buf: bigint,
    len: number,
    flags: number,
  ) => number,
  /** if_nametoindex(3): the index of a network interface in this process's network namespace (0: none). */
  ifNameToIndex: lib.func('unsigned int if_nametoindex(const char *name)') as (name: string) => number,
};
