// EPERM is worded from what the process holds: as root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN in
// CapEff) this kernel still refuses fentry programs — libbpf's load fails the same way — and the
// error says that the kernel refuses although the capabilities are there, with the errno.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KernelError, loadObject } from '../packages/runtime/src/index.ts';
import {
  Cap,
  effectiveCaps,
  explainEperm,
  hasCap,
  lockdownMode,
} from '../packages/runtime/src/sys/capabilities.ts';
import { compileBpf, TARGET_ARCH, writeVmlinuxH } from './fixtures/clang.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/runtime-libbpf');
const work = mkdtempSync(join(tmpdir(), 'btfkit-eperm-'));
const object = join(work, 'fentry_nanosleep.bpf.o');
const libbpfLoader = join(work, 'kconfig-dump');

beforeAll(() => {
  writeVmlinuxH(work);
  compileBpf(join(FIXTURES, 'fentry_nanosleep.bpf.c'), object, {
    flags: [TARGET_ARCH, `-I${work}`],
  });
  execFileSync('gcc', [
    '-O1',
    '-o',
    libbpfLoader,
    join(FIXTURES, 'kconfig-dump.c'),
    '-l:libbpf.a',
    '-lelf',
    '-lz',
  ]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('as root, fentry is refused by the kernel, and the error says so rather than blaming capabilities', async () => {
  const caps = effectiveCaps();
  expect(caps).toBeDefined();
  for (const c of [Cap.BPF, Cap.PERFMON, Cap.SYS_ADMIN]) expect(hasCap(caps as bigint, c)).toBe(true);
  // libbpf cannot load it either: the kernel's answer, not ours.
  const lib = spawnSync(libbpfLoader, [object], { encoding: 'utf8' });
  expect(lib.status).toBe(1);
  expect(lib.stderr).toContain('Operation not permitted');

  const err = await loadObject(new Uint8Array(readFileSync(object)), { file: object }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KernelError);
  const k = err as KernelError;
  expect(k.kind).toBe('PERMISSION');
  expect(k.errno).toBe(1);
  const lockdown = lockdownMode();
  expect(k.message).toBe(
    `BPF_PROG_LOAD 'on_sleep' failed: EPERM: refused although the process has CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN: ${
      lockdown && lockdown !== 'none'
        ? `kernel lockdown is in '${lockdown}' mode (/sys/kernel/security/lockdown), which forbids it`
        : `the kernel itself refuses it (no lockdown is in force${lockdown ? '' : ': /sys/kernel/security/lockdown is absent'}; a kernel restriction or an LSM, e.g. a kernel that does not allow fentry/fexit programs)`
    }`,
  );
});

it('words EPERM by the capability set and lockdown it is given', () => {
  const all = (1n << 40n) - 1n;
  const noBpf = all & ~(1n << 39n) & ~(1n << 21n);
  expect(explainEperm("BPF_PROG_LOAD 'p'", noBpf, undefined)).toEqual({
    missing: true,
    text: `the process lacks CAP_BPF (CapEff ${noBpf.toString(16)}; CAP_SYS_ADMIN would do too)`,
  });
  // CAP_SYS_ADMIN alone is enough (kernels before 5.8 have no CAP_BPF).
  expect(explainEperm("BPF_MAP_CREATE 'm'", 1n << 21n, undefined).missing).toBe(false);
  expect(explainEperm('perf_event_open x', 0n, 'none')).toEqual({
    missing: true,
    text: 'the process lacks CAP_PERFMON (CapEff 0; CAP_SYS_ADMIN would do too), or lower kernel.perf_event_paranoid',
  });
  expect(
    explainEperm("BPF_PROG_LOAD 'p'", all, lockdownMode('none [integrity] confidentiality\n')).text,
  ).toBe(
    "refused although the process has CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN: kernel lockdown is in 'integrity' mode (/sys/kernel/security/lockdown), which forbids it",
  );
});
