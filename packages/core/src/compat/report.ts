import type { CompatCell, CompatKernelInfo, CompatResult, Finding, Verdict } from './model.ts';
import { VERDICTS } from './model.ts';

/**
 * The HTML report: one static page (inline CSS and script, no network), a matrix of programs
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
  const data = result.cells.map((c) => ({
    o: c.object,
    p: c.program,
    k: c.kernel,
    v: c.verdict,
    m: c.message,
    f: c.findings,
    d: c.dependsOn,
  }));

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
<style>${CSS}</style>
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
<script>${SCRIPT}</script>
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

export const GLYPH: Record<Verdict, string> = {
  ok: '✓',
  guarded: '◐',
  fails: '✗',
  'needs-kernel-btf': '⊘',
  error: '!',
};

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

const CSS = `
:root{--ok:#2e9d5b;--ok-bg:#dff3e6;--guarded:#b7791f;--guarded-bg:#fcefd4;--fails:#c53030;--fails-bg:#fbdada;--nkb:#6b46c1;--nkb-bg:#e9e1fb;--err:#1a202c;--err-bg:#d7dbe2;--line:#e2e8f0;--muted:#64748b;--fg:#1e293b}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f8fafc}
header{padding:20px 28px 8px;background:#fff;border-bottom:1px solid var(--line)}
h1{margin:0 0 4px;font-size:20px}
.lede{margin:0 0 12px;color:var(--muted)}
.controls{display:flex;gap:10px;align-items:center;flex-wrap:wrap;margin-bottom:10px}
#q{width:320px;padding:6px 10px;border:1px solid #cbd5e1;border-radius:6px;font:inherit}
select{padding:6px;border:1px solid #cbd5e1;border-radius:6px;font:inherit;background:#fff}
.only{color:var(--muted)}
.chips{display:flex;gap:8px;flex-wrap:wrap;padding-bottom:8px}
.chip{display:inline-flex;gap:6px;align-items:center;padding:3px 10px;border-radius:999px;border:1px solid transparent;cursor:pointer;user-select:none}
.chip b{font-weight:600}
main{display:flex;gap:16px;padding:16px 28px;align-items:flex-start}
.matrix-wrap{overflow:auto;max-height:78vh;background:#fff;border:1px solid var(--line);border-radius:8px;flex:1 1 auto}
table#matrix{border-collapse:separate;border-spacing:0}
#matrix thead th{position:sticky;background:#fff;z-index:2}
#matrix thead tr:first-child th{top:0}
#matrix thead tr:nth-child(2) th{top:52px}
#matrix th.corner{left:0;z-index:3;text-align:left;vertical-align:bottom;padding:6px 12px;border-bottom:1px solid var(--line);color:var(--muted);font-weight:500}
#matrix th.grp{padding:4px 4px;border-bottom:1px solid var(--line);border-left:2px solid var(--line);font-weight:600;font-size:11px;white-space:nowrap;line-height:1.25;text-align:center}
#matrix th.rel{padding:4px 2px 6px;border-bottom:1px solid var(--line);font-weight:500;font-size:12px;color:var(--muted);height:128px;vertical-align:bottom;min-width:38px}
#matrix th.rel span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
#matrix tbody th{position:sticky;left:0;background:#fff;z-index:1;text-align:left;font-weight:400;padding:3px 12px;white-space:nowrap;border-right:1px solid var(--line)}
#matrix tr.obj th{background:#f1f5f9;font-weight:600;padding:6px 12px;border-top:1px solid var(--line)}
#matrix tr.obj small{margin-left:8px;color:var(--muted);font-weight:400}
.pn{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
.sec{margin-left:8px;color:var(--muted);font-size:12px}
#matrix td{text-align:center;width:44px;min-width:44px;max-width:44px;height:26px;border-bottom:1px solid #fff;border-right:1px solid #fff;cursor:pointer;font-size:13px}
#matrix td:focus,#matrix td.sel{outline:2px solid #0f172a;outline-offset:-2px}
.v-ok{background:var(--ok-bg);color:var(--ok)}
.v-guarded{background:var(--guarded-bg);color:var(--guarded)}
.v-fails{background:var(--fails-bg);color:var(--fails);font-weight:700}
.v-needs-kernel-btf{background:var(--nkb-bg);color:var(--nkb)}
.v-error{background:var(--err-bg);color:var(--err);font-weight:700}
aside#details{position:sticky;top:16px;width:440px;max-height:78vh;overflow:auto;background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;flex:0 0 440px;box-shadow:0 4px 14px rgba(15,23,42,.06)}
#close{float:right;border:0;background:none;font-size:20px;cursor:pointer;color:var(--muted)}
#dbody h2{font-size:16px;margin:0 0 2px}
#dbody .where{color:var(--muted);margin-bottom:10px}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600}
.finding{border-top:1px solid var(--line);padding:10px 0}
.finding code,.finding pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.finding .path{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.finding pre{background:#f1f5f9;border-radius:6px;padding:6px 8px;margin:6px 0;white-space:pre-wrap}
.finding .meta{color:var(--muted);font-size:12px}
.finding .reason{color:var(--fails);margin:2px 0 4px}
.finding ul{margin:4px 0 0 18px;padding:0}
.kernels{padding:0 28px 8px}
.kernels h2{font-size:16px}
.kernels table{border-collapse:collapse;background:#fff;border:1px solid var(--line)}
.kernels td,.kernels th{padding:5px 12px;border-bottom:1px solid var(--line);text-align:left}
.kernels td.num{text-align:right;font-variant-numeric:tabular-nums}
footer{padding:8px 28px 28px;color:var(--muted)}
.legend{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}
.legend dt{padding:0 8px;border-radius:4px;font-weight:600}
.legend dd{margin:0}
#matrix tr.tally th{font-weight:600;border-bottom:2px solid var(--line)}
#matrix td.tally{cursor:default;height:auto;padding:2px 0;font-size:11px;line-height:1.3;vertical-align:top;background:#fff;border-bottom:2px solid var(--line)}
#matrix td.tally .t{display:block;border-radius:3px;margin:1px 3px}
.guard{margin:4px 0}
tr.hidden{display:none}
.hide-col{display:none}
`;

const SCRIPT = `
(function(){
var cells=JSON.parse(document.getElementById('cells').textContent);
var q=document.getElementById('q'),arch=document.getElementById('arch'),problems=document.getElementById('problems');
var boxes=[].slice.call(document.querySelectorAll('input[data-verdict]'));
var details=document.getElementById('details'),dbody=document.getElementById('dbody');
function esc(s){return String(s).replace(/[&<>"']/g,function(c){return{'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c];});}
function apply(){
  var text=q.value.trim().toLowerCase(),a=arch.value,only=problems.checked;
  var on={};boxes.forEach(function(b){on[b.dataset.verdict]=b.checked;});
  [].forEach.call(document.querySelectorAll('#matrix [data-arch]'),function(el){el.classList.toggle('hide-col',a!==''&&el.dataset.arch!==a);});
  // A group header spans its visible columns, and goes when it has none.
  [].forEach.call(document.querySelectorAll('#matrix th.grp'),function(th){
    var n=document.querySelectorAll('#matrix th.rel[data-g="'+th.dataset.g+'"]:not(.hide-col)').length;
    th.classList.toggle('hide-col',n===0);if(n>0)th.colSpan=n;
  });
  var shown={};
  [].forEach.call(document.querySelectorAll('#matrix tr.prog'),function(tr){
    var vs=tr.dataset.v.split(' ');
    var ok=(!text||tr.dataset.name.indexOf(text)>=0)&&vs.some(function(v){return on[v];})&&(!only||vs.some(function(v){return v!=='ok';}));
    tr.classList.toggle('hidden',!ok);if(ok)shown[tr.dataset.obj]=1;
  });
  var obj=-1;
  [].forEach.call(document.querySelectorAll('#matrix tbody tr'),function(tr){
    if(tr.classList.contains('obj')){obj++;tr.classList.toggle('hidden',!shown[obj]);}
  });
  recount();
}
// The counts follow the filters: the verdict chips count the visible cells, the summary row
// each visible kernel's visible programs.
function recount(){
  var total={},perK={},progs=0;
  boxes.forEach(function(b){total[b.dataset.verdict]=0;});
  [].forEach.call(document.querySelectorAll('#matrix tr.prog:not(.hidden)'),function(tr){
    progs++;
    [].forEach.call(tr.querySelectorAll('td[data-i]:not(.hide-col)'),function(td){
      var v=cells[+td.dataset.i].v,k=td.dataset.k;
      total[v]=(total[v]||0)+1;perK[k]=perK[k]||{};perK[k][v]=(perK[k][v]||0)+1;
    });
  });
  boxes.forEach(function(b){b.parentNode.querySelector('b').textContent=total[b.dataset.verdict]||0;});
  [].forEach.call(document.querySelectorAll('#matrix td.tally'),function(td){
    var c=perK[td.dataset.k]||{},parts=[];
    [].forEach.call(td.querySelectorAll('.t'),function(s){var n=c[s.dataset.t]||0;s.textContent=n;parts.push(n+' '+s.title);});
    td.title=td.title.split(':')[0]+': '+parts.join(', ');
  });
  document.getElementById('n-progs').textContent=progs;
  document.getElementById('n-kernels').textContent=document.querySelectorAll('#matrix th.rel:not(.hide-col)').length;
}
function src(s){return s?'<div class="meta">'+esc(s.file)+':'+s.line+(s.column?':'+s.column:'')+'</div><pre>'+esc(s.text)+'</pre>':'';}
function show(i,td){
  var c=cells[i];if(!c)return;
  [].forEach.call(document.querySelectorAll('#matrix td.sel'),function(x){x.classList.remove('sel');});
  if(td)td.classList.add('sel');
  var h='<h2><span class="pn">'+esc(c.p)+'</span></h2><div class="where">'+esc(c.o)+' on '+esc(c.k)+' &nbsp;<span class="badge v-'+c.v+'">'+esc(c.v)+'</span></div>';
  if(c.m)h+='<p>'+esc(c.m)+'</p>';
  if(c.d)h+='<p>depends on what compat does not know of this kernel: '+c.d.map(esc).join(', ')+' (any value assumed)</p>';
  var fs=c.f||[];
  if(c.v==='ok')h+='<p>Every CO-RE relocation this program uses resolves on this kernel.</p>';
  var reached=fs.filter(function(f){return f.reached;}),dead=fs.filter(function(f){return !f.reached;});
  if(reached.length)h+='<h3>Failing relocations</h3>';
  reached.forEach(function(f){h+=finding(f);});
  if(dead.length)h+='<h3>Unresolved but unreachable (guarded)</h3>';
  dead.forEach(function(f){h+=finding(f);});
  dbody.innerHTML=h;details.hidden=false;
}
function finding(f){
  var h='<div class="finding"><div class="path">'+esc(f.cPath)+'</div>'+(f.reason?'<div class="reason">'+esc(f.reason)+'</div>':'')+'<div class="meta">'+esc(f.kind)+(f.relo<0?'':' relocation #'+f.relo)+' · '+esc(f.function)+' insn '+f.insn+'</div>'+src(f.source);
  if(f.callChain&&f.callChain.length)h+='<div class="meta">called via '+f.callChain.map(esc).join(' → ')+' → '+esc(f.function)+'</div>';
  if(f.guard){var g=f.guard;h+='<div class="guard">guarded by <code>'+esc(g.test)+'</code> (always '+(g.taken?'taken':'not taken')+' here; '+esc(g.function)+' insn '+g.insn+')</div>'+(g.source?src(g.source):'');}
  if(f.conditions&&f.conditions.length){h+='<div class="meta">reached when:</div><ul>';f.conditions.forEach(function(c){h+='<li><code>'+esc(c.test)+'</code> '+(c.taken?'taken':'not taken')+' ('+esc(c.function)+' insn '+c.insn+(c.source?', line '+c.source.line+': <code>'+esc(c.source.text)+'</code>':'')+')</li>';});h+='</ul>';}
  else if(f.reached)h+='<div class="meta">reached on every path</div>';
  return h+'</div>';
}
document.getElementById('matrix').addEventListener('click',function(e){var td=e.target.closest('td[data-i]');if(td)show(+td.dataset.i,td);});
document.getElementById('matrix').addEventListener('keydown',function(e){var td=e.target.closest('td[data-i]');if(td&&(e.key==='Enter'||e.key===' ')){e.preventDefault();show(+td.dataset.i,td);}});
document.getElementById('close').addEventListener('click',function(){details.hidden=true;});
q.addEventListener('input',apply);arch.addEventListener('change',apply);problems.addEventListener('change',apply);
boxes.forEach(function(b){b.addEventListener('change',apply);});
})();
`;

/** Findings of a cell as terminal lines (shared by the CLI table). */
export function findingLines(f: Finding): string[] {
  const where = f.source ? `${f.source.file}:${f.source.line}` : `${f.function} insn ${f.insn}`;
  const out = [`${f.cPath} (${f.kind}) at ${where}${f.source?.text ? `: ${f.source.text}` : ''}`];
  if (f.callChain.length) out.push(`  via ${[...f.callChain, f.function].join(' → ')}`);
  for (const c of f.conditions) {
    out.push(
      `  when ${c.test} is ${c.taken ? 'taken' : 'not taken'}${c.source ? ` (line ${c.source.line}: ${c.source.text})` : ''}`,
    );
  }
  return out;
}
