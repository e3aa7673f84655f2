// The verifier's value tracking, rule by rule, against the running kernel's verifier. The
// fixture (test/fixtures/compat/rules.bpf.c, clang-19 -mcpu=v4) pairs each rule's guarded
// program (`*_dead`: the poisoned read sits behind a guard the verifier folds) with a control
// that flips the guard (`*_live`). Each is loaded by libbpf into this kernel; compat must say
// `guarded` exactly where the kernel loads and `fails` where it refuses. Then what depends on
// the target kernel: its release (LINUX_KERNEL_VERSION, eager global subprograms before 6.8),
// its config (CONFIG_* externs), the budget, registers the ISA lacks, and kernel BTF.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCompat, type CompatKernel } from '../packages/core/src/compat/analyze.ts';
import { runningKernelConfig } from '../packages/core/src/compat/kconfig.ts';
import type { CompatCell, CompatResult } from '../packages/core/src/compat/model.ts';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { readBtfSource } from '../packages/core/src/kernels/source.ts';
import { compileBpf } from './fixtures/clang.ts';
import {
  buildLoader,
  CORPUS,
  FIXTURES,
  type LoadOutcome,
  loadPrograms,
  ROOT,
} from './fixtures/compat/support.ts';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const RUNNING = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
/** Each rule whose guard the verifier folds on this kernel, with its control. */
const PAIRS = [
  'kver',
  'config',
  'weak_config',
  'spill32',
  'spill8',
  'narrow_fill',
  'store_imm',
  'callee_write',
  'mask',
  'or_bit',
  'switch',
  'edge',
  'range',
  'loop',
  'neg',
  'bswap',
];

let dir: string;
let loader: string;
let object: string;
let badObject: string;
let loads: Map<string, LoadOutcome>;
let badLoads: Map<string, LoadOutcome>;
let result: CompatResult;
let btfCopy: string;

/** The two markers in bad_reg_* rewritten to name r12 (MOV64 imm: code 0xb7, dst 9). */
function withRegister12(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (const imm of [0x7eb7eb, 0x7eb7ec]) {
    const pattern = Buffer.from([0xb7, 0x09, 0, 0, imm & 0xff, (imm >> 8) & 0xff, imm >> 16, 0]);
    const at = Buffer.from(out.buffer).indexOf(pattern);
    expect(at, `marker ${imm.toString(16)}`).toBeGreaterThan(0);
    out[at + 1] = 0x0c;
  }
  return out;
}

const cellsOf = (kernel: string): Map<string, CompatCell> =>
  new Map(
    result.cells
      .filter((c) => c.kernel === kernel && c.object === 'rules')
      .map((c) => [c.program, c] as const),
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btfkit-rules-'));
  loader = buildLoader(dir);
  object = compileBpf(join(FIXTURES, 'rules.bpf.c'), join(dir, 'rules.bpf.o'), { flags: ['-mcpu=v4'] });
  badObject = join(dir, 'rules-r12.bpf.o');
  writeFileSync(badObject, withRegister12(readFileSync(object)));
  // libbpf wants a file for btf_custom_path; a copy also survives hiding the original.
  btfCopy = join(dir, 'vmlinux.btf');
  copyFileSync(VMLINUX, btfCopy);
  loads = loadPrograms(loader, object, btfCopy);
  badLoads = loadPrograms(loader, badObject, btfCopy);
  const btf = (await readBtfSource(VMLINUX)).btf;
  const kernels: CompatKernel[] = [
    { btf, release: RUNNING, config: runningKernelConfig() },
    // The same BTF under other releases: what only the version decides.
    { btf, release: '6.1.0-47-amd64', config: runningKernelConfig() },
    { btf, release: '4.19.0-27-amd64', config: runningKernelConfig() },
    // The running kernel with its config unknown.
    { btf, release: RUNNING, path: 'no-config' },
  ];
  result = analyzeCompat(
    [parseBpfObject(readFileSync(object), object), parseBpfObject(readFileSync(badObject), badObject)],
    kernels,
    { names: ['rules', 'rules-r12'] },
  );
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('compat follows the verifier’s value tracking (running kernel)', () => {
  it('the kernel loads every guarded program and refuses every control on the poisoned read', () => {
    for (const rule of PAIRS) {
      expect(loads.get(`${rule}_dead`)?.status, `${rule}_dead`).toBe('ok');
      expect(loads.get(`${rule}_live`)?.status, `${rule}_live`).toBe('poison');
    }
  });

  it('says guarded exactly where the kernel loads, fails where it refuses', () => {
    const cells = cellsOf(RUNNING);
    for (const rule of PAIRS) {
      expect(cells.get(`${rule}_dead`)?.verdict, `${rule}_dead`).toBe('guarded');
      expect(cells.get(`${rule}_live`)?.verdict, `${rule}_live`).toBe('fails');
    }
    // And for every other program of the object, against the kernel's own answer.
    for (const [prog, real] of loads) {
      if (real.status !== 'ok' && real.status !== 'poison') continue;
      // A program with no poisoned read at all is `ok`.
      const expected = real.status === 'ok' ? ['ok', 'guarded'] : ['fails'];
      expect(expected, prog).toContain(cells.get(prog)?.verdict);
    }
  });

  it('does not fold DIV and MOD, as the kernel does not; MUL of the same shape it does', () => {
    expect(loads.get('div_live')?.status).toBe('poison');
    expect(loads.get('mod_live')?.status).toBe('poison');
    expect(loads.get('mul_dead')?.status).toBe('ok');
    const cells = cellsOf(RUNNING);
    expect(cells.get('div_live')?.verdict).toBe('fails');
    expect(cells.get('mod_live')?.verdict).toBe('fails');
    expect(cells.get('mul_dead')?.verdict).toBe('guarded');
  });

  it('names the condition it could not fold on the way to a reached poison', () => {
    const live = cellsOf(RUNNING)
      .get('mask_live')
      ?.findings.find((f) => f.reached);
    const guard = live?.conditions.find((c) => c.source?.text.includes('x >= 8'));
    expect(guard?.test).toMatch(/^if r\d+ (>|>=|<|<=) [78] goto/);
    expect(guard?.source?.file).toMatch(/rules\.bpf\.c$/);
  });
});

describe('what the target kernel’s release decides', () => {
  it('LINUX_KERNEL_VERSION is the release’s: 4.19 reaches what 5.0+ prunes', () => {
    expect(cellsOf('4.19.0-27-amd64').get('kver_dead')?.verdict).toBe('fails');
    expect(cellsOf('4.19.0-27-amd64').get('kver_live')?.verdict).toBe('guarded');
    expect(cellsOf('6.1.0-47-amd64').get('kver_dead')?.verdict).toBe('guarded');
  });

  it('a global subprogram behind a dead call: verified (fails) before 6.8, skipped since', () => {
    expect(loads.get('global_dead_call')?.status).toBe('ok');
    expect(loads.get('global_live_call')?.status).toBe('poison');
    expect(cellsOf(RUNNING).get('global_dead_call')?.verdict).toBe('guarded');
    const old = cellsOf('6.1.0-47-amd64').get('global_dead_call');
    expect(old?.verdict).toBe('fails');
    expect(old?.findings.find((f) => f.reached)?.function).toBe('global_poisoned');
    for (const k of [RUNNING, '6.1.0-47-amd64'])
      expect(cellsOf(k).get('global_live_call')?.verdict, k).toBe('fails');
  });

  it('rules newer than the release are not assumed (narrow fill 6.8, store-immediate 6.3), older ones are', () => {
    const old = cellsOf('4.19.0-27-amd64');
    expect(old.get('narrow_fill_dead')?.verdict).toBe('fails');
    expect(old.get('store_imm_dead')?.verdict).toBe('fails');
    const v61 = cellsOf('6.1.0-47-amd64');
    expect(v61.get('store_imm_dead')?.verdict).toBe('fails');
    expect(v61.get('narrow_fill_dead')?.verdict).toBe('fails');
    // Known bits, ranges, loops, callee frames (and 5.16's narrow spills): 6.1 folds them too.
    for (const rule of ['mask', 'or_bit', 'edge', 'range', 'loop', 'callee_write', 'spill32'])
      expect(v61.get(`${rule}_dead`)?.verdict, rule).toBe('guarded');
    // The switch's default is dead only once `!=` moves a range end (6.8): [0, 1] != 0 is 1.
    expect(v61.get('switch_dead')?.verdict).toBe('fails');
  });
});

describe('what the target kernel’s config decides', () => {
  it('without the config, a CONFIG_* guard is not folded and the cell says what it depends on', () => {
    const cells = cellsOf(`${RUNNING}@no-config`);
    const config = cells.get('config_dead');
    expect(config?.verdict).toBe('fails');
    expect(config?.dependsOn?.join()).toMatch(/CONFIG_BPF/);
    expect(cells.get('weak_config_dead')?.dependsOn?.join()).toMatch(/CONFIG_BTFKIT_NO_SUCH_OPTION/);
    // LINUX_KERNEL_VERSION needs only the release.
    expect(cells.get('kver_dead')?.verdict).toBe('guarded');
    expect(cells.get('kver_dead')?.dependsOn).toBeUndefined();
  });
});

describe('bounded', () => {
  it('a loop past the budget: the kernel refuses it, compat stops and counts the poison as reached', () => {
    expect(loads.get('loop_budget_live')?.line).toMatch(/too long|too large|processed 1000001/);
    const cell = cellsOf(RUNNING).get('loop_budget_live');
    expect(cell?.verdict).toBe('fails');
    expect(cell?.message).toMatch(/budget/);
  });
});

describe('registers the ISA lacks', () => {
  it('r12 reached: the kernel refuses it, compat fails it and says where', () => {
    expect(badLoads.get('bad_reg_live')).toEqual({ status: 'other', line: 'R12 is invalid' });
    const cell = result.cells.find(
      (c) => c.object === 'rules-r12' && c.program === 'bad_reg_live' && c.kernel === RUNNING,
    );
    expect(cell?.verdict).toBe('fails');
    expect(cell?.findings[0]).toMatchObject({ kind: 'invalid-register', insn: 0, reached: true });
    expect(cell?.findings[0]?.reason).toContain('R12 is invalid');
    expect(cell?.findings[0]?.source?.file).toMatch(/rules\.bpf\.c$/);
  });

  it('r12 behind a guard the verifier folds: loaded, and not a failure', () => {
    expect(badLoads.get('bad_reg_dead')?.status).toBe('ok');
    const cell = result.cells.find(
      (c) => c.object === 'rules-r12' && c.program === 'bad_reg_dead' && c.kernel === RUNNING,
    );
    expect(['ok', 'guarded']).toContain(cell?.verdict);
  });
});

describe('.kconfig externs do not need kernel BTF', () => {
  it('libbpf loads them with /sys/kernel/btf/vmlinux hidden; compat does not mark them', () => {
    // A private mount namespace where the kernel's BTF reads as an empty file.
    const script = `mount --bind /dev/null ${VMLINUX} && exec "$0" "$1" "$2"`;
    const text = execFileSync('unshare', ['-m', 'sh', '-c', script, loader, object, btfCopy], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    const hidden = new Map(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'))
        .map(([p, s]) => [p as string, s as string]),
    );
    for (const p of ['kver_dead', 'config_dead', 'weak_config_dead']) expect(hidden.get(p), p).toBe('ok');
    for (const [p, real] of loads) expect(hidden.get(p), p).toBe(real.status);
    const info = result.objects.find((o) => o.name === 'rules');
    expect(info?.programs.filter((p) => p.needsKernelBtf)).toEqual([]);
  });
});

describe('btfkit compat (CLI) and the kernel config', () => {
  const cli = (kernels: string) =>
    spawnSync('pnpm', ['--silent', 'btfkit', 'compat', object, '--kernels', kernels], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });

  it('reads the running kernel’s config from /proc/config.gz: CONFIG_* guards fold', () => {
    const r = cli(VMLINUX);
    expect(r.status).toBe(1); // the *_live controls fail
    expect(r.stdout).toMatch(/^rules\/config_live: fails on /m);
    expect(r.stdout).not.toMatch(/^rules\/config_dead:/m);
    expect(r.stdout).not.toMatch(/depends on/);
  }, 120_000);

  it('for a kernel whose config it does not have, says what the verdict depends on', () => {
    const r = cli(join(CORPUS, 'kernels/debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz'));
    const entry = r.stdout.slice(r.stdout.indexOf('rules/config_dead: fails'));
    expect(entry).toMatch(
      /^rules\/config_dead: fails on 6\.1\.0-47-amd64\n {2}depends on CONFIG_BPF \(the kernel's config is not known\)/,
    );
  }, 120_000);
});
