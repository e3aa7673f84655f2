export { type AttachOptions, Link, uprobeOffset } from './attach/attach.ts';
export { IterLink, type IterTarget } from './attach/iter.ts';
export { TcLink, TcxFlags, XdpFlags } from './attach/netdev.ts';
export { type PerfEventSpec, PerfSoftware } from './attach/perf-event.ts';
export { type LoadOptions, loadObject, loadObjectSync } from './loader/pipeline.ts';
export type { MapSettings } from './loader/preload.ts';
export { AttachType, ProgType, resolveSection, type SectionDef } from './loader/sections.ts';
export {
  BytesColumn,
  CharColumn,
  type Column,
  ColumnBatch,
  ColumnCodec,
} from './maps/columns.ts';
export { BpfMap, bytesCodec, type Codec, PerCpuMap } from './maps/map.ts';
export { PerfBuffer, type PerfBufferOptions, type PerfEvent } from './maps/perfbuf.ts';
export { RingBuffer, type RingBufferOptions } from './maps/ringbuf.ts';
export { LoadedObject, type LoadedProgram } from './object.ts';
export type { RunOptions, RunResult } from './program-run.ts';
export { KernelError, type KernelErrorKind } from './sys/errors.ts';
export { tracepointExists } from './sys/tracefs.ts';
