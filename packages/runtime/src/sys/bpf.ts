/**
 * The bpf(2) commands the runtime uses, each packing its part of `union bpf_attr` by hand.
 *
 * Offsets are those of include/uapi/linux/bpf.h (checked against the installed
 * /usr/include/linux/bpf.h by bpf-abi.test.ts, which compiles offsetof() with gcc). All
 * fields are host-endian; pointers are 64-bit (`__aligned_u64`) whatever the architecture.
 * We pass `size = 144` (the 6.1 uapi size): newer kernels treat missing tail fields as zero,
 * older ones reject a larger size only when the extra bytes are non-zero.
 */
import { close as fsClose } from 'node:fs';
import { Errno, kernelError, verifierError } from './errors.ts';
import { featureError, type KernelFeature } from './errors-feature.ts';
import { libc } from './libc.ts';
import { NativeBuffer } from './native.ts';

export const BpfCmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  PROG_TEST_RUN: 10,
  OBJ_GET_INFO_BY_FD: 15,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  MAP_FREEZE: 22,
  LINK_CREATE: 28,
  ITER_CREATE: 33,
} as const;

export const ATTR_SIZE = 144;

/** Field offsets within `union bpf_attr`, per command's anonymous struct. */
export const AttrOffsets = {
  mapCreate: {
    map_type: 0,
    key_size: 4,
    value_size: 8,
    max_entries: 12,
    map_flags: 16,
    inner_map_fd: 20,
    numa_node: 24,
    map_name: 28, // char[16]
    map_ifindex: 44,
    btf_fd: 48,
    btf_key_type_id: 52,
    btf_value_type_id: 56,
    btf_vmlinux_value_type_id: 60,
    map_extra: 64, // u64
  },
  mapElem: { map_fd: 0, key: 8, value: 16, next_key: 16, flags: 24 },
  progLoad: {
    prog_type: 0,
    insn_cnt: 4,
    insns: 8,
    license: 16,
    log_level: 24,
    log_size: 28,
    log_buf: 32,
    kern_version: 40,
    prog_flags: 44,
    prog_name: 48, // char[16]
    prog_ifindex: 64,
    expected_attach_type: 68,
    prog_btf_fd: 72,
    func_info_rec_size: 76,
    func_info: 80,
    func_info_cnt: 88,
    line_info_rec_size: 92,
    line_info: 96,
    line_info_cnt: 104,
    attach_btf_id: 108,
    attach_prog_fd: 112,
    fd_array: 120,
  },
  btfLoad: { btf: 0, btf_log_buf: 8, btf_size: 16, btf_log_size: 20, btf_log_level: 24 },
  // tcx (6.6+, newer than the header the ABI test reads) overlays relative_fd u32 @16 and
  // expected_revision u64 @24 on iter_info / iter_info_len.
  linkCreate: {
    prog_fd: 0,
    target_fd: 4,
    attach_type: 8,
    flags: 12,
    target_btf_id: 16,
    bpf_cookie: 16,
    iter_info: 16,
    iter_info_len: 24,
  },
  rawTracepoint: { name: 0, prog_fd: 8 },
  info: { bpf_fd: 0, info_len: 4, info: 8 },
  test: {
    prog_fd: 0,
    retval: 4,
    data_size_in: 8,
    data_size_out: 12,
    data_in: 16,
    data_out: 24,
    repeat: 32,
    duration: 36,
    ctx_size_in: 40,
    ctx_size_out: 44,
    ctx_in: 48,
    ctx_out: 56,
    flags: 64,
    cpu: 68,
    batch_size: 72,
  },
  iterCreate: { link_fd: 0, flags: 4 },
} as const;

/** BPF_OBJ_NAME_LEN: names are truncated to 15 bytes plus NUL, as libbpf does. */
const OBJ_NAME_LEN = 16;

// One attr buffer for every command: calls are synchronous and never nest.
const attr = new NativeBuffer(ATTR_SIZE);
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fresh(): DataView {
  attr.bytes.fill(0);
  return attr.view;
}

function u64(v: DataView, off: number, value: bigint | number): void {
  v.setBigUint64(off, BigInt(value), LE);
}

function name16(off: number, name: string): void {
  const enc = new TextEncoder().encode(name).subarray(0, OBJ_NAME_LEN - 1);
  attr.bytes.set(enc, off);
}

/** Runs a command; returns its (non-negative) result or the errno as a negative number. */
function raw(cmd: number): number {
  const r = libc.bpf(cmd, attr.address, ATTR_SIZE);
  return r < 0 ? -libc.errno() : r;
}

function must(cmd: number, op: string, feature?: KernelFeature): number {
  const r = raw(cmd);
  if (r < 0) throw feature ? featureError(op, -r, feature) : kernelError(op, -r);
  return r;
}

export interface MapCreateAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  name?: string;
  innerMapFd?: number;
  numaNode?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  mapExtra?: bigint;
}

export function mapCreate(a: MapCreateAttr): number {
  const v = fresh();
  const o = AttrOffsets.mapCreate;
  v.setUint32(o.map_type, a.mapType, LE);
  v.setUint32(o.key_size, a.keySize, LE);
  v.setUint32(o.value_size, a.valueSize, LE);
  v.setUint32(o.max_entries, a.maxEntries, LE);
  v.setUint32(o.map_flags, a.mapFlags ?? 0, LE);
  v.setUint32(o.inner_map_fd, a.innerMapFd ?? 0, LE);
  v.setUint32(o.numa_node, a.numaNode ?? 0, LE);
  if (a.name) name16(o.map_name, a.name);
  v.setUint32(o.btf_fd, a.btfFd ?? 0, LE);
  v.setUint32(o.btf_key_type_id, a.btfKeyTypeId ?? 0, LE);
  v.setUint32(o.btf_value_type_id, a.btfValueTypeId ?? 0, LE);
  u64(v, o.map_extra, a.mapExtra ?? 0n);
  return must(BpfCmd.MAP_CREATE, `BPF_MAP_CREATE '${a.name ?? ''}'`, {
    what: 'map type',
    enumName: 'bpf_map_type',
    value: a.mapType,
  });
}

function elemAttr(fd: number, key: bigint, value: bigint, flags: number | bigint): void {
  const v = fresh();
  const o = AttrOffsets.mapElem;
  v.setUint32(o.map_fd, fd, LE);
  u64(v, o.key, key);
  u64(v, o.value, value);
  u64(v, o.flags, flags);
}

/** Looks up `key` (native address) into `value`; false when the key is absent. */
export function mapLookup(fd: number, key: bigint, value: bigint, flags = 0): boolean {
  elemAttr(fd, key, value, flags);
  const r = raw(BpfCmd.MAP_LOOKUP_ELEM);
  if (r === -Errno.ENOENT) return false;
  if (r < 0) throw kernelError('BPF_MAP_LOOKUP_ELEM', -r);
  return true;
}

/** BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2, BPF_F_LOCK = 4. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, F_LOCK: 4 } as const;

export function mapUpdate(fd: number, key: bigint, value: bigint, flags = 0): void {
  elemAttr(fd, key, value, flags);
  must(BpfCmd.MAP_UPDATE_ELEM, 'BPF_MAP_UPDATE_ELEM');
}

/** Deletes `key`; false when it was absent. */
export function mapDelete(fd: number, key: bigint): boolean {
  elemAttr(fd, key, 0n, 0);
  const r = raw(BpfCmd.MAP_DELETE_ELEM);
  if (r === -Errno.ENOENT) return false;
  if (r < 0) throw kernelError('BPF_MAP_DELETE_ELEM', -r);
  return true;
}

/** The key after `key` (0n: the first key) into `next`; false at the end. */
export function mapGetNextKey(fd: number, key: bigint, next: bigint): boolean {
  elemAttr(fd, key, next, 0);
  const r = raw(BpfCmd.MAP_GET_NEXT_KEY);
  if (r === -Errno.ENOENT) return false;
  if (r < 0) throw kernelError('BPF_MAP_GET_NEXT_KEY', -r);
  return true;
}

export function mapFreeze(fd: number): void {
  const v = fresh();
  v.setUint32(AttrOffsets.mapElem.map_fd, fd, LE);
  must(BpfCmd.MAP_FREEZE, 'BPF_MAP_FREEZE');
}

export interface ProgLoadAttr {
  progType: number;
  /** Instructions, 8 bytes each, host-endian. */
  insns: Uint8Array;
  license: string;
  name: string;
  kernVersion?: number;
  progFlags?: number;
  expectedAttachType?: number;
  progBtfFd?: number;
  /** bpf_func_info records (rec size 8) already rebased to this program's instructions. */
  funcInfo?: { recSize: number; bytes: Uint8Array };
  lineInfo?: { recSize: number; bytes: Uint8Array };
  attachBtfId?: number;
  attachBtfObjFd?: number;
  /** 1 = verifier log on failure (default), 2 = full; 0 = none. */
  logLevel?: number;
}

/** What a successful load returns; `fd` is the program. */
export interface LoadedProg {
  fd: number;
}

/**
 * BPF_PROG_LOAD. The first attempt carries no log buffer (the verifier is faster without);
 * on rejection it is repeated with a log, grown until the log fits, so the error carries the
 * verifier's full explanation. EAGAIN is retried as libbpf does (the verifier gives up on
 * signals).
 */
export function progLoad(a: ProgLoadAttr): number {
  const keep: NativeBuffer[] = [];
  try {
    const insns = NativeBuffer.from(a.insns);
    const license = NativeBuffer.cString(a.license);
    keep.push(insns, license);
    const fi = a.funcInfo && a.funcInfo.bytes.length > 0 ? NativeBuffer.from(a.funcInfo.bytes) : undefined;
    const li = a.lineInfo && a.lineInfo.bytes.length > 0 ? NativeBuffer.from(a.lineInfo.bytes) : undefined;
    if (fi) keep.push(fi);
    if (li) keep.push(li);
    const fill = (logBuf: NativeBuffer | undefined, logLevel: number): void => {
      const v = fresh();
      const o = AttrOffsets.progLoad;
      v.setUint32(o.prog_type, a.progType, LE);
      v.setUint32(o.insn_cnt, a.insns.length / 8, LE);
      u64(v, o.insns, insns.address);
      u64(v, o.license, license.address);
      if (logBuf) {
        v.setUint32(o.log_level, logLevel, LE);
        v.setUint32(o.log_size, logBuf.size, LE);
        u64(v, o.log_buf, logBuf.address);
      }
      v.setUint32(o.kern_version, a.kernVersion ?? 0, LE);
      v.setUint32(o.prog_flags, a.progFlags ?? 0, LE);
      name16(o.prog_name, a.name);
      v.setUint32(o.expected_attach_type, a.expectedAttachType ?? 0, LE);
      v.setUint32(o.prog_btf_fd, a.progBtfFd ?? 0, LE);
      if (fi && a.funcInfo) {
        v.setUint32(o.func_info_rec_size, a.funcInfo.recSize, LE);
        u64(v, o.func_info, fi.address);
        v.setUint32(o.func_info_cnt, a.funcInfo.bytes.length / a.funcInfo.recSize, LE);
      }
      if (li && a.lineInfo) {
        v.setUint32(o.line_info_rec_size, a.lineInfo.recSize, LE);
        u64(v, o.line_info, li.address);
        v.setUint32(o.line_info_cnt, a.lineInfo.bytes.length / a.lineInfo.recSize, LE);
      }
      v.setUint32(o.attach_btf_id, a.attachBtfId ?? 0, LE);
      v.setUint32(o.attach_prog_fd, a.attachBtfObjFd ?? 0, LE);
    };
    const op = `BPF_PROG_LOAD '${a.name}'`;
    const feature: KernelFeature = { what: 'program type', enumName: 'bpf_prog_type', value: a.progType };
    let r = -Errno.EAGAIN;
    for (let attempt = 0; attempt < 5 && r === -Errno.EAGAIN; attempt++) {
      fill(undefined, 0);
      r = raw(BpfCmd.PROG_LOAD);
    }
    if (r >= 0) return r;
    const logLevel = a.logLevel ?? 1;
    if (logLevel === 0 || (r !== -Errno.EACCES && r !== -Errno.EINVAL && r !== -Errno.E2BIG)) {
      throw featureError(op, -r, feature);
    }
    // Rejected: load again with a log to learn why. ENOSPC means the log was too small.
    for (let size = 1 << 20; size <= 1 << 28; size *= 4) {
      const log = new NativeBuffer(size);
      try {
        fill(log, logLevel);
        const r2 = raw(BpfCmd.PROG_LOAD);
        if (r2 >= 0) return r2; // accepted on the second try (a transient failure)
        if (r2 === -Errno.ENOSPC && size < 1 << 28) continue;
        const text = cString(log.bytes);
        if (text.length === 0) throw featureError(op, -r2, feature);
        throw verifierError(
          op,
          -r2,
          `${op} rejected by the verifier (${-r2 === Errno.EACCES ? 'EACCES' : `errno ${-r2}`})`,
          text,
        );
      } finally {
        log.free();
      }
    }
    throw featureError(op, -r, feature);
  } finally {
    for (const b of keep) b.free();
  }
}

/** BPF_BTF_LOAD; on rejection the kernel's BTF log is in the error. */
export function btfLoad(bytes: Uint8Array): number {
  const data = NativeBuffer.from(bytes);
  try {
    const fill = (log?: NativeBuffer): void => {
      const v = fresh();
      const o = AttrOffsets.btfLoad;
      u64(v, o.btf, data.address);
      v.setUint32(o.btf_size, bytes.length, LE);
      if (log) {
        u64(v, o.btf_log_buf, log.address);
        v.setUint32(o.btf_log_size, log.size, LE);
        v.setUint32(o.btf_log_level, 1, LE);
      }
    };
    fill();
    const r = raw(BpfCmd.BTF_LOAD);
    if (r >= 0) return r;
    if (r !== -Errno.EINVAL && r !== -Errno.EPERM) throw kernelError('BPF_BTF_LOAD', -r);
    const log = new NativeBuffer(1 << 20);
    try {
      fill(log);
      const r2 = raw(BpfCmd.BTF_LOAD);
      if (r2 >= 0) return r2;
      throw kernelError('BPF_BTF_LOAD', -r2, cString(log.bytes).trim().split('\n').slice(-8).join('\n'));
    } finally {
      log.free();
    }
  } finally {
    data.free();
  }
}

export interface LinkCreateAttr {
  progFd: number;
  targetFd?: number;
  attachType: number;
  flags?: number;
  targetBtfId?: number;
  /** perf_event links: a cookie readable with bpf_get_attach_cookie(). */
  cookie?: bigint;
  /** Iterator links: the `struct bpf_iter_link_info` bytes (a map fd, a cgroup, a task). */
  iterInfo?: Uint8Array;
  /** tcx links: the program or link the new one goes before/after (BPF_F_BEFORE/AFTER). */
  relativeFd?: number;
  /** tcx links: fail with ESTALE unless the hook's revision is still this one. */
  expectedRevision?: bigint;
}

export function linkCreate(a: LinkCreateAttr, what: string): number {
  const v = fresh();
  const o = AttrOffsets.linkCreate;
  v.setUint32(o.prog_fd, a.progFd, LE);
  v.setUint32(o.target_fd, a.targetFd ?? 0, LE);
  v.setUint32(o.attach_type, a.attachType, LE);
  v.setUint32(o.flags, a.flags ?? 0, LE);
  if (a.cookie !== undefined) u64(v, o.bpf_cookie, a.cookie);
  else if (a.targetBtfId) v.setUint32(o.target_btf_id, a.targetBtfId, LE);
  if (a.relativeFd !== undefined) v.setUint32(16, a.relativeFd, LE);
  if (a.expectedRevision !== undefined) u64(v, 24, a.expectedRevision);
  // The iterator info is read by the kernel during the call only.
  const info = a.iterInfo && a.iterInfo.length > 0 ? NativeBuffer.from(a.iterInfo) : undefined;
  try {
    if (info && a.iterInfo) {
      u64(v, o.iter_info, info.address);
      v.setUint32(o.iter_info_len, a.iterInfo.length, LE);
    }
    return must(BpfCmd.LINK_CREATE, `BPF_LINK_CREATE ${what}`);
  } finally {
    info?.free();
  }
}

/** BPF_RAW_TRACEPOINT_OPEN: `name` for raw tracepoints; null for tp_btf/fentry/fexit/lsm. */
export function rawTracepointOpen(name: string | null, progFd: number): number {
  const n = name === null ? undefined : NativeBuffer.cString(name);
  try {
    const v = fresh();
    u64(v, AttrOffsets.rawTracepoint.name, n?.address ?? 0n);
    v.setUint32(AttrOffsets.rawTracepoint.prog_fd, progFd, LE);
    return must(BpfCmd.RAW_TRACEPOINT_OPEN, `BPF_RAW_TRACEPOINT_OPEN ${name ?? ''}`);
  } finally {
    n?.free();
  }
}

/** BPF_OBJ_GET_INFO_BY_FD into a buffer of `size` bytes; returns the bytes the kernel filled. */
export function objGetInfo(fd: number, size: number): Uint8Array {
  const info = new NativeBuffer(size);
  try {
    const v = fresh();
    v.setUint32(AttrOffsets.info.bpf_fd, fd, LE);
    v.setUint32(AttrOffsets.info.info_len, size, LE);
    u64(v, AttrOffsets.info.info, info.address);
    must(BpfCmd.OBJ_GET_INFO_BY_FD, 'BPF_OBJ_GET_INFO_BY_FD');
    const len = Math.min(size, v.getUint32(AttrOffsets.info.info_len, LE));
    return info.bytes.slice(0, len);
  } finally {
    info.free();
  }
}

/** The id and type of a program, map or link (struct bpf_{prog,map,link}_info: type @0, id @4). */
export function objInfo(fd: number): { type: number; id: number; bytes: Uint8Array } {
  const b = objGetInfo(fd, 256);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { type: v.getUint32(0, LE), id: v.getUint32(4, LE), bytes: b };
}

export function cString(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

export function closeFd(fd: number): void {
  if (fd >= 0) libc.close(fd);
}

/**
 * closeFd on libuv's thread pool: closing a tracing link's fd waits in the kernel for RCU grace
 * periods (70-90 ms per tracepoint link here), during which the event loop stays free and
 * other closes proceed. Errors are ignored, as closeFd's are.
 */
export function closeFdAsync(fd: number): Promise<void> {
  return new Promise((resolve) => {
    if (fd < 0) resolve();
    else fsClose(fd, () => resolve());
  });
}

/** BPF_ITER_CREATE: a readable fd producing one pass of an iterator link's output. */
export function iterCreate(linkFd: number, what: string): number {
  const v = fresh();
  v.setUint32(AttrOffsets.iterCreate.link_fd, linkFd, LE);
  return must(BpfCmd.ITER_CREATE, `BPF_ITER_CREATE ${what}`);
}

/** BPF_F_TEST_RUN_ON_CPU: run on `cpu` (raw_tp only). */
export const TEST_RUN_ON_CPU = 1;

export interface TestRunAttr {
  progFd: number;
  data?: Uint8Array;
  /** Room for the packet the program leaves (it may grow it); 0 asks for none. */
  dataSizeOut: number;
  ctx?: Uint8Array;
  ctxSizeOut: number;
  /** The program writes its context back over ctx_in (syscall programs). */
  ctxInPlace?: boolean;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

export interface TestRunResult {
  retval: number;
  /** The packet as the program left it (empty for programs without packet data). */
  dataOut: Uint8Array;
  /** The context as the program left it (empty when none was asked for). */
  ctxOut: Uint8Array;
  /** Average run time per repetition, in nanoseconds, as the kernel measured it. */
  duration: number;
}

/**
 * BPF_PROG_TEST_RUN. Output buffers are given generously; ENOSPC (the program grew its packet
 * past them) is an error rather than a silently truncated packet.
 */
export function progTestRun(a: TestRunAttr, what: string): TestRunResult {
  const bufs: NativeBuffer[] = [];
  const native = (b: Uint8Array | undefined): NativeBuffer | undefined => {
    if (!b || b.length === 0) return undefined;
    const n = NativeBuffer.from(b);
    bufs.push(n);
    return n;
  };
  const room = (size: number): NativeBuffer | undefined => {
    if (size <= 0) return undefined;
    const n = new NativeBuffer(size);
    bufs.push(n);
    return n;
  };
  try {
    const dataIn = native(a.data);
    const ctxIn = native(a.ctx);
    const dataOut = room(a.dataSizeOut);
    const ctxOut = room(a.ctxSizeOut);
    const v = fresh();
    const o = AttrOffsets.test;
    v.setUint32(o.prog_fd, a.progFd, LE);
    if (dataIn && a.data) {
      v.setUint32(o.data_size_in, a.data.length, LE);
      u64(v, o.data_in, dataIn.address);
    }
    if (dataOut) {
      v.setUint32(o.data_size_out, dataOut.size, LE);
      u64(v, o.data_out, dataOut.address);
    }
    if (ctxIn && a.ctx) {
      v.setUint32(o.ctx_size_in, a.ctx.length, LE);
      u64(v, o.ctx_in, ctxIn.address);
    }
    if (ctxOut) {
      v.setUint32(o.ctx_size_out, ctxOut.size, LE);
      u64(v, o.ctx_out, ctxOut.address);
    }
    v.setUint32(o.repeat, a.repeat ?? 0, LE);
    v.setUint32(o.flags, a.flags ?? 0, LE);
    v.setUint32(o.cpu, a.cpu ?? 0, LE);
    must(BpfCmd.PROG_TEST_RUN, `BPF_PROG_TEST_RUN ${what}`);
    const dataLen = dataOut ? Math.min(dataOut.size, v.getUint32(o.data_size_out, LE)) : 0;
    const ctxLen = ctxOut ? Math.min(ctxOut.size, v.getUint32(o.ctx_size_out, LE)) : 0;
    return {
      retval: v.getUint32(o.retval, LE),
      dataOut: dataOut ? dataOut.bytes.slice(0, dataLen) : new Uint8Array(),
      ctxOut: ctxOut
        ? ctxOut.bytes.slice(0, ctxLen)
        : a.ctxInPlace && ctxIn
          ? ctxIn.bytes.slice()
          : new Uint8Array(),
      duration: v.getUint32(o.duration, LE),
    };
  } finally {
    for (const b of bufs) b.free();
  }
}
