// The compatibility verdicts (btfkit's CO-RE engine + reachability analysis) against the real
// verifier: every corpus object (and the guard fixtures) is relocated by libbpf against each corpus kernel's BTF and against the running
// kernel's, then loaded into the running kernel. Where loading fails on a poisoned
// instruction our verdict must be `fails`; where it loads, `ok` or `guarded`. Other load
// failures (missing attach targets, program types this kernel lacks…) are inconclusive.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCompat, type CompatKernel } from '../packages/core/src/compat/analyze.ts';
import type { CompatResult } from '../packages/core/src/compat/model.ts';
import { type BpfObject, parseBpfObject } from '../packages/core/src/elf/object.ts';
import { readBtfSource } from '../packages/core/src/kernels/source.ts';
import {
  buildGuardFixtures,
  buildLoader,
  CORPUS,
  corpusObjects,
  extractCorpusKernels,
  FIXTURES,
  type LoadOutcome,
  loadPrograms,
} from './fixtures/compat/support.ts';

const RUNNING = '/sys/kernel/btf/vmlinux';

interface Target {
  release: string;
  btfPath: string;
  kernel: CompatKernel;
}

let dir: string;
let loader: string;
let objectPaths: string[];
let objects: BpfObject[];
let targets: Target[];
let result: CompatResult;

const nameOf = (p: string) => basename(p).replace(/\.bpf\.o$/, '');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'btfkit-compat-'));
  loader = buildLoader(dir);
  objectPaths = [...corpusObjects(), ...buildGuardFixtures(dir)];
  objects = objectPaths.map((p) => parseBpfObject(readFileSync(p), p));
  const corpus = extractCorpusKernels(join(dir, 'kernels'));
  const running = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const all = [
    ...corpus.map((k) => ({ release: k.release, btfPath: k.btfPath })),
    { release: running, btfPath: RUNNING },
  ];
  targets = await Promise.all(
    all.map(async (k) => ({
      ...k,
      kernel: { btf: (await readBtfSource(k.btfPath)).btf, release: k.release, path: k.btfPath },
    })),
  );
  // The whole pipeline: btfkit's CO-RE engine, then the reachability analysis.
  result = analyzeCompat(
    objects,
    targets.map((t) => t.kernel),
  );
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('compat verdicts agree with the running kernel’s verifier', () => {
  it('for every object × program × kernel where the load is conclusive', () => {
    let agree = 0;
    const disagreements: string[] = [];
    const inconclusive = new Map<string, number>();
    let fails = 0;
    let guarded = 0;
    for (const t of targets) {
      objectPaths.forEach((path) => {
        const loads = loadPrograms(loader, path, t.btfPath);
        const object = nameOf(path);
        for (const cell of result.cells.filter((c) => c.object === object && c.kernel === t.release)) {
          const real = loads.get(cell.program) as LoadOutcome;
          expect(real, `${object}/${cell.program} loaded`).toBeDefined();
          if (real.status === 'ok' || real.status === 'poison') {
            const expected = real.status === 'ok' ? ['ok', 'guarded'] : ['fails'];
            if (expected.includes(cell.verdict)) {
              agree++;
              if (cell.verdict === 'fails') fails++;
              if (cell.verdict === 'guarded') guarded++;
              if (real.status === 'poison') {
                // libbpf names the relocation kind it failed on; one of ours must be that kind.
                const kinds = cell.findings.filter((f) => f.reached).map((f) => `<${f.kind}>`);
                expect(
                  kinds.some((k) => real.line.includes(k)),
                  `${object}/${cell.program}: ${real.line}`,
                ).toBe(true);
              }
            } else {
              disagreements.push(
                `${t.release} ${object}/${cell.program}: kernel says ${real.status} (${real.line}), we say ${cell.verdict}`,
              );
            }
          } else {
            const why = real.line
              .replace(/'[^']*'/g, "'…'")
              .replace(/\d+/g, 'N')
              .slice(0, 90);
            inconclusive.set(why, (inconclusive.get(why) ?? 0) + 1);
          }
        }
      });
    }
    const conclusive = agree + disagreements.length;
    const total = [...inconclusive.values()].reduce((a, b) => a + b, 0);
    console.log(
      `compat vs verifier: ${agree}/${conclusive} conclusive cases agree (${((100 * agree) / conclusive).toFixed(1)}%), ` +
        `${fails} fails, ${guarded} guarded; ${total} inconclusive:\n` +
        [...inconclusive.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([w, n]) => `  ${n} × ${w}`)
          .join('\n'),
    );
    expect(disagreements).toEqual([]);
    expect(conclusive).toBeGreaterThan(1000);
    // Both outcomes must be exercised for the figure to mean anything.
    expect(fails).toBeGreaterThan(50);
    expect(guarded).toBeGreaterThan(50);
  }, 600_000);

  it('the guard fixtures: each pattern gets the verifier’s answer on the running kernel', () => {
    const running = targets.at(-1) as Target;
    for (const path of objectPaths.filter((p) => !p.startsWith(CORPUS))) {
      const loads = loadPrograms(loader, path, running.btfPath);
      const cells = result.cells.filter((c) => c.object === nameOf(path) && c.kernel === running.release);
      expect(cells.length).toBe(loads.size);
      for (const cell of cells) {
        const real = loads.get(cell.program) as LoadOutcome;
        expect([real.status, cell.verdict === 'fails' ? 'poison' : 'ok'], cell.program).toEqual([
          real.status,
          real.status,
        ]);
      }
      // Every pattern is represented: guarded ones and failing ones, in and out of subprograms.
      const verdict = (p: string) => cells.find((c) => c.program === p)?.verdict;
      expect(verdict('static_subprog')).toBe('guarded');
      expect(verdict('global_subprog')).toBe('fails');
      const global = cells.find((c) => c.program === 'global_subprog')?.findings.find((f) => f.reached);
      expect(global?.callChain).toEqual(['global_subprog']);
      expect(global?.conditions.length).toBe(1);
      // line_info puts the poisoned instruction on a line of global_read_if's body.
      const src = readFileSync(join(FIXTURES, 'guards.bpf.c'), 'utf8');
      const body = src.slice(
        src.indexOf('__noinline long global_read_if'),
        src.indexOf('int global_subprog'),
      );
      expect(global?.source?.text).toBeTruthy();
      expect(body).toContain(global?.source?.text as string);
      expect(global?.source?.file).toMatch(/guards\.bpf\.c$/);
    }
  });

  it('bpftool prog loadall agrees for the running kernel', () => {
    const running = targets.at(-1) as Target;
    if (spawnSync('mountpoint', ['-q', '/sys/fs/bpf']).status !== 0) {
      execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
    }
    const pinRoot = `/sys/fs/bpf/btfkit-compat-${process.pid}`;
    let loaded = 0;
    let poisoned = 0;
    try {
      for (const path of objectPaths) {
        const pin = join(pinRoot, nameOf(path));
        mkdirSync(pinRoot, { recursive: true });
        const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', path, pin], {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        });
        rmSync(pin, { recursive: true, force: true });
        const cells = result.cells.filter((c) => c.object === nameOf(path) && c.kernel === running.release);
        if (r.status === 0) {
          loaded++;
          for (const c of cells)
            expect(['ok', 'guarded'], `${nameOf(path)}/${c.program}`).toContain(c.verdict);
        } else if (/unknown#195896080|failed to resolve CO-RE relocation/.test(r.stderr)) {
          const failing = [...r.stderr.matchAll(/prog '([^']+)': BPF program load failed/g)].map((m) => m[1]);
          expect(failing.length).toBeGreaterThan(0);
          for (const p of failing) {
            poisoned++;
            expect(cells.find((c) => c.program === p)?.verdict, `${nameOf(path)}/${p}`).toBe('fails');
          }
        }
      }
    } finally {
      rmSync(pinRoot, { recursive: true, force: true });
    }
    console.log(
      `bpftool loadall on ${running.release}: ${loaded} objects load, ${poisoned} poison failures, all agree`,
    );
    expect(loaded).toBeGreaterThan(10);
    expect(poisoned).toBeGreaterThan(0);
  }, 300_000);
});
