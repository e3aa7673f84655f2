/**
 * prog.run(): BPF_PROG_TEST_RUN, the kernel running a loaded program once (or `repeat` times)
 * on a packet and/or context given from JavaScript — how BPF programs are unit-tested without
 * attaching them anywhere. What each program type takes follows the kernel's test_run
 * handlers (net/bpf/test_run.c): packet programs a packet of at least an Ethernet header and
 * optionally their context struct (xdp_md, __sk_buff); raw_tp its u64 arguments, optionally on
 * one CPU; syscall programs a context they may write back.
 */
import { errors } from './deps.ts';
import { ProgType, type ResolvedSection } from './loader/sections.ts';
import { progTestRun, TEST_RUN_ON_CPU, type TestRunResult } from './sys/bpf.ts';

export interface RunOptions {
  /** Run this many times (the duration is the average); packet programs only. */
  repeat?: number;
  /** raw_tp: run on this CPU (BPF_F_TEST_RUN_ON_CPU). */
  cpu?: number;
  /** Room for the packet the program leaves (default: the input's size + 4 KiB, for programs that grow it). */
  dataSizeOut?: number;
  /** Room for the context the program leaves (default: 1 KiB when a context is given; the kernel says how much it filled). */
  ctxSizeOut?: number;
}

export type RunResult = TestRunResult;

/** Program types whose test run takes a packet (data_in). */
const PACKET = new Set<number>([
  ProgType.SOCKET_FILTER,
  ProgType.SCHED_CLS,
  ProgType.SCHED_ACT,
  ProgType.XDP,
  ProgType.CGROUP_SKB,
  ProgType.LWT_IN,
  ProgType.LWT_OUT,
  ProgType.LWT_XMIT,
  ProgType.LWT_SEG6LOCAL,
  ProgType.FLOW_DISSECTOR,
]);

/** Program types whose test run takes only a context. */
const CONTEXT_ONLY = new Set<number>([
  ProgType.RAW_TRACEPOINT,
  ProgType.SYSCALL,
  ProgType.SK_LOOKUP,
  ProgType.TRACING,
  ProgType.NETFILTER,
]);

export function runProgram(
  name: string,
  fd: number,
  def: ResolvedSection,
  data: Uint8Array | null | undefined,
  ctx: Uint8Array | null | undefined,
  opts: RunOptions = {},
): RunResult {
  const t = def.progType;
  const what = `'${name}' (SEC("${def.section}"))`;
  if (!PACKET.has(t) && !CONTEXT_ONLY.has(t))
    throw errors.unsupported(`program ${what}: the kernel has no test run for this program type`);
  if (CONTEXT_ONLY.has(t) && data && data.length > 0)
    throw errors.badOption(`program ${what} takes no packet, only a context`);
  if (PACKET.has(t) && (!data || data.length < 14))
    throw errors.badOption(`program ${what} needs a packet of at least an Ethernet header (14 bytes)`);
  if (opts.cpu !== undefined && t !== ProgType.RAW_TRACEPOINT)
    throw errors.badOption(`program ${what}: only raw_tp programs run on a chosen CPU`);
  if (opts.repeat && (t === ProgType.RAW_TRACEPOINT || t === ProgType.SYSCALL))
    throw errors.badOption(`program ${what}: raw_tp and syscall programs run once (no repeat)`);
  const packet = PACKET.has(t) ? (data as Uint8Array) : undefined;
  return progTestRun(
    {
      progFd: fd,
      data: packet,
      dataSizeOut: packet ? (opts.dataSizeOut ?? packet.length + 4096) : 0,
      ctx: ctx ?? undefined,
      // raw_tp refuses ctx_out; syscall programs write their context back over ctx_in.
      ctxSizeOut: PACKET.has(t) ? (opts.ctxSizeOut ?? (ctx ? Math.max(ctx.length, 1024) : 0)) : 0,
      ctxInPlace: t === ProgType.SYSCALL,
      repeat: opts.repeat,
      flags: opts.cpu !== undefined ? TEST_RUN_ON_CPU : 0,
      cpu: opts.cpu,
    },
    what,
  );
}
