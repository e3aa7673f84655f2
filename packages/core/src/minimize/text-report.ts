import { basename } from 'node:path';
import { describe, type Unsatisfied } from './minimize.ts';

/**
 * What a kernel lacks for each program, in C terms, one line per relocation, grouped the way
 * a reader looks for them: kernel → object → program. Poisoned relocations are what the
 * verifier will reject if the instruction is reachable; field_exists/type_exists probes that
 * answer 0 are the program asking, not failing, and are not listed.
 */
export function formatUnsatisfied(release: string, items: readonly Unsatisfied[]): string[] {
  const lines: string[] = [];
  if (items.length === 0) return lines;
  lines.push(
    `kernel ${release}: ${items.length} relocation${items.length === 1 ? '' : 's'} not satisfied (poisoned; the verifier rejects them if reached):`,
  );
  for (const u of items) {
    const reason = u.decision.message ? `: ${u.decision.message}` : '';
    lines.push(`  ${basename(u.object)}: ${describe(u.decision)}${reason}`);
  }
  return lines;
}
