/**
 * perf_event_open(2) for the events BPF programs attach to, and the perf ioctls.
 *
 * `struct perf_event_attr` (uapi linux/perf_event.h), the fields used:
 *   type u32 @0, size u32 @4, config u64 @8, sample_period u64 @16, sample_type u64 @24,
 *   read_format u64 @32, flag bits u64 @40 (bit 0 disabled, bit 10 freq: sample_period is
 *   a frequency), wakeup_events u32 @48,
 *   bp_type u32 @52, config1 u64 @56 (kprobe_func / uprobe_path), config2 u64 @64
 *   (probe offset). We pass size 128 (PERF_ATTR_SIZE_VER7).
 */
import { kernelError } from './errors.ts';
import { libc } from './libc.ts';
import { NativeBuffer } from './native.ts';

export const PerfType = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2 } as const;
export const PERF_COUNT_SW_BPF_OUTPUT = 10;
export const PERF_SAMPLE_RAW = 1 << 10;
export const PERF_FLAG_FD_CLOEXEC = 8;

/** _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32). */
export const PerfIoctl = { ENABLE: 0x2400, DISABLE: 0x2401, SET_BPF: 0x40042408 } as const;

const ATTR_SIZE = 128;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface PerfEventAttr {
  type: number;
  config: bigint | number;
  config1?: bigint;
  config2?: bigint;
  samplePeriod?: number;
  sampleType?: number;
  wakeupEvents?: number;
  disabled?: boolean;
  /** samplePeriod is a frequency (samples per second), as `perf record -F`. */
  freq?: boolean;
}

export function perfEventOpen(a: PerfEventAttr, pid: number, cpu: number, what: string): number {
  const attr = new NativeBuffer(ATTR_SIZE);
  try {
    const v = attr.view;
    v.setUint32(0, a.type, LE);
    v.setUint32(4, ATTR_SIZE, LE);
    v.setBigUint64(8, BigInt(a.config), LE);
    v.setBigUint64(16, BigInt(a.samplePeriod ?? 0), LE);
    v.setBigUint64(24, BigInt(a.sampleType ?? 0), LE);
    v.setBigUint64(40, (a.disabled ? 1n : 0n) | (a.freq ? 1n << 10n : 0n), LE);
    v.setUint32(48, a.wakeupEvents ?? 0, LE);
    v.setBigUint64(56, a.config1 ?? 0n, LE);
    v.setBigUint64(64, a.config2 ?? 0n, LE);
    const fd = libc.perfEventOpen(attr.address, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) throw kernelError(`perf_event_open ${what}`, libc.errno());
    return fd;
  } finally {
    attr.free();
  }
}

export function perfIoctl(fd: number, req: number, arg: number, what: string): void {
  if (libc.ioctl(fd, req, arg) < 0) throw kernelError(`ioctl ${what}`, libc.errno());
}
