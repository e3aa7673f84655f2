import type { CompatCell, CompatKernelInfo, CompatResult, Verdict } from './model.ts';
import { VERDICTS } from './model.ts';
import { REPORT_CSS, REPORT_SCRIPT } from './report-assets.ts';
import type { ReportCell } from './report-page/cell.ts';
import { GLYPH } from './terminal-text.ts';

/**
 * The HTML report: one static page (inline CSS and script from report-page/, built into
 * report-assets.ts by scripts/build-report-assets.mjs; no network), a matrix of programs
 * (rows, grouped by object) × kernels (columns, grouped by distro / version / arch), each cell
 * colored by verdict. Clicking a cell opens its details: the failing relocations in C terms
 * with their source lines and path conditions. Filters narrow rows by name and verdict and
 * columns by architecture. Same result → same bytes.
 */
export function renderReport(result: CompatResult, opts: { title?: string } = {}): string {
  const title = opts.title ?? 'btfkit CO-RE compatibility';
  const groups = kernelGroups(result.kernels);
  const cellAt = new Map<string, CompatCell>();
  result.cells.forEach((c) => {
    cellAt.set(`${c.object}\u0000${c.program}\u0000${c.kernel}`, c);
  });
  const data = result.cells.map(
    (c): ReportCell => ({
      o: c.object,
      p: c.program,
      k: c.kernel,
      v: c.verdict,
      m: c.message,
      f: c.findings,
      d: c.dependsOn,
    }),
  );

  // Group headers know their columns (data-g), so the script can hide a group with none left.
  const head1 = groups
    .map(
      (g, gi) =>
        `<th colspan="${g.kernels.length}" class="grp" data-g="${gi}" scope="colgroup" title="${esc(g.label)}">${g.label.split(' ').map(esc).join('<br>')}</th>`,
    )
    .join('');
  const head2 = groups
    .flatMap((g, gi) => g.kernels.map((k) => ({ k, gi })))
    .map(
      ({ k, gi }) =>
        `<th class="rel" data-g="${gi}" data-arch="${esc(k.arch ?? '')}" title="${esc(k.path ?? k.release)}"><span>${esc(k.release)}</span></th>`,
    )
    .join('');
  const columns = groups.flatMap((g) => g.kernels);
  const tallied = TALLIED.filter((v) => v !== 'error' || result.summary.error > 0);

  // Per kernel: how many programs get each verdict (the script recounts under the filters).
  const tallyCells = columns.map((k) => {
    const counts = tallyOf(result.cells.filter((c) => c.kernel === k.id));
    const spans = tallied
      .map((v) => `<span class="t v-${v}" data-t="${v}" title="${LABEL[v]}">${counts[v]}</span>`)
      .join('');
    return `<td class="tally" data-k="${esc(k.id)}" data-arch="${esc(k.arch ?? '')}" title="${esc(`${k.release}: ${tallied.map((v) => `${counts[v]} ${LABEL[v]}`).join(', ')}`)}">${spans}</td>`;
  });
  const rows: string[] = [
    `<tr class="tally"><th scope="row">per kernel<span class="sec">${tallied.map((v) => GLYPH[v]).join(' ')}</span></th>${tallyCells.join('')}</tr>`,
  ];
  result.objects.forEach((o, oi) => {
    rows.push(
      `<tr class="obj"><th colspan="${columns.length + 1}" scope="rowgroup">${esc(o.name)}<small>${o.programs.length} program${o.programs.length === 1 ? '' : 's'}</small></th></tr>`,
    );
    for (const p of o.programs) {
      const cells = columns.map((k) => {
        const c = cellAt.get(`${o.name}\u0000${p.name}\u0000${k.id}`);
        if (!c) return '<td class="none"></td>';
        const idx = result.cells.indexOf(c);
        return `<td class="v-${c.verdict}" data-i="${idx}" data-k="${esc(k.id)}" data-arch="${esc(k.arch ?? '')}" title="${esc(`${p.name} on ${k.release}: ${cellTitle(c)}`)}" tabindex="0">${GLYPH[c.verdict]}</td>`;
      });
      const verdicts = [
        ...new Set(
          columns.map((k) => cellAt.get(`${o.name}\u0000${p.name}\u0000${k.id}`)?.verdict).filter(Boolean),
        ),
      ];
      rows.push(
        `<tr class="prog" data-obj="${oi}" data-name="${esc(`${o.name} ${p.name} ${p.section}`.toLowerCase())}" data-v="${verdicts.join(' ')}"><th scope="row"><span class="pn">${esc(p.name)}</span><span class="sec">${esc(p.section)}</span></th>${cells.join('')}</tr>`,
      );
    }
  });

  const summary = VERDICTS.filter((v) => result.summary[v] > 0 || v === 'ok' || v === 'fails')
    .map(
      (v) =>
        `<label class="chip v-${v}"><input type="checkbox" data-verdict="${v}" checked> ${GLYPH[v]} ${LABEL[v]} <b>${result.summary[v]}</b></label>`,
    )
    .join('');
  const arches = [...new Set(result.kernels.map((k) => k.arch ?? ''))].filter(Boolean).sort();
  const archSelect = `<select id="arch"><option value="">all architectures</option>${arches.map((a) => `<option>${esc(a)}</option>`).join('')}</select>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="lede">${result.objects.length} object${result.objects.length === 1 ? '' : 's'}, <span id="n-progs">${result.objects.reduce((n, o) => n + o.programs.length, 0)}</span> programs, <span id="n-kernels">${result.kernels.length}</span> kernel${result.kernels.length === 1 ? '' : 's'} shown. Click a cell for details.</p>
<div class="controls"><input id="q" type="search" placeholder="filter programs, objects, sections…" aria-label="filter">${archSelect}<label class="only"><input type="checkbox" id="problems"> only rows with problems</label></div>
<div class="chips">${summary}</div>
</header>
<main>
<div class="matrix-wrap"><table id="matrix">
<thead><tr><th class="corner" rowspan="2">program</th>${head1}</tr><tr>${head2}</tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table></div>
<aside id="details" hidden><button id="close" aria-label="close">×</button><div id="dbody"></div></aside>
</main>
${kernelTable(result.kernels)}
<footer>${LEGEND}</footer>
<script type="application/json" id="cells">${jsonForScript(data)}</script>
<script type="application/json" id="kernels">${jsonForScript(result.kernels)}</script>
<script>${REPORT_SCRIPT}</script>
</body>
</html>
`;
}

interface KernelGroup {
  label: string;
  kernels: CompatKernelInfo[];
}

/** Kernels grouped by distro / version / arch, in the order first seen. */
function kernelGroups(kernels: readonly CompatKernelInfo[]): KernelGroup[] {
  const out: KernelGroup[] = [];
  const byLabel = new Map<string, KernelGroup>();
  for (const k of kernels) {
    const label = k.distro ? [k.distro, k.version, k.arch].filter(Boolean).join(' ') : (k.arch ?? 'other');
    let g = byLabel.get(label);
    if (!g) {
      g = { label, kernels: [] };
      byLabel.set(label, g);
      out.push(g);
    }
    g.kernels.push(k);
  }
  return out;
}

function kernelTable(kernels: readonly CompatKernelInfo[]): string {
  if (!kernels.some((k) => k.minimizedSize !== undefined)) return '';
  const rows = kernels.map((k) => {
    const shared = (k.sharesMinimizedWith ?? []).filter((id) => id !== k.id);
    return `<tr><td>${esc(k.release)}</td><td>${esc([k.distro, k.version, k.arch].filter(Boolean).join(' '))}</td><td class="num">${k.minimizedSize === undefined ? '—' : formatBytes(k.minimizedSize)}</td><td>${shared.length ? `same file as ${shared.map(esc).join(', ')}` : 'unique'}</td></tr>`;
  });
  return `<section class="kernels"><h2>Minimized BTF per kernel</h2><table><thead><tr><th>kernel</th><th>distro</th><th>size</th><th>shared</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** JSON that cannot close its <script> element. */
const jsonForScript = (v: unknown) =>
  JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** The verdicts of the per-kernel summary row (error only when some cell has it). */
const TALLIED: readonly Verdict[] = ['ok', 'guarded', 'fails', 'needs-kernel-btf', 'error'];

function tallyOf(cells: readonly CompatCell[]): Record<Verdict, number> {
  const out = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const c of cells) out[c.verdict]++;
  return out;
}

/** A cell's tooltip: the verdict, and for a guarded one the guard (condition and line). */
function cellTitle(c: CompatCell): string {
  if (c.verdict !== 'guarded') return c.verdict;
  const g = c.findings.find((f) => f.guard)?.guard;
  if (!g) return c.verdict;
  const where = g.source ? `line ${g.source.line}: ${g.source.text.trim()}` : `${g.function} insn ${g.insn}`;
  return `guarded by ${g.test} (${where})`;
}

const LABEL: Record<Verdict, string> = {
  ok: 'ok',
  guarded: 'guarded',
  fails: 'fails',
  'needs-kernel-btf': 'needs kernel BTF',
  error: 'error',
};

const LEGEND = `<dl class="legend">
<dt class="v-ok">✓ ok</dt><dd>every CO-RE relocation resolved</dd>
<dt class="v-guarded">◐ guarded</dt><dd>some relocations fail, but the code using them is dead once the relocated constants are known (<code>bpf_core_field_exists()</code> guards)</dd>
<dt class="v-fails">✗ fails</dt><dd>the verifier reaches a poisoned instruction: loading fails with <code>invalid func unknown#195896080</code></dd>
<dt class="v-needs-kernel-btf">⊘ needs kernel BTF</dt><dd>the program type needs BTF inside the kernel, which this kernel is marked as lacking</dd>
<dt class="v-error">! error</dt><dd>libbpf refuses the object on this kernel</dd>
</dl>`;
