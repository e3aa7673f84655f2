// bpf(2), perf_event_open(2) and the fd bookkeeping against the running kernel, cross-checked
// with bpftool.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  closeFd,
  linkCreate,
  mapCreate,
  mapDelete,
  mapGetNextKey,
  mapLookup,
  mapUpdate,
  objInfo,
  progLoad,
} from './bpf.ts';
import { KernelError } from './errors.ts';
import { NativeBuffer } from './native.ts';
import { PerfIoctl, PerfType, perfEventOpen, perfIoctl } from './perf.ts';
import { tracepointId } from './tracefs.ts';

const fdCount = (): number => readdirSync('/proc/self/fd').length;
const bpftool = (...args: string[]): unknown =>
  JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }));

/** `r0 = imm; exit`: the smallest valid program. */
function retImm(imm: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[0] = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
  v.setInt32(4, imm, true);
  b[8] = 0x95; // BPF_JMP | BPF_EXIT
  return b;
}

describe('bpf(2) through koffi', () => {
  it('creates a hash map and reads back what it wrote, as bpftool sees it', () => {
    const before = fdCount();
    const fd = mapCreate({ mapType: 1, keySize: 4, valueSize: 8, maxEntries: 16, name: 'btfkit_test_map' });
    try {
      const { id } = objInfo(fd);
      const shown = bpftool('map', 'show', 'id', String(id)) as {
        type: string;
        name: string;
        max_entries: number;
      };
      expect(shown).toMatchObject({ type: 'hash', name: 'btfkit_test_map', max_entries: 16 });
      const key = new NativeBuffer(4);
      const val = new NativeBuffer(8);
      for (let k = 1; k <= 3; k++) {
        key.view.setUint32(0, k, true);
        val.view.setBigUint64(0, BigInt(k * 1000), true);
        mapUpdate(fd, key.address, val.address);
      }
      const dumped = bpftool('map', 'dump', 'id', String(id)) as { key: string[]; value: string[] }[];
      expect(dumped.length).toBe(3);
      key.view.setUint32(0, 2, true);
      expect(mapLookup(fd, key.address, val.address)).toBe(true);
      expect(val.view.getBigUint64(0, true)).toBe(2000n);
      expect(mapDelete(fd, key.address)).toBe(true);
      expect(mapDelete(fd, key.address)).toBe(false);
      expect(mapLookup(fd, key.address, val.address)).toBe(false);
      const seen: number[] = [];
      const next = new NativeBuffer(4);
      let cur = 0n;
      while (mapGetNextKey(fd, cur, next.address)) {
        seen.push(next.view.getUint32(0, true));
        key.bytes.set(next.bytes);
        cur = key.address;
      }
      expect(seen.sort()).toEqual([1, 3]);
      key.free();
      val.free();
      next.free();
    } finally {
      closeFd(fd);
    }
    expect(fdCount()).toBe(before);
  });

  it('loads a tracepoint program, links it to a tracepoint, and leaves nothing after close', () => {
    const before = fdCount();
    const prog = progLoad({ progType: 5, insns: retImm(0), license: 'GPL', name: 'btfkit_smoke' });
    const { id } = objInfo(prog);
    const shown = bpftool('prog', 'show', 'id', String(id)) as { type: string; name: string };
    expect(shown).toMatchObject({ type: 'tracepoint', name: 'btfkit_smoke' });
    const pfd = perfEventOpen(
      { type: PerfType.TRACEPOINT, config: tracepointId('syscalls', 'sys_enter_getpid') },
      -1,
      0,
      'tp',
    );
    const link = linkCreate({ progFd: prog, targetFd: pfd, attachType: 41 /* BPF_PERF_EVENT */ }, 'tp');
    perfIoctl(pfd, PerfIoctl.ENABLE, 0, 'enable');
    const links = bpftool('link', 'list') as { prog_id: number }[];
    expect(links.some((l) => l.prog_id === id)).toBe(true);
    closeFd(link);
    closeFd(pfd);
    closeFd(prog);
    expect(fdCount()).toBe(before);
    const after = bpftool('prog', 'list') as { id: number }[];
    expect(after.some((p) => p.id === id)).toBe(false);
  });

  it('hands back the verifier log when a program is rejected', () => {
    const exitOnly = new Uint8Array(8);
    exitOnly[0] = 0x95; // exit without setting r0
    let err: unknown;
    try {
      progLoad({ progType: 5, insns: exitOnly, license: 'GPL', name: 'btfkit_bad' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).kind).toBe('VERIFIER');
    expect((err as KernelError).log).toMatch(/R0 !read_ok/);
  });

  it('reports a missing tracepoint as NOT_FOUND', () => {
    expect(() => tracepointId('syscalls', 'sys_enter_no_such_call')).toThrow(/no such tracepoint/);
  });
});
