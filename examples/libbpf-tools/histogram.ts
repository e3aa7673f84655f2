// libbpf-tools' log2 histogram (trace_helpers.c print_log2_hist): one row per power of two
// up to the last non-empty slot, 40 stars for the largest count (20 past 32 slots).

function stars(val: number, max: number, width: number): string {
  const n = Math.floor((Math.min(val, max) * width) / max);
  return '*'.repeat(n) + ' '.repeat(width - n) + (val > max ? '+' : '');
}

export function printLog2Hist(vals: readonly number[], valType: string): void {
  let idxMax = -1;
  let valMax = 0;
  vals.forEach((v, i) => {
    if (v > 0) idxMax = i;
    if (v > valMax) valMax = v;
  });
  if (idxMax < 0) return;
  const narrow = idxMax <= 32;
  console.log(`${' '.repeat(narrow ? 5 : 15)}${valType.padEnd(narrow ? 19 : 29)} : count    distribution`);
  const width = narrow ? 10 : 20;
  for (let i = 0; i <= idxMax; i++) {
    let low = (2n ** BigInt(i + 1)) >> 1n;
    const high = 2n ** BigInt(i + 1) - 1n;
    if (low === high) low -= 1n;
    const val = vals[i] ?? 0;
    console.log(
      `${low.toString().padStart(width)} -> ${high.toString().padEnd(width)} : ${String(val).padEnd(8)} |${stars(val, valMax, narrow ? 40 : 20)}|`,
    );
  }
}
