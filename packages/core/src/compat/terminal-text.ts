/**
 * Verdicts and findings as text: the glyph of each verdict (the CLI's table and the HTML
 * report's cells use the same) and a finding's lines for a terminal.
 */
import type { Finding, Verdict } from './model.ts';

/** One character per verdict, for tables. */
export const GLYPH: Record<Verdict, string> = {
  ok: '✓',
  guarded: '◐',
  fails: '✗',
  'needs-kernel-btf': '⊘',
  error: '!',
};

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
