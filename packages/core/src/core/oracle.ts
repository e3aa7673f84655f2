import type { Relocation } from './relocate.ts';

/**
 * core-oracle's line format: what libbpf's log says about one relocation, as JSON lines
 * with the same keys in the same order. A poisoned LD_IMM64 gives two lines (libbpf
 * poisons the second slot first); a load/store that cannot be resized gives libbpf's
 * warning (an `error` line) and then the poison line(s), and loading goes on; a resized
 * load/store adds a `mem_sz` line.
 */
export function oracleLines(r: Relocation): string[] {
  const head = `{"prog": ${JSON.stringify(r.prog)}, "relo": ${r.relo}, "kind": ${JSON.stringify(r.kind)}`;
  const o = r.outcome;
  if ('error' in o) return [`${head}, "error": ${JSON.stringify(o.error)}}`];
  if ('poison' in o) {
    const lines = o.insns.map((i) => `${head}, "insn": ${i}, "poison": true}`);
    if (o.memszAdjust) lines.unshift(`${head}, "error": ${JSON.stringify(o.reason)}}`);
    return lines;
  }
  const lines = [
    `${head}, "insn": ${r.insn}, "class": "${o.class}", "field": "${o.field}", "from": ${o.from}, "to": ${o.to}}`,
  ];
  // libbpf logs a resized load/store as a second "patched" line whose field is mem_sz.
  if (o.memSize) {
    lines.push(
      `${head}, "insn": ${r.insn}, "class": "${o.class}", "field": "mem_sz", "from": ${o.memSize.from}, "to": ${o.memSize.to}}`,
    );
  }
  return lines;
}
