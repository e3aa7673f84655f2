/**
 * The libbpf profile held to the running kernel's verifier, through every way in: an 8-byte
 * load of `task_struct.comm` declared `char comm[8]` (test/fixtures/profiles/comm8.bpf.c).
 * libbpf 1.1 (core-oracle runs its real loader) poisons it, so the verifier refuses the
 * program; libbpf >= 1.6 patches the offset and the program loads. `relocate`, `compat`,
 * the runtime's loadObject and the plugin's option must each say so for their profile.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelError, loadObject } from '../packages/runtime/src/index.ts';
import { resolveOptions } from '../packages/unplugin/src/options.ts';
import { compileBpf } from './fixtures/clang.ts';
import { coreOracle, normalize } from './fixtures/core/oracle.ts';
import { build } from './plugin-harness.ts';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const ROOT = join(import.meta.dirname, '..');
let dir: string;
let object: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btfkit-profiles-'));
  object = compileBpf(join(import.meta.dirname, 'fixtures/profiles/comm8.bpf.c'), join(dir, 'comm8.bpf.o'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function btfkit(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'packages/core/src/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
}

describe('libbpf 1.1 vs 1.7 on the running kernel', () => {
  it('relocate: 1.1 decides as libbpf 1.1.2 itself (core-oracle); 1.7 patches the load', () => {
    const oracle = normalize(
      execFileSync(coreOracle(), [object, VMLINUX], { stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
    );
    const ours = (libbpf: string) => {
      const r = btfkit(['relocate', '--json', '--libbpf', libbpf, object, VMLINUX]);
      expect(r.status, r.stderr).toBe(0);
      return normalize(r.stdout);
    };
    expect(ours('1.1')).toEqual(oracle);
    const poisoned = oracle.filter((l) => l.poison === true);
    expect(poisoned.length).toBe(1);
    const modern = ours('1.7');
    expect(modern.filter((l) => l.poison === true || l.error === true)).toEqual([]);
    const load = modern.find((l) => l.insn === poisoned[0]?.insn && l.class === 'LDX/ST/STX');
    expect(load).toMatchObject({ field: 'off', from: 0 });
    expect(load?.to).toBeGreaterThan(0);
  });

  it('compat: fails under 1.1, ok under 1.7', () => {
    const verdict = (libbpf: string) => {
      const r = btfkit(['compat', '--json', '--libbpf', libbpf, '--kernels', VMLINUX, '--', object]);
      return {
        status: r.status,
        cells: JSON.parse(r.stdout).cells.map((c: { verdict: string }) => c.verdict),
      };
    };
    expect(verdict('1.1')).toEqual({ status: 1, cells: ['fails'] });
    expect(verdict('1.7')).toEqual({ status: 0, cells: ['ok'] });
    const bad = btfkit(['compat', '--libbpf', '2.0', '--kernels', VMLINUX, '--', object]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("unknown --libbpf '2.0' (1.1 or 1.7)");
  });

  it('loadObject: the verifier refuses 1.1’s poisoned load and takes 1.7’s patched one', async () => {
    const bytes = new Uint8Array(readFileSync(object));
    const err = await loadObject(bytes, { file: 'comm8.bpf.o' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).kind).toBe('VERIFIER');
    expect((err as KernelError).message).toContain('task_struct.comm');
    const loaded = await loadObject(bytes, { file: 'comm8.bpf.o', libbpf: '1.7' });
    try {
      expect(loaded.programs.read_comm?.fd).toBeGreaterThan(0);
    } finally {
      loaded.close();
    }
    await expect(loadObject(bytes, { libbpf: '1.5' as never })).rejects.toThrow(
      "libbpf option: '1.5' is not one of 1.1, 1.7",
    );
  });

  it('the plugin: compat "error" fails the build under 1.1, passes under 1.7', async () => {
    const app = mkdtempSync(join(dir, 'app-'));
    copyFileSync(object, join(app, 'comm8.bpf.o'));
    writeFileSync(join(app, 'main.js'), "import o from './comm8.bpf.o';\nconsole.log(o.name);\n");
    const opts = (libbpf?: '1.7') => ({
      kernels: [VMLINUX],
      compat: 'error' as const,
      cacheDir: join(app, 'cache'),
      ...(libbpf ? { libbpf } : {}),
    });
    const refused = await build('rollup', join(app, 'main.js'), join(app, 'dist'), opts()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toContain("program 'read_comm' fails on");
    expect(refused?.message).toContain('task_struct.comm');
    // Same cache directory: the 1.1 result cached above must not answer for 1.7.
    await build('rollup', join(app, 'main.js'), join(app, 'dist'), opts('1.7'));
    expect(readFileSync(join(app, 'dist/main.js'), 'utf8')).toContain('read_comm');
  });

  it('the plugin: its libbpf reaches the skeleton’s load(), which then loads what 1.1 poisons', async () => {
    // Inside the repository so the built module resolves @btfkit/runtime as an app would.
    const app = join(ROOT, 'test/out/profiles-kernel');
    rmSync(app, { recursive: true, force: true });
    mkdirSync(app, { recursive: true });
    try {
      copyFileSync(object, join(app, 'comm8.bpf.o'));
      writeFileSync(
        join(app, 'main.js'),
        [
          "import o from './comm8.bpf.o';",
          'try {',
          '  const l = await o.load();',
          '  console.log(JSON.stringify({ loaded: l.programs.read_comm.fd > 0 }));',
          '  l.close();',
          '} catch (e) {',
          '  console.log(JSON.stringify({ kind: e.kind, message: e.message }));',
          '}',
          '',
        ].join('\n'),
      );
      const run = async (libbpf?: '1.7') => {
        const out = join(app, `dist-${libbpf ?? 'default'}`);
        await build('rollup', join(app, 'main.js'), out, {
          kernels: [VMLINUX],
          cacheDir: join(app, 'cache'),
          ...(libbpf ? { libbpf } : {}),
        });
        const printed = execFileSync(
          process.execPath,
          ['--conditions=@btfkit/source', '--import', 'tsx', join(out, 'main.js')],
          { encoding: 'utf8', cwd: ROOT },
        );
        return JSON.parse(printed.trim().split('\n').pop() as string);
      };
      const classic = await run();
      expect(classic.kind).toBe('VERIFIER');
      expect(classic.message).toContain('task_struct.comm');
      expect(await run('1.7')).toEqual({ loaded: true });
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('the plugin takes libbpf: 1.1 or 1.7 and refuses anything else', () => {
    expect(resolveOptions({ libbpf: '1.7' }).libbpf).toBe('1.7');
    expect(resolveOptions({}).libbpf).toBeUndefined();
    expect(() => resolveOptions({ libbpf: '1.6' })).toThrow(
      `unplugin-btfkit: option 'libbpf' must be '1.1' or '1.7', got "1.6"`,
    );
  });
});
