/**
 * The report page's style sheet and script (compat/report-page/page.css, page.ts) are what
 * compat/report-assets.ts inlines: the committed module is what scripts/build-report-assets.mjs
 * generates from them, the script runs as a classic script (no module syntax left), and
 * every rendered page carries both exactly once. test/compat-report.test.ts drives the page in
 * chromium.
 */
import { readFileSync } from 'node:fs';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../packages/core/src/compat/html-report.ts';
import { REPORT_CSS, REPORT_SCRIPT } from '../packages/core/src/compat/report-assets.ts';
// @ts-expect-error: a plain JavaScript build script, without type declarations
import { CSS_SOURCE, generate, TARGET } from '../scripts/build-report-assets.mjs';

describe('the report page assets', () => {
  it('the committed report-assets.ts is what the build script generates from report-page/', () => {
    expect(readFileSync(TARGET, 'utf8'), `${TARGET} is stale: run node scripts/build-report-assets.mjs`).toBe(
      generate(),
    );
  });

  it('carries the style sheet as written and the script as a classic script', () => {
    expect(REPORT_CSS).toBe(readFileSync(CSS_SOURCE, 'utf8'));
    // Compiles as a classic script: an import or export left in it would be a SyntaxError.
    expect(() => new Script(REPORT_SCRIPT, { filename: 'page.js' })).not.toThrow();
    expect(REPORT_SCRIPT).not.toMatch(/\bexport\b|\bimport\b|: (?:string|number|HTMLElement)\b/);
  });

  it('every page has both, once', () => {
    const html = renderReport({
      kernels: [],
      objects: [],
      cells: [],
      summary: { ok: 0, guarded: 0, fails: 0, 'needs-kernel-btf': 0, error: 0 },
    });
    expect(html.split(`<style>${REPORT_CSS}</style>`).length).toBe(2);
    expect(html.split(`<script>${REPORT_SCRIPT}</script>`).length).toBe(2);
  });
});
