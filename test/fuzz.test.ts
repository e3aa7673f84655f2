// The CI subset of the fuzz suite (`pnpm fuzz` runs 100,000): 20,000 seeded generated inputs
// of every kind (test/fuzz/cases.ts) in-process, 20 of them also through the CLI. Every case
// ends in a result or a BtfkitError naming the damaged file: no internal error, no hang, no
// message without a file name, and peak RSS within the stated bound of the input size.
import { describe, expect, it } from 'vitest';
import { KINDS } from './fuzz/cases.ts';
import { runFuzz, summary } from './fuzz/run.ts';

describe('fuzz: 20,000 generated inputs of every kind', () => {
  it('0 internal errors, 0 hangs, 0 messages without a file name, RSS within bound', async () => {
    const report = await runFuzz({ seed: 2026, count: 20_000, cliEvery: 1000 });
    console.log(summary(report));
    expect(report.cases).toBe(20_000);
    for (const k of KINDS) expect(report.byKind[k]).toBeGreaterThan(3000);
    expect(report.cliRuns).toBe(20);
    expect(report.failures.slice(0, 5)).toEqual([]);
    expect(report.counts.internal).toBe(0);
    expect(report.counts.hang).toBe(0);
    expect(report.counts['no-file']).toBe(0);
    // The mutations are not all harmless: many inputs are refused, many still work.
    expect(report.counts.typed).toBeGreaterThan(2000);
    expect(report.counts.ok).toBeGreaterThan(2000);
    expect(report.peakRssKb).toBeLessThanOrEqual(report.rssBoundKb);
  }, 1_200_000);
});
