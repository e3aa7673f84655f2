import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLERS, build } from './plugin-harness.ts';

// The generated module's load() hands the object to @btfkit/runtime, which loads it into the
// running kernel: the .rodata globals given to load() must reach the program, the CO-RE read
// must see the caller's real tgid through the running kernel's minimized BTF, and the map
// must count exactly the getppid(2) calls the process made. Needs root (as CI has).

const ROOT = join(import.meta.dirname, '..');
const ENTRY = join(ROOT, 'test/fixtures/plugin/load/main.js');
const machine = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();

for (const bundler of BUNDLERS) {
  describe(bundler, () => {
    it('load() loads, attaches and runs the program on this kernel', async () => {
      // Inside the repository so the built module resolves @btfkit/runtime as an app would.
      const out = join(ROOT, 'test/out/plugin-load', bundler);
      mkdirSync(out, { recursive: true });
      await build(bundler, ENTRY, out, {
        kernels: ['/sys/kernel/btf/vmlinux'],
        clang: 'clang-19',
        cflags: [`-I/usr/include/${machine}`],
        cacheDir: join(ROOT, 'test/out/plugin-load/.cache'),
      });
      // The runtime is TypeScript source in this workspace: run the output with tsx and the
      // source condition, as `pnpm example` does.
      const printed = execFileSync(
        process.execPath,
        ['--conditions=@btfkit/source', '--import', 'tsx', join(out, 'main.js')],
        { encoding: 'utf8', cwd: ROOT, env: { ...process.env, CALLS: '7' } },
      );
      const r = JSON.parse(printed.trim().split('\n').pop() as string);
      expect(r.programs).toEqual(['on_getppid']);
      expect(r.mark).toBe(0xbeef);
      expect(r.lastTgid).toBe(r.pid);
      expect(r.calls).toBe('7');
      expect(typeof r.runningBtf).toBe('number');
      rmSync(out, { recursive: true, force: true });
    });
  });
}
