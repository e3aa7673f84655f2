import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../packages/unplugin/src/options.ts';
import { BUNDLERS, build } from './plugin-harness.ts';

// compat: 'warn' / 'error' and report: true, checked against libbpf's own decisions
// (core-oracle's expected/relocs): bindsnoop's poisoned relocations on the arm64 kernel
// (pt_regs has no x86 registers there) and on 6.12 (inet_sock.freebind is gone) must each be
// named by a warning for that kernel, no warning may name a relocation libbpf resolved, and
// kernels where libbpf poisons nothing get no warning.

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const OBJECT = join(CORPUS, 'objects/bindsnoop.bpf.o');
const cacheDir = mkdtempSync(join(tmpdir(), 'btfkit-compat-cache-'));

/** libbpf's poisoned relocations of bindsnoop, per kernel release: "function#relo" → kind. */
const poisoned = new Map<string, Map<string, string>>();
for (const release of readdirSync(join(CORPUS, 'expected/relocs')).sort()) {
  const lines = readFileSync(join(CORPUS, 'expected/relocs', release, 'bindsnoop.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { prog: string; relo: number; kind: string; poison?: boolean });
  poisoned.set(release, new Map(lines.filter((l) => l.poison).map((l) => [`${l.prog}#${l.relo}`, l.kind])));
}
const failingReleases = [...poisoned].filter(([, m]) => m.size > 0).map(([r]) => r);

interface Warned {
  program: string;
  release: string;
  findings: { kind: string; cPath: string; at: string; text?: string }[];
}

/** Our warnings, parsed: "<file>: program 'p' fails on <distro/version/arch/release>: findings". */
function parse(warnings: string[]): Warned[] {
  const out: Warned[] = [];
  for (const w of warnings) {
    const m = /program '(\w+)' fails on (\S+): (.*)$/s.exec(w);
    if (!m) continue;
    // Each finding starts "<kind> <C path> (<function> relocation #<n>)"; its source line
    // follows as ", at file:line:col `text`".
    const body = m[3] as string;
    const heads = [...body.matchAll(/(\w+) (\S+) \((\w+) relocation #(\d+)\)/g)];
    const findings = heads.map((f, i) => {
      const rest = body.slice((f.index ?? 0) + f[0].length, heads[i + 1]?.index ?? body.length);
      const src = /, at \S+:\d+:\d+ `(.*?)`(?:, (?:when|in) |;? ?$)/s.exec(rest);
      return { kind: f[1] as string, cPath: f[2] as string, at: `${f[3]}#${f[4]}`, text: src?.[1] };
    });
    out.push({ program: m[1] as string, release: (m[2] as string).split('/').pop() as string, findings });
  }
  return out;
}

function scratchApp(): { dir: string; entry: string } {
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-compat-app-'));
  copyFileSync(OBJECT, join(dir, 'bindsnoop.bpf.o'));
  const entry = join(dir, 'main.js');
  writeFileSync(entry, "import b from './bindsnoop.bpf.o';\nconsole.log(b.name);\n");
  return { dir, entry };
}

for (const bundler of BUNDLERS) {
  describe(`${bundler}: compat`, () => {
    it("'warn': one warning per failing program × kernel, naming libbpf's poisoned relocations in C terms", async () => {
      const app = scratchApp();
      const out = join(app.dir, 'dist');
      const { warnings } = await build(bundler, app.entry, out, {
        kernels: [join(CORPUS, 'kernels')],
        compat: 'warn',
        report: true,
        cacheDir,
      });
      const warned = parse(warnings);
      expect(warned.length).toBeGreaterThan(0);
      // One per program × kernel.
      const pairs = warned.map((w) => `${w.program}@${w.release}`);
      expect(new Set(pairs).size).toBe(pairs.length);
      expect([...new Set(warned.map((w) => w.release))].sort()).toEqual(failingReleases);
      for (const release of failingReleases) {
        const libbpf = poisoned.get(release) as Map<string, string>;
        const named = warned.filter((w) => w.release === release).flatMap((w) => w.findings);
        // Every relocation named is one libbpf poisons on that kernel, with libbpf's kind…
        for (const f of named) expect(libbpf.get(f.at), `${release} ${f.at}`).toBe(f.kind);
        // …and every function holding one is named: the verifier stops at the first poisoned
        // instruction on a path, so later ones in the same function need not be reached.
        const fn = (at: string) => at.split('#')[0] as string;
        expect(new Set(named.map((f) => fn(f.at)))).toEqual(new Set([...libbpf.keys()].map(fn)));
      }
      // In C terms: the field, and the source line clang recorded for it.
      const freebind = warned
        .filter((w) => w.release.startsWith('6.12'))
        .flatMap((w) => w.findings)
        .find((f) => f.cPath === 'inet_sock.freebind');
      expect(freebind?.text).toMatch(/BPF_CORE_READ_BITFIELD_PROBED\(inet_sock, freebind\)/);
      expect(warnings.join('\n')).toMatch(/field `freebind` of `struct inet_sock` does not exist in 6\.12/);

      const report = readFileSync(join(out, 'btfkit-report.html'), 'utf8');
      for (const w of warned) expect(report).toContain(w.program);
      for (const r of poisoned.keys()) expect(report).toContain(r);
      expect(report).toContain('inet_sock');
    });

    it("'error': the build fails listing every failing pair, and emits nothing", async () => {
      const app = scratchApp();
      const out = join(app.dir, 'dist');
      const err = await build(bundler, app.entry, out, {
        kernels: [join(CORPUS, 'kernels')],
        compat: 'error',
        cacheDir,
      }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/would fail to load/);
      const listed = parse((err?.message ?? '').split('\n'));
      expect([...new Set(listed.map((w) => w.release))].sort()).toEqual(failingReleases);
      expect(existsSync(join(out, 'assets'))).toBe(false);
    });
  });
}

it("'warn' stays quiet for an object that works on every configured kernel", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-compat-ok-'));
  copyFileSync(join(CORPUS, 'objects/execsnoop.bpf.o'), join(dir, 'execsnoop.bpf.o'));
  writeFileSync(join(dir, 'main.js'), "import e from './execsnoop.bpf.o';\nconsole.log(e.name);\n");
  const relocs = readdirSync(join(CORPUS, 'expected/relocs')).map((r) =>
    readFileSync(join(CORPUS, 'expected/relocs', r, 'execsnoop.jsonl'), 'utf8'),
  );
  // libbpf poisons nothing of execsnoop on any corpus kernel.
  expect(relocs.some((t) => t.includes('"poison"'))).toBe(false);
  const { warnings } = await build('rollup', join(dir, 'main.js'), join(dir, 'dist'), {
    kernels: [join(CORPUS, 'kernels')],
    compat: 'warn',
    cacheDir,
  });
  expect(warnings).toEqual([]);
});

// withoutBtf: kernels marked as built without BTF of their own. kernel-btf-attach.bpf.o holds a
// tracepoint (no kernel BTF needed), an fentry and a tp_btf program (libbpf resolves their
// attach targets in the kernel's own BTF: compat-kernel-btf.test.ts checks that against libbpf).
const ATTACH = join(ROOT, 'test/fixtures/compat/kernel-btf-attach.bpf.o');
const NEEDS_BTF = ['on_fentry', 'on_tp_btf'];
const releases = readdirSync(join(CORPUS, 'kernels'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.btf.tar.xz'))
  .map((f) => (f.split('/').pop() as string).replace(/\.btf\.tar\.xz$/, ''))
  .sort();

function attachApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-compat-nobtf-'));
  copyFileSync(ATTACH, join(dir, 'kernel-btf-attach.bpf.o'));
  writeFileSync(join(dir, 'main.js'), "import k from './kernel-btf-attach.bpf.o';\nconsole.log(k.name);\n");
  return dir;
}

/** "program@release" for every needs-kernel-btf warning. */
function needsBtf(warnings: string[]): string[] {
  return warnings
    .map((w) => /program '(\w+)': needs-kernel-btf on (\S+):/.exec(w))
    .filter((m) => m !== null)
    .map((m) => `${m[1]}@${(m[2] as string).split('/').pop()}`)
    .sort();
}

for (const bundler of ['rollup', 'esbuild'] as const) {
  describe(`${bundler}: compat withoutBtf`, () => {
    it("'all': needs-kernel-btf for the fentry and tp_btf programs on every kernel, not the tracepoint", async () => {
      const dir = attachApp();
      const { warnings } = await build(bundler, join(dir, 'main.js'), join(dir, 'dist'), {
        kernels: [join(CORPUS, 'kernels')],
        compat: 'warn',
        withoutBtf: 'all',
        cacheDir,
      });
      expect(releases.length).toBe(7);
      const expected = NEEDS_BTF.flatMap((p) => releases.map((r) => `${p}@${r}`)).sort();
      expect(needsBtf(warnings)).toEqual(expected);
      expect(warnings.some((w) => w.includes('on_tracepoint'))).toBe(false);
    });

    it('a pattern marks only the kernels whose release or path contains it', async () => {
      const dir = attachApp();
      const { warnings } = await build(bundler, join(dir, 'main.js'), join(dir, 'dist'), {
        kernels: [join(CORPUS, 'kernels')],
        compat: 'warn',
        withoutBtf: ['arm64', 'debian/11/'],
        cacheDir,
      });
      const marked = releases.filter((r) => r.includes('arm64') || r.startsWith('5.10.'));
      expect(marked.length).toBe(3);
      expect(needsBtf(warnings)).toEqual(NEEDS_BTF.flatMap((p) => marked.map((r) => `${p}@${r}`)).sort());
    });

    it('without the option, no needs-kernel-btf warning', async () => {
      const dir = attachApp();
      const { warnings } = await build(bundler, join(dir, 'main.js'), join(dir, 'dist'), {
        kernels: [join(CORPUS, 'kernels')],
        compat: 'warn',
        cacheDir,
      });
      expect(needsBtf(warnings)).toEqual([]);
      expect(warnings.join('\n')).not.toMatch(/needs-kernel-btf|on_fentry|on_tp_btf/);
    });
  });
}

it("withoutBtf takes only 'all' or an array of non-empty patterns, and names itself otherwise", () => {
  expect(resolveOptions({ withoutBtf: 'all' }).withoutBtf).toEqual(['all']);
  expect(resolveOptions({ withoutBtf: ['6.1.0'] }).withoutBtf).toEqual(['6.1.0']);
  expect(resolveOptions({}).withoutBtf).toEqual([]);
  for (const bad of ['6.1.0', true, [''], [3], {}]) {
    expect(() => resolveOptions({ withoutBtf: bad })).toThrow(
      /option 'withoutBtf' must be 'all' or an array/,
    );
  }
});
