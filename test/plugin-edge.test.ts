import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../packages/unplugin/src/options.ts';
import { compileBpf } from './fixtures/clang.ts';
import { BUNDLERS, build } from './plugin-harness.ts';

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const KERNEL_DIR = join(CORPUS, 'kernels/debian/12/x86_64');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const expectedSha = (release: string, obj: string) =>
  sha(readFileSync(join(CORPUS, 'expected/min', release, `${obj}.btf`)));

/** A scratch app importing ./probe.bpf.o (a copy of `object`, or the given bytes). */
function scratchApp(
  object: string | Uint8Array,
  name = 'probe.bpf.o',
): { dir: string; entry: string; object: string } {
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-app-'));
  const objPath = join(dir, name);
  if (typeof object === 'string') copyFileSync(object, objPath);
  else writeFileSync(objPath, object);
  const entry = join(dir, 'main.js');
  writeFileSync(
    entry,
    `import probe from './${name}';\nconsole.log(JSON.stringify({ name: probe.name }));\n`,
  );
  return { dir, entry, object: objPath };
}

describe('options are checked up front', () => {
  it('names an unknown option', () => {
    expect(() => resolveOptions({ kernel: ['x'] })).toThrow(/unknown option 'kernel'/);
  });
  it('names a bad value and what was expected', () => {
    expect(() => resolveOptions({ compat: 'loud' })).toThrow(
      /option 'compat' must be 'off', 'warn' or 'error', got "loud"/,
    );
    expect(() => resolveOptions({ kernels: [3] })).toThrow(/option 'kernels'/);
    expect(() => resolveOptions({ inline: 'yes' })).toThrow(/option 'inline' must be a boolean/);
    expect(() => resolveOptions({ cflags: '-O2' })).toThrow(/option 'cflags' must be an array of strings/);
    expect(() => resolveOptions({ report: '../out.html' })).toThrow(
      /option 'report' must be a boolean or a relative \.html file name/,
    );
    expect(resolveOptions({ report: true }).report).toBe('btfkit-report.html');
    expect(resolveOptions({ report: 'reports/co-re.html' }).report).toBe('reports/co-re.html');
  });
  it('accepts every documented option', () => {
    const o = resolveOptions({
      kernels: 'k',
      include: [/x/, '**/*.bpf.o'],
      exclude: 'y',
      inline: true,
      dts: true,
      clang: 'clang-19',
      cflags: ['-DX'],
      compat: 'warn',
      cacheDir: false,
    });
    expect(o).toMatchObject({ kernels: ['k'], inline: true, dts: true, compat: 'warn', cacheDir: undefined });
  });
});

describe('bad input is a bundler error naming the file and reason, with nothing emitted', () => {
  const corrupt = readFileSync(join(CORPUS, 'objects/opensnoop.bpf.o')).subarray(0, 200);
  const notBtfDir = mkdtempSync(join(tmpdir(), 'btfkit-notbtf-'));
  writeFileSync(join(notBtfDir, '6.0.0-fake.btf'), 'this is not BTF at all');

  for (const bundler of BUNDLERS) {
    it(`${bundler}: corrupt object`, async () => {
      const app = scratchApp(corrupt);
      const out = join(app.dir, 'dist');
      await expect(
        build(bundler, app.entry, out, { kernels: [KERNEL_DIR], cacheDir: false }),
      ).rejects.toThrow(new RegExp(`${app.object.replace(/[.]/g, '\\.')}.*(truncated|expected|remain)`, 's'));
      expect(existsSync(join(out, 'assets'))).toBe(false);
    });

    it(`${bundler}: missing kernel directory`, async () => {
      const app = scratchApp(join(CORPUS, 'objects/opensnoop.bpf.o'));
      const out = join(app.dir, 'dist');
      const missing = join(app.dir, 'no-such-kernels');
      await expect(build(bundler, app.entry, out, { kernels: [missing], cacheDir: false })).rejects.toThrow(
        new RegExp(`${missing}.*expected a kernel BTF file, a btfhub-archive directory or a glob`),
      );
      expect(existsSync(join(out, 'assets'))).toBe(false);
    });

    it(`${bundler}: kernel file that is not BTF`, async () => {
      const app = scratchApp(join(CORPUS, 'objects/opensnoop.bpf.o'));
      const out = join(app.dir, 'dist');
      await expect(
        build(bundler, app.entry, out, { kernels: [KERNEL_DIR, notBtfDir], cacheDir: false }),
      ).rejects.toThrow(/6\.0\.0-fake\.btf.*expected raw BTF \(9f eb \/ eb 9f\)/);
      // The good kernels were minimized first, yet none of them was emitted.
      expect(existsSync(join(out, 'assets'))).toBe(false);
    });
  }
});

describe('persistent cache', () => {
  it('a rebuild with unchanged inputs skips minimization; a changed kernel does not', async () => {
    const { BtfSetBuilder } = await import('../packages/unplugin/src/btfset.ts');
    const { listKernels } = await import('../packages/unplugin/src/kernels.ts');
    const { parseBpfObject } = await import('../packages/core/src/elf/index.ts');
    const cacheDir = mkdtempSync(join(tmpdir(), 'btfkit-cache-'));
    const file = join(CORPUS, 'objects/opensnoop.bpf.o');
    const bytes = new Uint8Array(readFileSync(file));
    const obj = { file, bytes, parsed: parseBpfObject(bytes, file) };
    const kernels = listKernels([KERNEL_DIR], ROOT);
    const cold = new BtfSetBuilder(cacheDir);
    const a = await cold.build(obj, kernels);
    expect(cold.stats).toEqual({ hits: 0, misses: kernels.length });
    const warm = new BtfSetBuilder(cacheDir);
    const b = await warm.build(obj, kernels);
    expect(warm.stats).toEqual({ hits: kernels.length, misses: 0 });
    expect(b.map((x) => x.hash)).toEqual(a.map((x) => x.hash));
    for (const r of b) expect(r.hash, r.kernel.release).toBe(expectedSha(r.kernel.release, 'opensnoop'));
  });
});

describe('Vite dev server', () => {
  it('serves the module with inline BTF equal to bpftool min_core_btf', async () => {
    const req = createRequire(join(ROOT, 'packages/unplugin/package.json'));
    const vite = await import(pathToFileURL(req.resolve('vite')).href);
    const plugin = (await import('../packages/unplugin/src/vite.ts')).default;
    const app = scratchApp(join(CORPUS, 'objects/opensnoop.bpf.o'));
    const server = await vite.createServer({
      configFile: false,
      logLevel: 'silent',
      root: app.dir,
      plugins: [plugin({ kernels: [KERNEL_DIR], cacheDir: false })],
      server: { middlewareMode: true, hmr: false, watch: null },
      appType: 'custom',
    });
    try {
      const mod = await server.ssrLoadModule(app.object);
      const probe = mod.default;
      expect(probe.name).toBe('probe');
      for (const k of probe.kernels) {
        const r = await probe.btfFor(k);
        expect(sha(r.bytes), k.release).toBe(expectedSha(k.release, 'opensnoop'));
      }
      expect(sha(await probe.object())).toBe(sha(readFileSync(app.object)));
    } finally {
      await server.close();
    }
  });
});

describe('typed skeleton', () => {
  it('tsc accepts correct use of the generated declarations and rejects misuse', async () => {
    const fixture = join(ROOT, 'test/fixtures/plugin/typed');
    const dir = join(fixture, '.out');
    mkdirSync(dir, { recursive: true });
    try {
      copyFileSync(join(CORPUS, 'objects/execsnoop.bpf.o'), join(dir, 'execsnoop.bpf.o'));
      // A ring buffer with a tagged event type, a struct-keyed hash and a per-CPU array, from clang.
      compileBpf(join(fixture, 'events.bpf.c'), join(dir, 'events.bpf.o'));
      await build('rollup', join(fixture, 'entry.js'), join(dir, 'dist'), {
        kernels: [KERNEL_DIR],
        dts: true,
        cacheDir: false,
      });
      const sidecars = ['execsnoop', 'events'].map((n) => join(dir, `${n}.bpf.d.o.ts`));
      for (const f of sidecars) expect(existsSync(f), f).toBe(true);
      const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
      const run = () =>
        spawnSync(process.execPath, [tsc, '-p', join(fixture, 'tsconfig.json')], { encoding: 'utf8' });
      const ok = run();
      expect(ok.stdout).toBe('');
      expect(ok.status).toBe(0);
      // Without the declarations the @ts-expect-error lines no longer fail: tsc must complain.
      for (const f of sidecars) writeFileSync(f, 'declare const s: any;\nexport default s;\n');
      const bad = run();
      expect(bad.status).not.toBe(0);
      const expected = readFileSync(join(fixture, 'consumer.ts'), 'utf8').match(/@ts-expect-error/g);
      expect(expected).toHaveLength(17);
      expect(bad.stdout.match(/Unused '@ts-expect-error' directive/g)).toHaveLength(17);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('.bpf.c imports', () => {
  it('compiles with clang and reports diagnostics with file and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfkit-c-'));
    const src = join(dir, 'probe.bpf.c');
    writeFileSync(
      src,
      [
        'struct event { int pid; char comm[16]; };',
        'struct { int (*type)[27]; int (*max_entries)[4096]; } rb __attribute__((section(".maps"), btf_decl_tag("event:struct event")));',
        'struct event *unused_event __attribute__((unused));',
        'const volatile int target_pid = 7;',
        '__attribute__((section("tracepoint/sched/sched_process_exec"), used)) int on_exec(void *ctx) { return target_pid; }',
        'char LICENSE[] __attribute__((section("license"))) = "GPL";',
        '',
      ].join('\n'),
    );
    const entry = join(dir, 'main.js');
    writeFileSync(
      entry,
      "import p from './probe.bpf.c';\nconsole.log(JSON.stringify({ maps: Object.keys(p.maps), ev: p.maps.rb.event.size, pid: p.globals.target_pid.initial, prog: p.programs.on_exec }));\n",
    );
    const out = join(dir, 'dist');
    await build('esbuild', entry, out, {
      kernels: [join(KERNEL_DIR, '6.1.0-47-cloud-amd64.btf.tar.xz')],
      clang: 'clang-19',
      cacheDir: false,
    });
    const printed = JSON.parse(execFileSync(process.execPath, [join(out, 'main.js')], { encoding: 'utf8' }));
    expect(printed).toEqual({
      maps: ['rb'],
      ev: 20,
      pid: 7,
      prog: {
        name: 'on_exec',
        section: 'tracepoint/sched/sched_process_exec',
        type: 'tracepoint',
        attach: 'tracepoint',
        target: 'sched/sched_process_exec',
      },
    });

    writeFileSync(src, 'int ok;\nint broken( { return 0; }\n');
    await expect(
      build('esbuild', entry, out, {
        kernels: [join(KERNEL_DIR, '6.1.0-47-cloud-amd64.btf.tar.xz')],
        clang: 'clang-19',
        cacheDir: false,
      }),
    ).rejects.toThrow(new RegExp(`${src.replace(/[.]/g, '\\.')}:2:\\d+: error`));
  });
});
