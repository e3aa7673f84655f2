/**
 * perf_event programs on events opened here, one per CPU, the way libbpf-tools' `profile`
 * samples: a software cpu-clock event at a frequency on every online CPU, each carrying the
 * program (a perf link, or PERF_EVENT_IOC_SET_BPF on older kernels).
 */
import { errors } from '../deps.ts';
import { closeFd } from '../sys/bpf.ts';
import { onlineCpus } from '../sys/cpus.ts';
import { PerfType, perfEventOpen } from '../sys/perf.ts';
import { Link, perfLink } from './attach.ts';

/** PERF_COUNT_SW_* (uapi linux/perf_event.h), the software events one samples with. */
export const PerfSoftware = { CPU_CLOCK: 0, TASK_CLOCK: 1 } as const;

export interface PerfEventSpec {
  /** PERF_TYPE_*: 'software' (default), 'hardware', or the number. */
  type?: 'software' | 'hardware' | number;
  /** The event within the type (default PERF_COUNT_SW_CPU_CLOCK). */
  config?: number;
  /** Samples per second (as profile's -F); or… */
  frequency?: number;
  /** …one sample every `period` events. */
  period?: number;
  /** Only this process (default: every process). */
  pid?: number;
  /** CPUs to open the event on (default: every online CPU). */
  cpus?: number[];
}

export function perfEventLink(name: string, progFd: number, spec: PerfEventSpec): Link {
  if (spec.frequency === undefined && spec.period === undefined)
    throw errors.badOption(`program '${name}': a perf_event program needs perfEvent.frequency or .period`);
  const type =
    spec.type === 'hardware'
      ? PerfType.HARDWARE
      : spec.type === undefined || spec.type === 'software'
        ? PerfType.SOFTWARE
        : spec.type;
  const config = spec.config ?? PerfSoftware.CPU_CLOCK;
  const cpus = spec.cpus ?? onlineCpus();
  const what = `perf_event type ${type} config ${config}`;
  const fds: number[] = [];
  try {
    for (const cpu of cpus) {
      const pfd = perfEventOpen(
        {
          type,
          config,
          samplePeriod: spec.frequency ?? spec.period,
          freq: spec.frequency !== undefined,
        },
        spec.pid ?? -1,
        cpu,
        `${what} cpu ${cpu}`,
      );
      fds.push(...perfLink(name, 'perf_event', `${what} cpu ${cpu}`, progFd, pfd).release());
    }
  } catch (e) {
    for (const fd of fds) closeFd(fd);
    throw e;
  }
  return new Link(name, 'perf_event', what, fds);
}
