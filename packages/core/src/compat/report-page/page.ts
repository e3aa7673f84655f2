import type { PathCondition, SourceLine } from '../model.ts';
import type { ReportCell } from './cell.ts';

/** An element whose text is set from a number (the DOM writes its decimal form). */
type NumberText = { textContent: number };

(function () {
  var cells: ReportCell[] = JSON.parse(
    (document.getElementById('cells') as HTMLElement).textContent as string,
  );
  var q = document.getElementById('q') as HTMLInputElement,
    arch = document.getElementById('arch') as HTMLSelectElement,
    problems = document.getElementById('problems') as HTMLInputElement;
  var boxes: HTMLInputElement[] = [].slice.call(document.querySelectorAll('input[data-verdict]'));
  var details = document.getElementById('details') as HTMLElement,
    dbody = document.getElementById('dbody') as HTMLElement;
  function esc(s: unknown): string {
    return String(s).replace(/[&<>"']/g, function (c) {
      return (
        { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' } as Record<string, string>
      )[c] as string;
    });
  }
  function apply() {
    var text = q.value.trim().toLowerCase(),
      a = arch.value,
      only = problems.checked;
    var on: Record<string, boolean> = {};
    boxes.forEach(function (b) {
      on[b.dataset.verdict as string] = b.checked;
    });
    [].forEach.call(document.querySelectorAll('#matrix [data-arch]'), function (el: HTMLElement) {
      el.classList.toggle('hide-col', a !== '' && el.dataset.arch !== a);
    });
    // A group header spans its visible columns, and goes when it has none.
    [].forEach.call(document.querySelectorAll('#matrix th.grp'), function (th: HTMLTableCellElement) {
      var n = document.querySelectorAll(
        '#matrix th.rel[data-g="' + th.dataset.g + '"]:not(.hide-col)',
      ).length;
      th.classList.toggle('hide-col', n === 0);
      if (n > 0) th.colSpan = n;
    });
    var shown: Record<string, number> = {};
    [].forEach.call(document.querySelectorAll('#matrix tr.prog'), function (tr: HTMLElement) {
      var vs = (tr.dataset.v as string).split(' ');
      var ok =
        (!text || (tr.dataset.name as string).indexOf(text) >= 0) &&
        vs.some(function (v) {
          return on[v];
        }) &&
        (!only ||
          vs.some(function (v) {
            return v !== 'ok';
          }));
      tr.classList.toggle('hidden', !ok);
      if (ok) shown[tr.dataset.obj as string] = 1;
    });
    var obj = -1;
    [].forEach.call(document.querySelectorAll('#matrix tbody tr'), function (tr: HTMLElement) {
      if (tr.classList.contains('obj')) {
        obj++;
        tr.classList.toggle('hidden', !shown[obj]);
      }
    });
    recount();
  }
  // The counts follow the filters: the verdict chips count the visible cells, the summary row
  // each visible kernel's visible programs.
  function recount() {
    var total: Record<string, number> = {},
      perK: Record<string, Record<string, number>> = {},
      progs = 0;
    boxes.forEach(function (b) {
      total[b.dataset.verdict as string] = 0;
    });
    [].forEach.call(document.querySelectorAll('#matrix tr.prog:not(.hidden)'), function (tr: HTMLElement) {
      progs++;
      [].forEach.call(tr.querySelectorAll('td[data-i]:not(.hide-col)'), function (td: HTMLElement) {
        var v = (cells[+(td.dataset.i as string)] as ReportCell).v,
          k = td.dataset.k as string;
        total[v] = (total[v] || 0) + 1;
        perK[k] = perK[k] || {};
        (perK[k] as Record<string, number>)[v] = ((perK[k] as Record<string, number>)[v] || 0) + 1;
      });
    });
    boxes.forEach(function (b) {
      ((b.parentNode as HTMLElement).querySelector('b') as unknown as NumberText).textContent =
        total[b.dataset.verdict as string] || 0;
    });
    [].forEach.call(document.querySelectorAll('#matrix td.tally'), function (td: HTMLElement) {
      var c = perK[td.dataset.k as string] || {},
        parts: string[] = [];
      [].forEach.call(td.querySelectorAll('.t'), function (s: HTMLElement) {
        var n = c[s.dataset.t as string] || 0;
        (s as unknown as NumberText).textContent = n;
        parts.push(n + ' ' + s.title);
      });
      td.title = td.title.split(':')[0] + ': ' + parts.join(', ');
    });
    (document.getElementById('n-progs') as unknown as NumberText).textContent = progs;
    (document.getElementById('n-kernels') as unknown as NumberText).textContent = document.querySelectorAll(
      '#matrix th.rel:not(.hide-col)',
    ).length;
  }
  function src(s: SourceLine | undefined) {
    return s
      ? '<div class="meta">' +
          esc(s.file) +
          ':' +
          s.line +
          (s.column ? ':' + s.column : '') +
          '</div><pre>' +
          esc(s.text) +
          '</pre>'
      : '';
  }
  function show(i: number, td: HTMLElement) {
    var c = cells[i];
    if (!c) return;
    [].forEach.call(document.querySelectorAll('#matrix td.sel'), function (x: HTMLElement) {
      x.classList.remove('sel');
    });
    if (td) td.classList.add('sel');
    var h =
      '<h2><span class="pn">' +
      esc(c.p) +
      '</span></h2><div class="where">' +
      esc(c.o) +
      ' on ' +
      esc(c.k) +
      ' &nbsp;<span class="badge v-' +
      c.v +
      '">' +
      esc(c.v) +
      '</span></div>';
    if (c.m) h += '<p>' + esc(c.m) + '</p>';
    if (c.d)
      h +=
        '<p>depends on what compat does not know of this kernel: ' +
        c.d.map(esc).join(', ') +
        ' (any value assumed)</p>';
    var fs = c.f || [];
    if (c.v === 'ok') h += '<p>Every CO-RE relocation this program uses resolves on this kernel.</p>';
    var reached = fs.filter(function (f) {
        return f.reached;
      }),
      dead = fs.filter(function (f) {
        return !f.reached;
      });
    if (reached.length) h += '<h3>Failing relocations</h3>';
    reached.forEach(function (f) {
      h += finding(f);
    });
    if (dead.length) h += '<h3>Unresolved but unreachable (guarded)</h3>';
    dead.forEach(function (f) {
      h += finding(f);
    });
    dbody.innerHTML = h;
    details.hidden = false;
  }
  function finding(f: ReportCell['f'][number]) {
    var h =
      '<div class="finding"><div class="path">' +
      esc(f.cPath) +
      '</div>' +
      (f.reason ? '<div class="reason">' + esc(f.reason) + '</div>' : '') +
      '<div class="meta">' +
      esc(f.kind) +
      (f.relo < 0 ? '' : ' relocation #' + f.relo) +
      ' · ' +
      esc(f.function) +
      ' insn ' +
      f.insn +
      '</div>' +
      src(f.source);
    if (f.callChain && f.callChain.length)
      h +=
        '<div class="meta">called via ' +
        f.callChain.map(esc).join(' → ') +
        ' → ' +
        esc(f.function) +
        '</div>';
    if (f.guard) {
      var g = f.guard;
      h +=
        '<div class="guard">guarded by <code>' +
        esc(g.test) +
        '</code> (always ' +
        (g.taken ? 'taken' : 'not taken') +
        ' here; ' +
        esc(g.function) +
        ' insn ' +
        g.insn +
        ')</div>' +
        (g.source ? src(g.source) : '');
    }
    if (f.conditions && f.conditions.length) {
      h += '<div class="meta">reached when:</div><ul>';
      f.conditions.forEach(function (c: PathCondition) {
        h +=
          '<li><code>' +
          esc(c.test) +
          '</code> ' +
          (c.taken ? 'taken' : 'not taken') +
          ' (' +
          esc(c.function) +
          ' insn ' +
          c.insn +
          (c.source ? ', line ' + c.source.line + ': <code>' + esc(c.source.text) + '</code>' : '') +
          ')</li>';
      });
      h += '</ul>';
    } else if (f.reached) h += '<div class="meta">reached on every path</div>';
    return h + '</div>';
  }
  (document.getElementById('matrix') as HTMLElement).addEventListener('click', function (e) {
    var td = (e.target as Element).closest('td[data-i]') as HTMLElement | null;
    if (td) show(+(td.dataset.i as string), td);
  });
  (document.getElementById('matrix') as HTMLElement).addEventListener('keydown', function (e) {
    var td = (e.target as Element).closest('td[data-i]') as HTMLElement | null;
    if (td && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      show(+(td.dataset.i as string), td);
    }
  });
  (document.getElementById('close') as HTMLElement).addEventListener('click', function () {
    details.hidden = true;
  });
  q.addEventListener('input', apply);
  arch.addEventListener('change', apply);
  problems.addEventListener('change', apply);
  boxes.forEach(function (b) {
    b.addEventListener('change', apply);
  });
})();
