// The HTML report in a real browser (Debian's chromium, driven by playwright-core): it renders
// offline, its matrix has one cell per corpus program × kernel colored as libbpf's own
// decisions imply, a click opens the failing relocation with its source line, the filter
// narrows rows, and the minimized sizes are bpftool's.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCompat, type CompatKernel } from '../packages/core/src/compat/analyze.ts';
import type { CompatResult } from '../packages/core/src/compat/model.ts';
import { renderReport } from '../packages/core/src/compat/report.ts';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { listKernels, readBtfSource } from '../packages/core/src/kernels/index.ts';
import { minimizeBtf } from '../packages/core/src/minimize/minimize.ts';
import { CORPUS, corpusObjects, ROOT } from './fixtures/compat/support.ts';

const OUT = join(ROOT, 'test/out');
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
});
