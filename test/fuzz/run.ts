// The fuzz suite's driver: `pnpm fuzz` (100,000 cases by default) and test/fuzz.test.ts (the
// CI subset) both run `runFuzz`. Cases run in-process; every `cliEvery`-th one is also
// written to a file and given to the CLI (the command for its kind), where it must end with
// exit 0 or 1 within `cliTimeoutMs`, and any error as one line naming the damaged file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Case, classify, KINDS, type Kind, makeCase, type Outcome } from './cases.ts';
import { CORPUS, type Inputs, loadInputs, MODULES_KERNEL, ROOT } from './inputs.ts';

export interface FuzzOptions {
  seed: number;
  count: number;
  /** First case index (to split a run or replay a range). */
  from?: number;
  /** Every n-th case also goes through the CLI (0: none). */
  cliEvery?: number;
  hangMs?: number;
  cliTimeoutMs?: number;
  /** Called every 1000 cases. */
  progress?: (done: number) => void;
}

export interface Failure {
  index: number;
  kind: Kind;
  outcome: Outcome | 'cli';
  how: string;
  message?: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  counts: Record<Outcome, number>;
  byKind: Record<Kind, number>;
  cliRuns: number;
  failures: Failure[];
  /** Peak RSS of this process (KiB) after loading the inputs, and at the end. */
  setupRssKb: number;
  peakRssKb: number;
  largestInput: number;
  /** The stated bound: peak RSS ≤ setup RSS + RSS_BOUND_FACTOR × largest input + RSS_SLACK. */
  rssBoundKb: number;
  slowestMs: number;
}

/** Every input kind's working set is a small multiple of its size; the slack is V8's heap churn. */
export const RSS_BOUND_FACTOR = 256;
export const RSS_SLACK_KB = 256 * 1024;

/**
 * A full collection between batches of cases, so peak RSS measures what cases keep alive
 * (and what one batch allocates) rather than how long V8 lets garbage pile up.
 */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const GC_EVERY = 500;

export async function runFuzz(opts: FuzzOptions, inputs: Inputs = loadInputs()): Promise<FuzzReport> {
  const gc = collector();
  gc();
  const hangMs = opts.hangMs ?? 5000;
  const counts: Record<Outcome, number> = { ok: 0, typed: 0, 'no-file': 0, internal: 0, hang: 0 };
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const failures: Failure[] = [];
  const setupRssKb = process.resourceUsage().maxRSS;
  // Peak RSS only grows: what the cases add is what grows past the setup's peak.
  const dir = opts.cliEvery ? mkdtempSync(join(tmpdir(), 'btfkit-fuzz-')) : undefined;
  let cliRuns = 0;
  let slowestMs = 0;
  const from = opts.from ?? 0;
  try {
    for (let i = from; i < from + opts.count; i++) {
      const c = makeCase(inputs, opts.seed, i);
      byKind[c.kind]++;
      const res = classify(inputs, c, hangMs);
      slowestMs = Math.max(slowestMs, res.ms);
      counts[res.outcome]++;
      if (res.outcome !== 'ok' && res.outcome !== 'typed')
        failures.push({ index: i, kind: c.kind, outcome: res.outcome, how: c.how, message: res.message });
      else if (
        res.outcome === 'typed' &&
        !res.message?.includes(c.file) &&
        !namesPartner(inputs, c, res.message)
      )
        failures.push({ index: i, kind: c.kind, outcome: 'no-file', how: c.how, message: res.message });
      if (dir && opts.cliEvery && (i - from) % opts.cliEvery === 0) {
        cliRuns++;
        const bad = cliCheck(inputs, c, dir, opts.cliTimeoutMs ?? 60_000);
        if (bad) failures.push({ index: i, kind: c.kind, outcome: 'cli', how: c.how, message: bad });
      }
      if ((i - from + 1) % GC_EVERY === 0) {
        // A turn of the event loop first: objects a WeakRef was made to or deref'd (the BTF
        // kit's last scan) stay alive until the current job ends, as they do between a CLI's
        // or a plugin's turns; a synchronous loop of 20,000 cases would keep them all.
        await new Promise((resolve) => setImmediate(resolve));
        gc();
      }
      if ((i - from + 1) % 1000 === 0) opts.progress?.(i - from + 1);
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  const peakRssKb = process.resourceUsage().maxRSS;
  return {
    seed: opts.seed,
    cases: opts.count,
    counts,
    byKind,
    cliRuns,
    failures,
    setupRssKb,
    peakRssKb,
    largestInput: inputs.largest,
    rssBoundKb: setupRssKb + Math.ceil((RSS_BOUND_FACTOR * inputs.largest) / 1024) + RSS_SLACK_KB,
    slowestMs,
  };
}

/** An error about an undamaged partner input may name that one (a damaged kernel's object). */
function namesPartner(inputs: Inputs, c: Case, message = ''): boolean {
  if (c.kind === 'kernel' || c.kind === 'archive')
    return message.includes(inputs.objects[c.partner]?.name ?? '\0');
  return false;
}

const KERNEL_ARCHIVE = (release: string) =>
  join(
    CORPUS,
    'kernels/debian',
    release.startsWith('5.10') ? '11' : '12',
    release.includes('arm64') ? 'arm64' : 'x86_64',
    `${release}.btf.tar.xz`,
  );

/** The CLI on the case's file: exit 0/1 in time, an error only as one line naming the file. */
function cliCheck(inputs: Inputs, c: Case, dir: string, timeout: number): string | undefined {
  const path = join(dir, c.file);
  writeFileSync(path, c.bytes);
  const kernel = inputs.kernels[c.partner]?.name.replace(/\.btf$/, '') ?? '';
  const object = join(CORPUS, 'objects', inputs.objects[c.partner]?.name ?? '');
  const commands: string[][] =
    c.kind === 'object' || c.kind === 'compat-insn' || c.kind === 'runtime-insn'
      ? [
          ['compat', '--kernels', KERNEL_ARCHIVE(kernel), path],
          ['relocate', path, KERNEL_ARCHIVE(kernel)],
        ]
      : c.kind === 'split'
        ? [['dump', '--base', join(CORPUS, `kernels/debian/12/x86_64/${MODULES_KERNEL}.btf.tar.xz`), path]]
        : [
            ['dump', path],
            ['dump', '--format', 'c', path],
            ['compat', '--kernels', path, object],
          ];
  try {
    for (const args of commands) {
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts/btfkit.cjs'), ...args], {
        timeout,
        maxBuffer: 1 << 28,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const stderr = r.stderr?.toString() ?? '';
      const what = `btfkit ${args[0]} (${c.file})`;
      if (r.signal) return `${what}: killed by ${r.signal} (hang?)`;
      if (r.status !== 0 && r.status !== 1) return `${what}: exit ${r.status}: ${stderr}`;
      const lines = stderr.trimEnd().split('\n').filter(Boolean);
      if (lines.length === 0) continue;
      if (lines.length > 1 && r.status === 1 && !/^btfkit /.test(lines[0] ?? '')) continue; // reports
      const err = lines.find((l) => l.startsWith(`btfkit ${args[0]}: `));
      if (err && !err.includes(c.file) && !err.includes(object))
        return `${what}: error without the file: ${err}`;
    }
  } finally {
    rmSync(path, { force: true });
  }
  return undefined;
}

export function summary(r: FuzzReport): string {
  const c = r.counts;
  return [
    `fuzz seed ${r.seed}: ${r.cases} cases (${KINDS.map((k) => `${k} ${r.byKind[k]}`).join(', ')}), ${r.cliRuns} through the CLI`,
    `  ok ${c.ok}, typed errors naming the file ${c.typed}; internal errors ${c.internal}, hangs ${c.hang}, messages without a file name ${c['no-file']}; failures ${r.failures.length}`,
    `  peak RSS ${(r.peakRssKb / 1024).toFixed(0)} MiB (after loading inputs ${(r.setupRssKb / 1024).toFixed(0)} MiB; bound ${(r.rssBoundKb / 1024).toFixed(0)} MiB = setup + ${RSS_BOUND_FACTOR} x largest input ${(r.largestInput / 1024).toFixed(0)} KiB + ${RSS_SLACK_KB / 1024} MiB); slowest case ${r.slowestMs.toFixed(0)} ms`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const arg = (name: string, dflt: number) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const only = argv.includes('--only') ? arg('only', 0) : undefined;
  const seed = arg('seed', 15);
  const count = only === undefined ? arg('count', 100_000) : 1;
  const report = await runFuzz({
    seed,
    count,
    from: only ?? arg('from', 0),
    cliEvery: arg('cli-every', 1000),
    progress: (n) => process.stderr.write(`\r${n}/${count}`),
  });
  process.stderr.write('\n');
  for (const f of report.failures.slice(0, 50))
    process.stdout.write(
      `case ${f.index} (${f.kind}, ${f.outcome}): ${f.how}\n  ${f.message?.split('\n').slice(0, 6).join('\n  ')}\n`,
    );
  process.stdout.write(`${summary(report)}\n`);
  return report.failures.length === 0 && report.peakRssKb <= report.rssBoundKb ? 0 : 1;
}

if (process.argv[1]?.endsWith('fuzz/run.ts'))
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
