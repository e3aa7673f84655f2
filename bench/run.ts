/**
 * `pnpm bench [NAME...]`: runs every bench/*.bench.ts (or those whose file name contains a
 * NAME), one after the other, and prints their log lines and one table of results.
 *
 * Adding a benchmark: create bench/<name>.bench.ts whose default export (or, failing that,
 * its first exported function named bench*) is `async (log) => BenchRow[] | void`. Log lines
 * are printed as they come; returned rows (see lib.ts: the case, btfkit's median ms and peak
 * RSS, and the reference tool's on the same input in the same run) go into the table, with
 * the ratio btfkit / reference. Time with lib.ts helpers (median of RUNS, child processes
 * for RSS); never from a unit test.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchRow } from './lib.ts';

type BenchFn = (log: (line: string) => void) => Promise<BenchRow[] | undefined>;

// Every measured process, btfkit's and the reference tools', runs without NODE_EXTRA_CA_CERTS.
// Some environments (this sandbox, corporate CI images) set it, and Node then loads those
// certificates at every start, before any JavaScript runs: ~35 ms here, a third of a
// `bpftool btf dump`, for TLS that no btfkit command uses. bpftool does not pay it, so it
// would measure the environment rather than the tools; the dump bench shows the cost in a
// row of its own (lib.ts EXTRA_CA_CERTS keeps the value for that).
if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.BENCH_NODE_EXTRA_CA_CERTS = process.env.NODE_EXTRA_CA_CERTS;
  delete process.env.NODE_EXTRA_CA_CERTS;
  console.log(
    `note: NODE_EXTRA_CA_CERTS (${process.env.BENCH_NODE_EXTRA_CA_CERTS}) is unset for every measured process; see bench/run.ts`,
  );
}

const filters = process.argv.slice(2);
const files = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((n) => f.includes(n)))
  .sort();
if (files.length === 0) {
  console.error(`no bench/*.bench.ts matches ${filters.join(', ')}`);
  process.exit(2);
}

const table: (BenchRow & { bench: string })[] = [];
let failed = false;
for (const file of files) {
  const bench = file.replace(/\.bench\.ts$/, '');
  const mod = (await import(pathToFileURL(join(import.meta.dirname, file)).href)) as Record<string, unknown>;
  const fn = (
    typeof mod.default === 'function'
      ? mod.default
      : Object.entries(mod).find(([k, v]) => k.startsWith('bench') && typeof v === 'function')?.[1]
  ) as BenchFn | undefined;
  if (!fn) {
    console.error(`${file}: no default export or bench* function`);
    failed = true;
    continue;
  }
  console.log(`\n## ${bench}`);
  try {
    const rows = await fn((line) => console.log(`  ${line}`));
    for (const r of rows ?? []) table.push({ bench, ...r });
  } catch (e) {
    console.error(`${file} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    failed = true;
  }
}

if (table.length > 0) {
  const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '' : n.toFixed(digits));
  const header = [
    'bench',
    'case',
    'btfkit ms',
    'RSS MiB',
    'reference',
    'ref ms',
    'ref RSS MiB',
    'ratio',
    'note',
  ];
  const lines = table.map((r) => [
    r.bench,
    r.case,
    fmt(r.ms, 1),
    fmt(r.rssMiB),
    r.ref ?? '',
    fmt(r.refMs, 1),
    fmt(r.refRssMiB),
    r.refMs ? `${(r.ms / r.refMs).toFixed(2)}×` : '',
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(`\n${row(header)}\n${row(widths.map((w) => '-'.repeat(w)))}`);
  for (const l of lines) console.log(row(l));
}
process.exitCode = failed ? 1 : 0;
