// libbpf's pre-load controls and attach-time options, on the running kernel:
// - bpf_map__set_max_entries / set_value_size: libbpf-tools' capable (the corpus object) sizes
//   its stack map at run time; without that the kernel refuses the map (EINVAL), with it the
//   kernel's own view of the map (bpftool) shows the sizes given;
// - bpf_program__set_autoload: a program left out is not loaded (bpftool does not list it);
// - bpf_program__set_attach_target: a tp_btf program with a dummy target, pointed at
//   sched_process_exec at run time, counts our execs;
// - attach cookies: a tracepoint program reads the cookie given at attach time.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KernelError, loadObject } from '../packages/runtime/src/index.ts';
import { compileBpf, TARGET_ARCH, writeVmlinuxH } from './fixtures/clang.ts';

const ROOT = join(import.meta.dirname, '..');
const capable = new Uint8Array(readFileSync(join(ROOT, 'test/corpus/objects/capable.bpf.o')));
const work = mkdtempSync(join(tmpdir(), 'btfkit-preload-'));
const preloadObj = join(work, 'preload.bpf.o');
let preload: Uint8Array;

const bpftool = <T>(...args: string[]): T =>
  JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' })) as T;

function run(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, [], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve(c.pid as number));
  });
}

beforeAll(() => {
  writeVmlinuxH(work);
  compileBpf(join(ROOT, 'test/fixtures/runtime-libbpf/preload.bpf.c'), preloadObj, {
    flags: [TARGET_ARCH, `-I${work}`],
  });
  preload = new Uint8Array(readFileSync(preloadObj));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("capable's stack map: refused as the object has it, created with the sizes set before load", async () => {
  const err = await loadObject(capable, { file: 'capable.bpf.o' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KernelError);
  expect((err as KernelError).message).toBe(
    "BPF_MAP_CREATE 'stackmap' failed: EINVAL: the kernel refused the attributes given for BPF_MAP_TYPE_STACK_TRACE",
  );

  // What capable.c does: max_entries = stack storage size, value_size = depth * 8.
  const obj = await loadObject(capable, {
    file: 'capable.bpf.o',
    maps: { stackmap: { maxEntries: 1024, valueSize: 127 * 8 }, start: { maxEntries: 4096 } },
  });
  try {
    const shown = bpftool<{ id: number; name: string; max_entries: number; bytes_value: number }[]>(
      'map',
      'show',
    );
    const mine = (name: string) => {
      const m = obj.map(name);
      const info = shown.find((s) => s.name === name && s.id === objInfoId(m.fd));
      return info && { max_entries: info.max_entries, bytes_value: info.bytes_value };
    };
    expect(mine('stackmap')).toEqual({ max_entries: 1024, bytes_value: 1016 });
    expect(mine('start')?.max_entries).toBe(4096);
  } finally {
    await obj.close();
  }
});

/** The kernel id of a map fd, as /proc/self/fdinfo tells it. */
function objInfoId(fd: number): number {
  const m = /^map_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return Number(m?.[1]);
}

it('autoload false leaves a program out; bad names and sizes are BtfkitErrors', async () => {
  const obj = await loadObject(capable, {
    file: 'capable.bpf.o',
    maps: { stackmap: { maxEntries: 64, valueSize: 8 * 16 } },
    autoload: { kprobe__cap_capable_exit: false },
  });
  try {
    expect(Object.keys(obj.programs)).toEqual(['kprobe__cap_capable_entry']);
    const names = bpftool<{ id: number; name?: string }[]>('prog', 'show').map((p) => p.id);
    expect(names).toContain(obj.programs.kprobe__cap_capable_entry?.id);
  } finally {
    await obj.close();
  }
  await expect(
    loadObject(capable, { file: 'capable.bpf.o', autoload: { nope: false } }),
  ).rejects.toMatchObject({
    name: 'BtfkitError',
    message: expect.stringContaining(
      "autoload: 'nope' is not a program of the object (programs: kprobe__cap_capable_entry, kprobe__cap_capable_exit)",
    ),
  });
  await expect(
    loadObject(capable, { file: 'capable.bpf.o', maps: { stackmap: { maxEntries: 0 } } }),
  ).rejects.toMatchObject({
    name: 'BtfkitError',
    message: expect.stringContaining('maps.stackmap.maxEntries must be an integer from 1 to 2^32-1, got 0'),
  });
  await expect(
    loadObject(capable, { file: 'capable.bpf.o', attachTargets: { kprobe__cap_capable_entry: 'x' } }),
  ).rejects.toMatchObject({
    name: 'BtfkitError',
    message: expect.stringContaining('is not attached by BTF id'),
  });
});

it('set_attach_target: a tp_btf program with a dummy section target runs on the one given', async () => {
  // As the object says, the kernel has no such tracepoint.
  const bad = await loadObject(preload, {
    file: 'preload.bpf.o',
    programs: ['on_exec_btf'],
  }).catch((e: unknown) => e);
  expect(bad).toBeInstanceOf(KernelError);
  expect((bad as KernelError).message).toBe(
    "program 'on_exec_btf': the kernel's BTF has no typedef 'btf_trace_btfkit_dummy_target' to attach tp_btf/btfkit_dummy_target to",
  );

  const obj = await loadObject(preload, {
    file: 'preload.bpf.o',
    globals: { rodata: { target_ppid: process.pid } },
    attachTargets: { on_exec_btf: 'sched_process_exec' },
  });
  try {
    await obj.attach({ programs: { on_exec_btf: {}, on_exec_tp: { cookie: 0xfeedf00dcafen } } });
    for (let i = 0; i < 3; i++) await run('/bin/true');
    expect(obj.global('bss', 'btf_hits')).toBe(3n);
    expect(obj.global('bss', 'tp_hits')).toBe(3n);
    // The cookie given at attach time, read by bpf_get_attach_cookie().
    expect(obj.global('bss', 'tp_cookie')).toBe(0xfeedf00dcafen);
  } finally {
    await obj.close();
  }
});

it('a cookie on a link that cannot carry one is refused before anything is attached', async () => {
  const obj = await loadObject(preload, {
    file: 'preload.bpf.o',
    attachTargets: { on_exec_btf: 'sched_process_exec' },
  });
  try {
    await expect(obj.attach({ programs: { on_exec_btf: { cookie: 1 } } })).rejects.toMatchObject({
      name: 'BtfkitError',
      message: expect.stringContaining('attach cookies are carried by perf event links'),
    });
    expect(obj.links).toEqual([]);
  } finally {
    await obj.close();
  }
});

it('set_attach_target names the new target when the kernel has no such function or tracepoint', async () => {
  const err = await loadObject(preload, {
    file: 'preload.bpf.o',
    programs: ['on_exec_btf'],
    attachTargets: { on_exec_btf: 'btfkit_no_such_tracepoint' },
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KernelError);
  expect((err as KernelError).message).toBe(
    "program 'on_exec_btf': the kernel's BTF has no typedef 'btf_trace_btfkit_no_such_tracepoint' to attach tp_btf/btfkit_dummy_target to",
  );
  await expect(
    loadObject(preload, { file: 'preload.bpf.o', attachTargets: { on_exec_btf: 'two words' } }),
  ).rejects.toMatchObject({
    name: 'BtfkitError',
    message: expect.stringContaining("'two words' is not a function"),
  });
});
