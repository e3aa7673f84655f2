// The HTML report in a real browser (Debian's chromium, driven by playwright-core): it renders
// offline, its matrix has one cell per corpus program × kernel colored as libbpf's own
// decisions imply, a click opens the failing relocation with its source line, the filter
// narrows rows, and the minimized sizes are bpftool's.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCompat, type CompatKernel } from '../packages/core/src/compat/analyze.ts';
import { renderReport } from '../packages/core/src/compat/html-report.ts';
import type { CompatResult } from '../packages/core/src/compat/model.ts';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { listKernels, readBtfSource } from '../packages/core/src/kernels/index.ts';
import { minimizeBtf } from '../packages/core/src/minimize/minimize.ts';
import { CORPUS, corpusObjects, ROOT } from './fixtures/compat/support.ts';

const OUT = join(ROOT, 'test/out');

// The page's globals, for the functions evaluated in the browser (the project has no DOM lib).
interface PageElement {
  className: string;
  textContent: string | null;
  parentElement: PageElement | null;
  getAttribute(name: string): string | null;
  querySelector(sel: string): PageElement | null;
  querySelectorAll(sel: string): Iterable<PageElement>;
}
declare const document: {
  querySelectorAll(sel: string): Iterable<PageElement>;
  getElementById(id: string): PageElement | null;
};
declare function getComputedStyle(el: unknown): { display: string };
let result: CompatResult;
let html: string;
let browser: Awaited<ReturnType<typeof chromium.launch>>;

beforeAll(async () => {
  const objects = corpusObjects().map((p) => parseBpfObject(readFileSync(p), p));
  const kernels: CompatKernel[] = [];
  const minimized = new Map<string, Uint8Array>();
  for (const e of listKernels([join(CORPUS, 'kernels')])) {
    const { btf } = await readBtfSource(e.path);
    kernels.push({
      btf,
      release: e.release,
      distro: e.distro,
      version: e.version,
      arch: e.arch,
      path: e.path,
    });
    minimized.set(e.release, minimizeBtf(btf, objects, { release: e.release }));
  }
  result = analyzeCompat(objects, kernels, { minimized });
  html = renderReport(result);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'compat-report.html'), html);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
});

/** libbpf's poisoned relocations per release and object, by function name. */
function poisonedFunctions(release: string, object: string): Set<string> {
  const text = readFileSync(join(CORPUS, 'expected/relocs', release, `${object}.jsonl`), 'utf8');
  return new Set(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((j) => j.poison)
      .map((j) => j.prog as string),
  );
}

describe('compat HTML report', () => {
  it('renders offline with the right matrix, details on click, filters and bpftool’s sizes', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`file://${join(OUT, 'compat-report.html')}`);

    // One column per corpus kernel, one row per program (every STT_FUNC outside .text).
    const releases = readdirSync(join(CORPUS, 'expected/relocs'));
    expect(await page.locator('#matrix th.rel').count()).toBe(releases.length);
    const programCount = result.objects.reduce((n, o) => n + o.programs.length, 0);
    expect(await page.locator('#matrix tr.prog').count()).toBe(programCount);
    expect(await page.locator('#matrix td[data-i]').count()).toBe(programCount * releases.length);

    // Colors follow libbpf: a program libbpf poisons is never green; an object without any
    // poisoned relocation is green everywhere.
    const cells = await page.$$eval('#matrix td[data-i]', (tds) =>
      tds.map((td) => ({ i: Number(td.getAttribute('data-i')), cls: td.className })),
    );
    let checked = 0;
    for (const { i, cls } of cells) {
      const c = result.cells[i];
      if (!c) throw new Error(`cell ${i} missing`);
      const poisoned = poisonedFunctions(c.kernel, c.object);
      if (poisoned.has(c.program)) expect(cls, `${c.object}/${c.program} on ${c.kernel}`).not.toBe('v-ok');
      if (poisoned.size === 0) expect(cls, `${c.object}/${c.program} on ${c.kernel}`).toBe('v-ok');
      expect(cls).toBe(`v-${c.verdict}`);
      checked++;
    }
    expect(checked).toBe(programCount * releases.length);

    // A failing cell opens its relocation in C terms with the source line.
    const failing = page.locator('#matrix td.v-fails').first();
    await failing.click();
    await expect.poll(() => page.locator('#details').isVisible()).toBe(true);
    const details = await page.locator('#details').textContent();
    expect(details).toMatch(/Failing relocations/);
    expect(details).toMatch(/pt_regs\.\w+/);
    expect(details).toMatch(/\.bpf\.c:\d+/);

    // Sizes are those of bpftool gen min_core_btf for all 41 objects (expected/min/*/_all.btf).
    const sizes = await page.$$eval('.kernels tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(sizes.length).toBe(releases.length);
    for (const [release, , size] of sizes) {
      const bytes = statSync(join(CORPUS, 'expected/min', release as string, '_all.btf')).size;
      expect(size).toBe(bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);
    }

    await page.screenshot({ path: join(OUT, 'compat-report.png'), fullPage: false });

    // The filter: a program name keeps only its row(s).
    await page.fill('#q', 'tcp_v4_syn_recv');
    const visible = await page.$$eval('#matrix tr.prog:not(.hidden)', (trs) =>
      trs.map((tr) => tr.textContent ?? ''),
    );
    expect(visible.length).toBeGreaterThan(0);
    for (const t of visible) expect(t).toContain('tcp_v4_syn_recv');
    // Verdict toggles: hiding "ok" leaves only rows with some other verdict.
    await page.fill('#q', '');
    await page.uncheck('input[data-verdict="ok"]');
    const rows = await page.$$eval('#matrix tr.prog:not(.hidden)', (trs) =>
      trs.map((tr) => tr.getAttribute('data-v') ?? ''),
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const v of rows) expect(v.split(' ').some((x: string) => x !== 'ok')).toBe(true);

    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  }, 120_000);

  it('the architecture filter hides group headers left without a column', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(`file://${join(OUT, 'compat-report.html')}`);
    // The corpus tree: kernels/<distro>/<version>/<arch>/<release>.btf.tar.xz.
    const archOf = new Map(listKernels([join(CORPUS, 'kernels')]).map((e) => [e.release, e.arch]));
    const arm = [...archOf].filter(([, a]) => a === 'arm64').map(([r]) => r);
    expect(arm.length).toBeGreaterThan(0);
    await page.selectOption('#arch', 'arm64');
    const heads = await page.$$eval('#matrix th.grp', (ths) =>
      ths
        .filter((th) => getComputedStyle(th).display !== 'none')
        .map((th) => ({
          label: th.getAttribute('title') ?? '',
          span: (th as unknown as { colSpan: number }).colSpan,
        })),
    );
    const columns = await page.$$eval('#matrix th.rel', (ths) =>
      ths.filter((th) => getComputedStyle(th).display !== 'none').map((th) => th.textContent ?? ''),
    );
    expect(columns.sort()).toEqual([...arm].sort());
    expect(heads.length).toBeGreaterThan(0);
    for (const h of heads) expect(h.label).toMatch(/arm64/);
    expect(heads.reduce((n, h) => n + h.span, 0)).toBe(arm.length);
    expect(await page.textContent('#n-kernels')).toBe(String(arm.length));
    await page.screenshot({ path: join(OUT, 'compat-report-arm64.png'), fullPage: false });
    // Back to all: every group header again, with its full span.
    await page.selectOption('#arch', '');
    const all = await page.$$eval('#matrix th.grp', (ths) =>
      ths
        .filter((th) => getComputedStyle(th).display !== 'none')
        .map((th) => (th as unknown as { colSpan: number }).colSpan),
    );
    expect(all.reduce((n, x) => n + x, 0)).toBe(archOf.size);
    await page.close();
  }, 60_000);

  it('a summary row per kernel, and counts that follow the filters', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(`file://${join(OUT, 'compat-report.html')}`);
    /** What the visible matrix shows, counted from the cells' classes. */
    const visible = () =>
      page.evaluate(() => {
        const perKernel: Record<string, Record<string, number>> = {};
        const total: Record<string, number> = {};
        for (const tr of document.querySelectorAll('#matrix tr.prog:not(.hidden)')) {
          for (const td of tr.querySelectorAll('td[data-i]')) {
            if (getComputedStyle(td).display === 'none') continue;
            const v = td.className.replace(/^v-/, '').split(' ')[0] as string;
            const k = td.getAttribute('data-k') as string;
            perKernel[k] ??= {};
            (perKernel[k] as Record<string, number>)[v] =
              ((perKernel[k] as Record<string, number>)[v] ?? 0) + 1;
            total[v] = (total[v] ?? 0) + 1;
          }
        }
        const tally: Record<string, Record<string, number>> = {};
        for (const td of document.querySelectorAll('#matrix td.tally')) {
          if (getComputedStyle(td).display === 'none') continue;
          const row: Record<string, number> = {};
          for (const s of td.querySelectorAll('.t'))
            row[s.getAttribute('data-t') as string] = Number(s.textContent);
          tally[td.getAttribute('data-k') as string] = row;
        }
        const chips: Record<string, number> = {};
        for (const b of document.querySelectorAll('input[data-verdict]'))
          chips[b.getAttribute('data-verdict') as string] = Number(
            b.parentElement?.querySelector('b')?.textContent,
          );
        return {
          perKernel,
          total,
          tally,
          chips,
          progs: Number(document.getElementById('n-progs')?.textContent),
        };
      });
    const check = async () => {
      const v = await visible();
      for (const [k, row] of Object.entries(v.tally)) {
        for (const verdict of ['ok', 'guarded', 'fails', 'needs-kernel-btf'])
          expect(row[verdict], `${k} ${verdict}`).toBe(v.perKernel[k]?.[verdict] ?? 0);
      }
      for (const [verdict, n] of Object.entries(v.chips)) expect(n, verdict).toBe(v.total[verdict] ?? 0);
      return v;
    };
    // Unfiltered: the summary row counts each kernel's column, and the column is libbpf's: a
    // kernel where libbpf poisons some corpus program has at least one non-ok cell.
    const all = await check();
    expect(Object.keys(all.tally).length).toBe(result.kernels.length);
    expect(all.progs).toBe(result.objects.reduce((n, o) => n + o.programs.length, 0));
    for (const k of result.kernels) {
      const t = all.tally[k.id] ?? {};
      const row = {
        ok: t.ok ?? 0,
        guarded: t.guarded ?? 0,
        fails: t.fails ?? 0,
        nkb: t['needs-kernel-btf'] ?? 0,
      };
      const poisonedSomewhere = result.objects.some((o) => poisonedFunctions(k.release, o.name).size > 0);
      expect(row.ok + row.guarded + row.fails + row.nkb).toBe(all.progs);
      if (poisonedSomewhere) expect(row.guarded + row.fails, k.id).toBeGreaterThan(0);
    }
    // A text filter, then the architecture: the counts follow.
    await page.fill('#q', 'biosnoop');
    const bio = await check();
    expect(bio.progs).toBe(result.objects.find((o) => o.name === 'biosnoop')?.programs.length);
    await page.selectOption('#arch', 'arm64');
    const bioArm = await check();
    expect(
      Object.keys(bioArm.tally).every((k) => result.kernels.find((x) => x.id === k)?.arch === 'arm64'),
    ).toBe(true);
    await page.screenshot({ path: join(OUT, 'compat-report-filtered.png'), fullPage: false });
    await page.close();
  }, 60_000);

  it('a guarded cell names its guard: the condition and its source line', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(`file://${join(OUT, 'compat-report.html')}`);
    const guarded = page.locator('#matrix td.v-guarded');
    expect(await guarded.count()).toBeGreaterThan(0);
    const count = await guarded.count();
    for (let i = 0; i < count; i++) {
      const title = (await guarded.nth(i).getAttribute('title')) ?? '';
      // "prog on kernel: guarded by if r1 == 0 goto +17 (line 28: if (...) {)"
      expect(title).toMatch(/guarded by if [rw]\d+ .+ goto [+-] ?\d+ \(line \d+: .+\)/);
    }
    // The guard is a line clang's line info gives for the object: an `if` of the C source.
    await guarded.first().click();
    const details = (await page.locator('#details').textContent()) ?? '';
    expect(details).toMatch(/guarded by if [rw]\d+/);
    expect(details).toMatch(/\.bpf\.c:\d+/);
    const guards = result.cells
      .filter((c) => c.verdict === 'guarded')
      .flatMap((c) => c.findings.filter((f) => !f.reached))
      .map((f) => f.guard);
    expect(guards.every((g) => g?.source && /\bif\b|\?/.test(g.source.text))).toBe(true);
    await page.screenshot({ path: join(OUT, 'compat-report-guard.png'), fullPage: false });
    await page.close();
  }, 60_000);
});
