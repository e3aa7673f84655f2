/**
 * tracefs and the dynamic PMUs: where tracepoint ids and the kprobe/uprobe perf types live.
 * tracefs may be unmounted on minimal systems; as root we mount it where the kernel expects it
 * (what `mount -t tracefs nodev /sys/kernel/tracing` does), since attaching a tracepoint needs
 * its id and only tracefs tells it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { KernelError, kernelError } from './errors.ts';
import { koffi } from './libc.ts';

const CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

let mountFn: ((src: string, target: string, type: string, flags: number, data: null) => number) | undefined;

let cached: string | undefined;

export function tracefsRoot(): string {
  if (cached) return cached;
  for (const dir of CANDIDATES) {
    if (existsSync(`${dir}/events`)) {
      cached = dir;
      return dir;
    }
  }
  const target = CANDIDATES[0] as string;
  if (existsSync(target)) {
    mountFn ??= koffi
      .load('libc.so.6')
      .func(
        'int mount(const char *src, const char *target, const char *type, unsigned long flags, void *data)',
      );
    if (mountFn('nodev', target, 'tracefs', 0, null) === 0 && existsSync(`${target}/events`)) {
      cached = target;
      return target;
    }
  }
  throw new KernelError(
    'UNSUPPORTED',
    'tracefs',
    2,
    'tracefs is not mounted and could not be mounted at /sys/kernel/tracing',
  );
}

/** The id of tracepoint `category/name` (tracefs events/<category>/<name>/id). */
export function tracepointId(category: string, name: string): number {
  const path = `${tracefsRoot()}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw kernelError(`tracepoint ${category}/${name}`, 2, `no ${path}: the kernel has no such tracepoint`);
  }
  return Number.parseInt(text.trim(), 10);
}

/** The perf type of a dynamic PMU (`kprobe`, `uprobe`). */
export function pmuType(pmu: 'kprobe' | 'uprobe'): number {
  const path = `/sys/bus/event_source/devices/${pmu}/type`;
  try {
    return Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    throw new KernelError(
      'UNSUPPORTED',
      `${pmu} PMU`,
      2,
      `${pmu}s are not available on this kernel (no ${path}; built without CONFIG_${pmu.toUpperCase()}S?)`,
    );
  }
}

/** The config bit that makes a kprobe/uprobe a return probe (format/retprobe: `config:N`). */
export function retprobeBit(pmu: 'kprobe' | 'uprobe'): number {
  try {
    const text = readFileSync(`/sys/bus/event_source/devices/${pmu}/format/retprobe`, 'utf8');
    const m = /config:(\d+)/.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Whether the kernel has tracepoint `category/name` (libbpf-tools' tracepoint_exists). */
export function tracepointExists(category: string, name: string): boolean {
  return existsSync(`${tracefsRoot()}/events/${category}/${name}`);
}
