// prog.run() (BPF_PROG_TEST_RUN) on the running kernel, for each program type it can run:
// test/fixtures/runtime-attach/run.bpf.c built with clang-19. Packet programs' results are
// checked against `bpftool prog run` on the same loaded program (same input files, same
// answers; bpftool always asks for one repetition, which raw_tp and syscall programs refuse,
// so those are checked against what their C says) and against the program's C.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BpfMap, type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { onlineCpus } from '../packages/runtime/src/sys/cpus.ts';
import { compileBpf, MULTIARCH } from './fixtures/clang.ts';

const work = mkdtempSync(join(tmpdir(), 'btfkit-prog-run-'));
type Programs = 'xdp_edge' | 'tc_mark' | 'sock_keep' | 'rawtp_sum' | 'syscall_sum';
let obj: LoadedObject<Record<string, BpfMap>, Programs>;

/** An Ethernet/IPv4/UDP frame to `dport` with `payload` (checksums left zero: nothing checks them). */
function udpFrame(dport: number, payload = 'hello'): Uint8Array {
  const body = new TextEncoder().encode(payload);
  const f = new Uint8Array(14 + 20 + 8 + body.length);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x01], 0); // destination MAC
  f.set([0x02, 0, 0, 0, 0, 0x02], 6); // source MAC
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, 20 + 8 + body.length);
  v.setUint8(22, 64); // ttl
  v.setUint8(23, 17); // UDP
  f.set([10, 0, 0, 1], 26);
  f.set([10, 0, 0, 2], 30);
  v.setUint16(34, 40000);
  v.setUint16(36, dport);
  v.setUint16(38, 8 + body.length);
  f.set(body, 42);
  return f;
}

/** `bpftool prog run` on the program with these input files: its return value and output files. */
function bpftoolRun(
  id: number,
  name: string,
  input: { data?: Uint8Array; ctx?: Uint8Array; ctxOut?: boolean },
): { retval: number; data?: Uint8Array; ctx?: Uint8Array } {
  const args = ['prog', 'run', 'id', String(id)];
  const file = (n: string): string => join(work, `${name}.${n}`);
  if (input.data) {
    writeFileSync(file('in'), input.data);
    args.push('data_in', file('in'), 'data_out', file('out'));
  }
  if (input.ctx) {
    writeFileSync(file('ctx'), input.ctx);
    args.push('ctx_in', file('ctx'));
    if (input.ctxOut) args.push('ctx_out', file('ctxout'));
  }
  const out = execFileSync('bpftool', args, { encoding: 'utf8' });
  const m = /Return value: (\d+)/.exec(out);
  if (!m) throw new Error(`bpftool prog run printed no return value:\n${out}`);
  return {
    retval: Number(m[1]),
    data: input.data ? new Uint8Array(readFileSync(file('out'))) : undefined,
    ctx: input.ctxOut ? new Uint8Array(readFileSync(file('ctxout'))) : undefined,
  };
}

/** sizeof(struct __sk_buff) and offsetof(mark), as gcc lays out the uapi header. */
function skbLayout(): { size: number; mark: number } {
  const src = join(work, 'skb.c');
  writeFileSync(
    src,
    '#include <stdio.h>\n#include <stddef.h>\n#include <linux/bpf.h>\n' +
      'int main(void){printf("%zu %zu", sizeof(struct __sk_buff), offsetof(struct __sk_buff, mark));return 0;}\n',
  );
  execFileSync('gcc', [`-I/usr/include/${MULTIARCH}`, '-o', join(work, 'skb'), src]);
  const [size, mark] = execFileSync(join(work, 'skb'), { encoding: 'utf8' }).split(' ').map(Number);
  return { size: size as number, mark: mark as number };
}

beforeAll(async () => {
  const o = compileBpf(
    join(import.meta.dirname, 'fixtures/runtime-attach/run.bpf.c'),
    join(work, 'run.bpf.o'),
  );
  obj = (await loadObject(new Uint8Array(readFileSync(o)), { file: 'run.bpf.o' })) as typeof obj;
});

afterAll(async () => {
  await obj?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('prog.run on xdp', () => {
  const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3 };

  it('passes, drops and bounces packets as bpftool prog run sees them', () => {
    const prog = obj.programs.xdp_edge;
    for (const [port, want] of [
      [80, XDP.PASS],
      [7001, XDP.DROP],
      [7002, XDP.TX],
    ] as const) {
      const frame = udpFrame(port);
      const r = prog.run(frame);
      const ref = bpftoolRun(prog.id, `xdp${port}`, { data: frame });
      expect(r.retval).toBe(want);
      expect(r.retval).toBe(ref.retval);
      expect(r.dataOut).toEqual(ref.data);
      expect(r.duration).toBeGreaterThanOrEqual(0);
    }
  });

  it('gives back the packet as the program rewrote it', () => {
    const frame = udpFrame(7002);
    const r = obj.programs.xdp_edge.run(frame);
    expect(r.retval).toBe(XDP.TX);
    expect(Array.from(r.dataOut.subarray(0, 6))).toEqual(Array.from(frame.subarray(6, 12)));
    expect(Array.from(r.dataOut.subarray(6, 12))).toEqual(Array.from(frame.subarray(0, 6)));
    expect(r.dataOut.subarray(12)).toEqual(frame.subarray(12));
  });

  it('gives back a packet the program grew', () => {
    const frame = udpFrame(7003);
    const r = obj.programs.xdp_edge.run(frame);
    expect(r.retval).toBe(XDP.PASS);
    expect(r.dataOut.length).toBe(frame.length + 4);
    expect(Array.from(r.dataOut.subarray(0, 4))).toEqual([0xb7, 0xf0, 0xb7, 0xf0]);
    expect(r.dataOut.subarray(4)).toEqual(frame);
    expect(r.dataOut).toEqual(bpftoolRun(obj.programs.xdp_edge.id, 'xdp7003', { data: frame }).data);
  });

  it('repeats a run', () => {
    const r = obj.programs.xdp_edge.run(udpFrame(7001), null, { repeat: 1000 });
    expect(r.retval).toBe(XDP.DROP);
  });

  it('refuses a packet shorter than an Ethernet header, before the kernel does', () => {
    expect(() => obj.programs.xdp_edge.run(new Uint8Array(10))).toThrow(/at least an Ethernet header/);
  });
});

describe('prog.run on tc (sched_cls)', () => {
  it('returns the verdict and the __sk_buff the program changed', () => {
    const { size, mark } = skbLayout();
    const ctx = new Uint8Array(size);
    new DataView(ctx.buffer).setUint32(mark, 41, true);
    const prog = obj.programs.tc_mark;
    for (const [port, verdict] of [
      [80, 0],
      [7001, 2],
    ] as const) {
      const frame = udpFrame(port);
      const r = prog.run(frame, ctx);
      const ref = bpftoolRun(prog.id, `tc${port}`, { data: frame, ctx, ctxOut: true });
      expect(r.retval).toBe(verdict);
      expect(r.retval).toBe(ref.retval);
      expect(r.dataOut).toEqual(ref.data);
      expect(r.ctxOut).toEqual(ref.ctx);
      expect(new DataView(r.ctxOut.buffer).getUint32(mark, true)).toBe(42);
    }
  });
});

describe('prog.run on a socket filter', () => {
  it('returns how much of the packet to keep (the kernel hands it over from L3)', () => {
    const prog = obj.programs.sock_keep;
    const keep = udpFrame(80, 'keep me');
    const r = prog.run(keep);
    expect(r.retval).toBe(keep.length - 14);
    expect(r.retval).toBe(bpftoolRun(prog.id, 'sock80', { data: keep }).retval);
    const drop = udpFrame(7001);
    expect(prog.run(drop).retval).toBe(0);
    expect(bpftoolRun(prog.id, 'sock7001', { data: drop }).retval).toBe(0);
  });
});

describe('prog.run on raw_tp', () => {
  const args = (a: bigint, b: bigint): Uint8Array => {
    const ctx = new Uint8Array(16);
    const v = new DataView(ctx.buffer);
    v.setBigUint64(0, a, true);
    v.setBigUint64(8, b, true);
    return ctx;
  };

  it('runs on the arguments given', () => {
    const prog = obj.programs.rawtp_sum;
    const ctx = args(40n, 2n);
    expect(prog.run(null, ctx).retval).toBe(42);
    expect(prog.run(null, args(2n ** 32n - 1n, 1n)).retval).toBe(0); // the int return value wraps
  });

  it('runs on the CPU asked for', () => {
    const cpus = onlineCpus();
    for (const cpu of [cpus[0], cpus[cpus.length - 1]] as number[]) {
      expect(obj.programs.rawtp_sum.run(null, args(1n, 2n), { cpu }).retval).toBe(3);
      expect(obj.global('data', 'last_cpu')).toBe(cpu);
    }
  });

  it('refuses a packet: raw_tp programs take only their arguments', () => {
    expect(() => obj.programs.rawtp_sum.run(udpFrame(80), args(1n, 2n))).toThrow(/takes no packet/);
  });
});

describe('prog.run on a syscall program', () => {
  it('gives back the context the program wrote', () => {
    const ctx = new Uint8Array(12);
    const v = new DataView(ctx.buffer);
    v.setInt32(0, 30, true);
    v.setInt32(4, 12, true);
    const r = obj.programs.syscall_sum.run(null, ctx);
    expect(r.retval).toBe(7);
    const out = new DataView(r.ctxOut.buffer, r.ctxOut.byteOffset);
    expect([out.getInt32(0, true), out.getInt32(4, true), out.getInt32(8, true)]).toEqual([30, 12, 42]);
    // The input stays as given.
    expect(v.getInt32(8, true)).toBe(0);
  });
});
