// libbpf's own __kconfig externs (LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER): the ksyscall
// repro of issue 13, compiled by clang-19 against this kernel's vmlinux.h, loads with libbpf and
// with us, and both loaders put the same bytes in its .kconfig map (libbpf's side printed by
// test/fixtures/runtime-libbpf/kconfig-dump.c, built here against Debian's libbpf).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MapType } from '../packages/runtime/src/deps.ts';
import { KernelError, loadObject } from '../packages/runtime/src/index.ts';
import { compileBpf, TARGET_ARCH, writeVmlinuxH } from './fixtures/clang.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/runtime-libbpf');
const work = mkdtempSync(join(tmpdir(), 'btfkit-externs-'));
const object = join(work, 'ksyscall_kill.bpf.o');
const dumper = join(work, 'kconfig-dump');

beforeAll(() => {
  writeVmlinuxH(work);
  compileBpf(join(FIXTURES, 'ksyscall_kill.bpf.c'), object, {
    flags: [TARGET_ARCH, `-I${work}`],
  });
  execFileSync('gcc', ['-O1', '-o', dumper, join(FIXTURES, 'kconfig-dump.c'), '-l:libbpf.a', '-lelf', '-lz']);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('loads the ksyscall/kill repro with the .kconfig values libbpf gives it', async () => {
  const libbpf = execFileSync(dumper, [object], { encoding: 'utf8' }).trim();
  const obj = await loadObject(new Uint8Array(readFileSync(object)), { file: object });
  try {
    const kcfg = obj.map('.kconfig');
    expect(kcfg.type).toBe(MapType.ARRAY);
    const ours = obj.map<Uint8Array, Uint8Array>('.kconfig');
    const raw = ours.lookup(new Uint8Array(4));
    expect(Buffer.from(raw as Uint8Array).toString('hex')).toBe(libbpf);
    // Two bools, sorted by name: this kernel has bpf cookies; without kprobes libbpf's wrapper
    // probe cannot make its kprobe, so the answer is no.
    expect(libbpf).toBe('0100');
  } finally {
    await obj.close();
  }
});

it('attaching ksyscall/kill names why it cannot: no kprobe PMU here', async () => {
  const obj = await loadObject(new Uint8Array(readFileSync(object)), { file: object });
  try {
    const err = await obj.attach().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).kind).toBe('UNSUPPORTED');
    expect((err as KernelError).message).toBe(
      'kprobes are not available on this kernel (no /sys/bus/event_source/devices/kprobe/type; built without CONFIG_KPROBES?)',
    );
    expect(obj.links).toEqual([]);
  } finally {
    await obj.close();
  }
});
