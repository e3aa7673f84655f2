// USDT end to end: a program with <sys/sdt.h> probes (systemtap-sdt-dev; with semaphores) built
// by gcc, and BPF programs written with libbpf's usdt.bpf.h. The notes we read agree with
// readelf's; attached, the probes deliver their arguments (registers, constants, stack), the
// argument count and the USDT cookie as usdt.bpf.h reads them, and the semaphore is raised
// while attached (the guarded probe fires only then).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeBtf, Kind } from '../packages/core/src/index.ts';
import { parseUsdtArgs, readUsdtNotes, UsdtArgType } from '../packages/runtime/src/attach/usdt.ts';
import { type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { compileBpf, TARGET_ARCH, writeVmlinuxH } from './fixtures/clang.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/runtime-libbpf');
const work = mkdtempSync(join(tmpdir(), 'btfkit-usdt-'));
const app = join(work, 'usdt_app');
let probe: Uint8Array;

beforeAll(() => {
  writeVmlinuxH(work);
  const obj = join(work, 'usdt_probe.bpf.o');
  compileBpf(join(FIXTURES, 'usdt_probe.bpf.c'), obj, { flags: [TARGET_ARCH, `-I${work}`] });
  probe = new Uint8Array(readFileSync(obj));
  execFileSync('gcc', ['-O1', '-o', app, join(FIXTURES, 'usdt_app.c')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('reads the .note.stapsdt notes readelf shows (provider, name, location, semaphore, arguments)', () => {
  const text = execFileSync('readelf', ['-n', app], { encoding: 'utf8' });
  const theirs = [
    ...text.matchAll(
      /Provider: (\S+)\s+Name: (\S+)\s+Location: 0x([0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: 0x([0-9a-f]+)\s+Arguments: ([^\n]*)/g,
    ),
  ].map((m) => ({
    provider: m[1],
    name: m[2],
    ip: Number.parseInt(m[3] as string, 16),
    sema: Number.parseInt(m[4] as string, 16) !== 0,
    args: (m[5] as string).trim(),
  }));
  expect(theirs.map((n) => n.name)).toEqual(['tick', 'consts', 'guarded']);
  const ours = readUsdtNotes(app).map((n) => ({
    provider: n.provider,
    name: n.name,
    ip: n.ip,
    sema: n.semaphoreOffset !== 0,
    args: n.args,
  }));
  expect(ours).toEqual(theirs);
});

function held(n: number): { child: ChildProcess; release: () => Promise<void> } {
  const child = spawn(app, [String(n)], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    child,
    release: async () => {
      child.stdin?.end('go\n');
      await exited;
    },
  };
}

function drain(
  obj: LoadedObject,
): { probe: number; a: bigint; b: bigint; c: bigint; args: number; cookie: bigint }[] {
  const out: { probe: number; a: bigint; b: bigint; c: bigint; args: number; cookie: bigint }[] = [];
  const rb = obj.ringbuf('hits');
  rb.consume((d) => {
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    out.push({
      a: v.getBigInt64(0, true),
      b: v.getBigInt64(8, true),
      c: v.getBigInt64(16, true),
      cookie: v.getBigUint64(24, true),
      args: v.getInt32(32, true),
      probe: v.getInt32(36, true),
    });
  });
  rb.close();
  return out;
}

it('delivers arguments, counts and cookies as usdt.bpf.h reads them; semaphores guard', async () => {
  const obj = await loadObject(probe, { file: 'usdt_probe.bpf.o' });
  try {
    const run = held(4);
    await obj.attach({
      programs: {
        on_tick: { target: `${app}:btfkit:tick`, cookie: 42, pid: run.child.pid as number },
        on_consts: { target: `${app}:btfkit:consts` },
        on_guarded: { target: `${app}:btfkit:guarded` },
      },
    });
    await run.release();
    expect(drain(obj)).toEqual([
      { probe: 0, a: 0n, b: 40n, c: 0n, args: 2, cookie: 42n },
      { probe: 0, a: 1n, b: 41n, c: 0n, args: 2, cookie: 42n },
      { probe: 0, a: 2n, b: 42n, c: 0n, args: 2, cookie: 42n },
      { probe: 1, a: 7n, b: -5n, c: 100000n, args: 3, cookie: 0n },
      // Read from the stack (-8@(%rsp)); fired because attaching raised its semaphore.
      { probe: 2, a: 4n, b: 0n, c: 0n, args: 1, cookie: 0n },
    ]);
  } finally {
    await obj.close();
  }
});

it('without the guarded probe attached its semaphore stays 0 and it does not fire', async () => {
  const obj = await loadObject(probe, { file: 'usdt_probe.bpf.o', programs: ['on_consts'] });
  try {
    const run = held(9);
    await obj.attach({ programs: { on_consts: { target: `${app}:btfkit:consts` } } });
    await run.release();
    expect(drain(obj).map((h) => h.probe)).toEqual([1]);
    await expect(
      obj.attach({ programs: { on_consts: { target: `${app}:btfkit:nope` } } }),
    ).rejects.toMatchObject({
      name: 'BtfkitError',
      message: expect.stringContaining('no USDT probe btfkit:nope'),
    });
  } finally {
    await obj.close();
  }
});

it("argument specs name the kernel's own pt_regs slots (offsets from /sys/kernel/btf/vmlinux)", () => {
  const vmlinux = decodeBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')), { validate: false });
  const id = vmlinux.byName('pt_regs').find((i) => vmlinux.type(i).kind === Kind.Struct) as number;
  const t = vmlinux.type(id);
  const slot = new Map<string, number>();
  if (t.kind === Kind.Struct) for (const m of t.members) slot.set(vmlinux.str(m.nameOff), m.bitOffset / 8);
  const cases: [string, string][] = [
    ['rax', 'ax'],
    ['eax', 'ax'],
    ['al', 'ax'],
    ['rdi', 'di'],
    ['edi', 'di'],
    ['rsi', 'si'],
    ['rdx', 'dx'],
    ['rcx', 'cx'],
    ['rbx', 'bx'],
    ['rbp', 'bp'],
    ['rsp', 'sp'],
    ['rip', 'ip'],
    ['r8', 'r8'],
    ['r9d', 'r9'],
    ['r12w', 'r12'],
    ['r15b', 'r15'],
  ];
  for (const [reg, member] of cases) {
    expect(parseUsdtArgs(`8@%${reg}`)[0]?.regOff, reg).toBe(slot.get(member));
  }
  // Sizes and signs as libbpf turns them into shifts; memory operands keep their offset.
  expect(parseUsdtArgs('-4@-20(%rbp) 2@$65535 -1@%al')).toEqual([
    { type: UsdtArgType.REG_DEREF, valOff: -20n, regOff: slot.get('bp'), signed: true, bitshift: 32 },
    { type: UsdtArgType.CONST, valOff: 65535n, regOff: 0, signed: false, bitshift: 48 },
    { type: UsdtArgType.REG, valOff: 0n, regOff: slot.get('ax'), signed: true, bitshift: 56 },
  ]);
  expect(() => parseUsdtArgs('8@%xmm0')).toThrow("USDT argument '8@%xmm0': unknown register %xmm0");
  expect(() => parseUsdtArgs('3@%rax')).toThrow("USDT argument '3@%rax': size 3");
});
