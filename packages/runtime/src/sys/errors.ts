/**
 * Failures the kernel reports (an errno from a syscall), turned into errors that say what was
 * being done and what usually fixes it. Input problems (a malformed object) are BtfkitErrors
 * from @btfkit/core; these are about the running system.
 */

import { explainEperm } from './capabilities.ts';

/** errno values of Linux (asm-generic/errno-base.h, errno.h) that the bpf paths produce. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ENOTSUPP: 524,
  EOPNOTSUPP: 95,
} as const;

const NAMES = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));

export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

export type KernelErrorKind =
  /** Missing capability (EPERM), or a limit that root lifts. */
  | 'PERMISSION'
  /** The kernel lacks the feature (EINVAL on an unknown command/type, ENOSYS, EOPNOTSUPP). */
  | 'UNSUPPORTED'
  /** The verifier rejected a program (its log is attached). */
  | 'VERIFIER'
  /** Something asked for does not exist (ENOENT: a tracepoint, a kernel function). */
  | 'NOT_FOUND'
  | 'OTHER';

/** An operation the kernel refused. `op` says what we were doing (`BPF_MAP_CREATE 'events'`). */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  constructor(
    readonly kind: KernelErrorKind,
    readonly op: string,
    readonly errno: number,
    message: string,
    /** For VERIFIER: the verifier's log, as the kernel wrote it. */
    readonly log?: string,
  ) {
    super(message);
  }
  get errnoName(): string {
    return errnoName(this.errno);
  }
}

/** The hint for an errno from a given kind of operation. */
function hint(op: string, errno: number): { kind: KernelErrorKind; text: string } {
  switch (errno) {
    case Errno.EPERM:
      // Worded from the process's capabilities: a missing one, else what else refuses.
      return { kind: 'PERMISSION', text: explainEperm(op).text };
    case Errno.EACCES:
      return { kind: 'PERMISSION', text: 'access denied (program rejected, or LSM/lockdown forbids it)' };
    case Errno.ENOSYS:
      return {
        kind: 'UNSUPPORTED',
        text: 'the kernel has no such system call (built without CONFIG_BPF_SYSCALL?)',
      };
    case Errno.EOPNOTSUPP:
    case Errno.ENOTSUPP:
      return { kind: 'UNSUPPORTED', text: 'the kernel does not support this operation' };
    case Errno.ENOENT:
      return { kind: 'NOT_FOUND', text: 'not found' };
    case Errno.E2BIG:
      return {
        kind: 'UNSUPPORTED',
        text: 'the kernel does not know some attribute (too new for this kernel?)',
      };
    case Errno.ENOMEM:
      return { kind: 'OTHER', text: 'out of memory (or RLIMIT_MEMLOCK too low on kernels before 5.11)' };
    case Errno.EMFILE:
      return { kind: 'OTHER', text: 'too many open files' };
    default:
      return { kind: 'OTHER', text: errnoName(errno) };
  }
}

/**
 * Builds the error for a failed syscall: `op failed: ERRNO: hint`, the hint given by the
 * caller (errors-feature.ts words EINVAL for calls naming a map or program type) or by errno.
 */
export function kernelError(
  op: string,
  errno: number,
  detail?: string,
  given?: { kind: KernelErrorKind; text: string },
): KernelError {
  const h = given ?? hint(op, errno);
  const msg = `${op} failed: ${errnoName(errno)}: ${h.text}${detail ? `\n${detail}` : ''}`;
  return new KernelError(h.kind, op, errno, msg);
}

export function verifierError(op: string, errno: number, message: string, log: string): KernelError {
  return new KernelError('VERIFIER', op, errno, message, log);
}
