/**
 * @btfkit/runtime against libbpf (and the consumers users compare us with) on the running
 * kernel (root needed), in the same run:
 *  - open + load + attach + close of corpus objects whose programs all attach here, in
 *    process: loadObject() + attach() + close() vs bpf_object__open/load + bpf_program__attach
 *    (bench/runtime-libbpf.c, built here against Debian's libbpf 1.1); and the first load in a
 *    fresh process (the running kernel's BTF read then; the built dist/, not the sources
 *    under tsx) against libbpf's first in its own;
 *  - ring buffer events received and decoded: the kernel fills a 16 MiB ring
 *    (test/fixtures/runtime/ringbench.bpf.o, 64 samples per getppid()), then the consumer
 *    drains it; only the draining is timed, as CPU time per event (the machine is shared: wall
 *    time also counts other processes' turns; both are in the notes). Every consumer reads
 *    every field of every sample into its own storage: libbpf's ring_buffer__consume() with a
 *    C callback, Go's cilium/ebpf 0.9.1 ringbuf.Reader (ReadInto and Read;
 *    bench/runtime-go), Python BCC when it can compile here, and btfkit's columnar batches,
 *    zero-copy views, per-record iterator and eager decode, taking turns round by round.
 *    btfkit's consumers run from the built package (dist/) under plain `node`, in a process
 *    of their own (bench/runtime-ring.mjs), as users run them: not in this one, whose tsx
 *    loader slows typed-array access for the whole process. Per-record JavaScript consumers
 *    are compared with Go's per-record readers, columnar batches with libbpf;
 *  - memory: RSS over 10 M events taken as columnar batches (in that same process).
 * BENCH_RUNTIME=load or =ring runs one half only.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadObject } from '../packages/runtime/src/index.ts';
import { type BenchRow, builtPackages, median, ROOT, RUNS } from './lib.ts';

const OBJECTS = [
  'execsnoop',
  'opensnoop',
  'runqlat',
  'exitsnoop',
  'tcpstates',
  'bitesize',
  'biopattern',
  'tcplife',
];
const ROUNDS = 5;
/** Objects whose first load in a fresh process is measured. */
const FIRST_LOAD = ['execsnoop', 'opensnoop', 'runqlat'];
/** BENCH_RUNTIME=load or =ring runs only that half. */
const only = process.env.BENCH_RUNTIME;
const CALLS = 4096; // × 64 samples = 262,144 per round, 12 MiB of the 16 MiB ring

export default async function benchRuntime(log: (line: string) => void): Promise<BenchRow[]> {
  if (process.getuid?.() !== 0) {
    log('skipped: loading BPF needs root');
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-bench-rt-'));
  try {
    return await benchIn(dir, log);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The runtime rows, with the libbpf harness built into `dir`. */
async function benchIn(dir: string, log: (line: string) => void): Promise<BenchRow[]> {
  const harness = join(dir, 'runtime-libbpf');
  execFileSync('gcc', [
    '-O2',
    '-o',
    harness,
    join(ROOT, 'bench/runtime-libbpf.c'),
    '-l:libbpf.a',
    '-lelf',
    '-lz',
  ]);
  const rows: BenchRow[] = [];

  for (const name of only === 'ring' ? [] : OBJECTS) {
    const path = join(ROOT, 'test/corpus/objects', `${name}.bpf.o`);
    const bytes = new Uint8Array(readFileSync(path));
    const ours: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const t0 = performance.now();
      const obj = await loadObject(bytes, { file: path });
      await obj.attach();
      await obj.close();
      const ms = performance.now() - t0;
      if (i === 0)
        log(`${name}: first load ${ms.toFixed(1)} ms (includes decoding vmlinux BTF once per process)`);
      else ours.push(ms);
    }
    const theirs = (
      JSON.parse(execFileSync(harness, ['load', path, String(RUNS)], { encoding: 'utf8' })) as [
        number,
        number,
      ][]
    ).map(([ms]) => ms);
    rows.push({
      case: `${name} open+load+attach+close`,
      ms: median(ours),
      ref: 'libbpf 1.1',
      refMs: median(theirs),
    });
  }

  if (only !== 'ring') builtPackages(log);
  for (const name of only === 'ring' ? [] : FIRST_LOAD) rows.push(...firstLoad(harness, name));
  if (only !== 'load') rows.push(...(await benchRing(harness, log)));
  return rows;
}

/** Fresh processes per first-load case (each gives one first load). */
const FRESH = 5;

/**
 * A first load's wall and CPU ms: the whole (with close), then up to attached; ours then
 * gives the import of @btfkit/runtime that preceded it.
 */
type FirstLoad = [number, number, number, number, number?, number?];

/**
 * The first load of `path` in a fresh process, ours (bench/runtime-first-load.mjs: the built
 * package, as a user runs it) and libbpf's (its harness's first run), FRESH processes each,
 * interleaved. Two rows: open+load+attach (the goal's measure) and with close, whose wall is
 * mostly the kernel's grace periods for perf event links (LoadedObject.close() overlaps them,
 * libbpf's bpf_link__destroy waits them out in turn).
 */
function firstLoad(harness: string, name: string): BenchRow[] {
  const path = join(ROOT, 'test/corpus/objects', `${name}.bpf.o`);
  const ours: FirstLoad[] = [];
  const theirs: FirstLoad[] = [];
  for (let i = 0; i < FRESH; i++) {
    const out = execFileSync(process.execPath, [join(ROOT, 'bench/runtime-first-load.mjs'), path], {
      encoding: 'utf8',
      cwd: ROOT,
    });
    ours.push(out.trim().split(/\s+/).map(Number) as FirstLoad);
    const lib = JSON.parse(execFileSync(harness, ['load', path, '1'], { encoding: 'utf8' })) as FirstLoad[];
    theirs.push(lib[0] as FirstLoad);
  }
  const at = (xs: FirstLoad[], k: number) => median(xs.map((x) => x[k] as number));
  const cpu = (k: number) => `CPU ${at(ours, k).toFixed(0)} vs ${at(theirs, k).toFixed(0)} ms`;
  const ref = 'libbpf 1.1, its first in a fresh process';
  return [
    {
      case: `${name} first open+load+attach in a fresh process`,
      ms: at(ours, 2),
      ref,
      refMs: at(theirs, 2),
      note: `goal <= 1.0x; ${cpu(3)} (wall also waits on the kernel, and other processes); before it, import of @btfkit/runtime ${at(ours, 4).toFixed(0)} ms (CPU ${at(ours, 5).toFixed(0)})`,
    },
    {
      case: `${name} first open+load+attach+close in a fresh process`,
      ms: at(ours, 0),
      ref,
      refMs: at(theirs, 0),
      note: `${cpu(1)}; close waits on the kernel's grace periods`,
    },
  ];
}

/** One round of a consumer: wall ms, events, CPU ms (as the C and Go harnesses print). */
type Round = [number, number, number];

const SCRATCH = join(tmpdir(), 'btfkit-bench-go');

/**
 * Builds bench/runtime-go with Debian's Go and cilium/ebpf 0.9.1 in GOPATH mode (offline; the
 * build cache is kept in the temp dir between runs). Undefined with the reason when it cannot.
 */
function buildGo(log: (line: string) => void): string | undefined {
  const out = join(SCRATCH, 'runtime-go');
  const src = '/usr/share/gocode/src/github.com/cilium/ebpf';
  if (!existsSync(src)) {
    log(`Go rows skipped: ${src} is missing (Debian package golang-github-cilium-ebpf-dev)`);
    return undefined;
  }
  try {
    execFileSync('go', ['build', '-o', out, 'main.go'], {
      cwd: join(ROOT, 'bench/runtime-go'),
      env: {
        ...process.env,
        GOPATH: '/usr/share/gocode',
        GO111MODULE: 'off',
        GOFLAGS: '',
        GOCACHE: join(SCRATCH, 'cache'),
      },
      stdio: 'pipe',
    });
    return out;
  } catch (e) {
    log(`Go rows skipped: go build failed: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
    return undefined;
  }
}

/**
 * Runs a harness that attaches through /sys/kernel/debug/tracing (cilium/ebpf 0.9.1, BCC) in a
 * private mount namespace with debugfs and tracefs mounted there: the host's mounts stay as
 * they are, and the mounts go away with the process.
 */
function inTracingNamespace(cmd: string[], env?: NodeJS.ProcessEnv): string {
  const mount =
    'mount -t debugfs none /sys/kernel/debug && mount -t tracefs none /sys/kernel/debug/tracing && exec "$@"';
  return execFileSync('unshare', ['-m', 'sh', '-c', mount, 'sh', ...cmd], {
    encoding: 'utf8',
    env: env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Ring buffer throughput: per round, CALLS getppid() fill the ring with 64 samples each, then
 * the consumer drains it; only the draining is timed. Every consumer, libbpf's included, reads
 * all five fields of every sample into its own storage (see touch() in runtime-ring.mjs and
 * on_sample() in runtime-libbpf.c).
 */
async function benchRing(harness: string, log: (line: string) => void): Promise<BenchRow[]> {
  const ringObj = join(ROOT, 'test/fixtures/runtime/ringbench.bpf.o');
  const want = CALLS * 64;
  // The contenders take turns, one round each per turn, in an order that rotates: the
  // machine is shared and its load drifts over the minutes this takes, and every consumer
  // should see the same drift. Each harness process drains one untimed round (warm-up) and
  // then `rounds` timed ones.
  const libRun = (rounds: number) =>
    (
      JSON.parse(
        execFileSync(harness, ['ringbuf', ringObj, String(rounds), String(CALLS)], { encoding: 'utf8' }),
      ) as { rounds: Round[] }
    ).rounds;
  const go = buildGo(log);
  const goRun = (mode: 'readinto' | 'read'): Round[] | undefined => {
    if (!go) return undefined;
    try {
      const out = inTracingNamespace([go, ringObj, '1', String(CALLS), mode]);
      return (JSON.parse(out) as { rounds: Round[] }).rounds;
    } catch (e) {
      log(`Go ${mode}: failed: ${String((e as { stderr?: string }).stderr ?? e)}`);
      return undefined;
    }
  };
  const bcc = benchBcc(log);

  const js = await RingConsumers.start(ringObj, log);
  const rows: BenchRow[] = [];
  try {
    const cases = js.cases;
    const lib: Round[] = [];
    const goRounds: Record<'readinto' | 'read', Round[]> = { readinto: [], read: [] };
    const goFailed = new Set<string>();
    const jsRounds: Round[][] = cases.map(() => []);
    // Turns, the order rotating (the JavaScript consumers warmed up in their process).
    const turns: (() => Promise<void>)[] = [
      async () => {
        lib.push(...libRun(1));
      },
      ...(['readinto', 'read'] as const).map((mode) => async () => {
        if (goFailed.has(mode)) return;
        const r = goRun(mode);
        if (r) goRounds[mode].push(...r);
        else goFailed.add(mode);
      }),
      ...cases.map((_, k) => async () => {
        (jsRounds[k] as Round[]).push(await js.round(k));
      }),
    ];
    for (let r = 0; r < ROUNDS; r++)
      for (let k = 0; k < turns.length; k++) await (turns[(k + r) % turns.length] as () => Promise<void>)();
    // The shared machine makes single rounds noisy: the median round's ns per event.
    const cpuNs = (rounds: Round[]) => median(rounds.map(([, n, cpu]) => (cpu * 1e6) / n));
    const wallNs = (rounds: Round[]) => median(rounds.map(([ms, n]) => (ms * 1e6) / n));
    const rate = (ns: number) => `${(1e3 / ns).toFixed(1)} M/s`;
    const goOf = (mode: 'readinto' | 'read') => (goFailed.has(mode) ? undefined : goRounds[mode]);
    const refs: Record<Ref, { name: string; rounds: Round[] | undefined }> = {
      libbpf: { name: 'libbpf ring_buffer__consume', rounds: lib },
      readinto: { name: 'Go cilium/ebpf 0.9.1 ReadInto', rounds: goOf('readinto') },
      read: { name: 'Go cilium/ebpf 0.9.1 Read()', rounds: goOf('read') },
    };
    const row = (name: string, rounds: Round[], ref: Ref, built: boolean): BenchRow => {
      const r = refs[ref].rounds ?? lib;
      const refName = refs[ref].rounds ? refs[ref].name : refs.libbpf.name;
      const ns = cpuNs(rounds);
      const refNs = cpuNs(r);
      return {
        case: `${name}, CPU ms per 1M events`,
        ms: ns,
        ref: refName,
        refMs: refNs,
        note: `${(refNs / ns).toFixed(2)}x its events/s; CPU ${rate(ns)} vs ${rate(refNs)}, wall ${rate(wallNs(rounds))} vs ${rate(wallNs(r))}${built ? '; built dist/ under plain node' : ''}`,
      };
    };
    const measured: [string, Round[], Ref, boolean][] = [];
    for (const mode of ['readinto', 'read'] as const) {
      const r = goOf(mode);
      if (r) measured.push([`Go cilium/ebpf ${mode === 'read' ? 'Read()' : 'ReadInto'}`, r, 'libbpf', false]);
    }
    if (bcc) measured.push(['Python BCC ring_buffer_consume (ctypes callback)', bcc, 'libbpf', false]);
    cases.forEach(([name, ref], k) => {
      const rounds = jsRounds[k] as Round[];
      const bad = rounds.find(([, n]) => n !== want);
      if (bad) log(`${name}: a round took ${bad[1]} events, not ${want}`);
      measured.push([name, rounds, ref, true]);
    });
    for (const [name, rounds, ref, built] of measured) rows.push(row(name, rounds, ref, built));
    rows.push(await js.rss(log));
  } finally {
    await js.close(log);
  }
  return rows;
}

/** The consumer a JavaScript case is compared with: libbpf's, Go's ReadInto or Go's Read(). */
type Ref = 'libbpf' | 'readinto' | 'read';

/** Events for the memory row: columnar batches over 10 M events. */
const RSS_EVENTS = 10_000_000;

/**
 * The JavaScript consumers, run from the built package in a process of their own
 * (bench/runtime-ring.mjs: the built dist/ under plain `node`, as users run it; tsx's module
 * hooks slow typed-array access for the whole process they run in). It loads ringbench.bpf.o
 * for its own pid, checks the columns against what the program wrote, warms every consumer
 * up, then answers one request at a time, so that its rounds take turns with the C and Go
 * harnesses'.
 */
class RingConsumers {
  /** Each consumer's name and the reference it is compared with, as the process lists them. */
  cases: [string, Ref][] = [];
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
  }

  static async start(ringObj: string, log: (line: string) => void): Promise<RingConsumers> {
    builtPackages(log);
    const me = new RingConsumers(
      spawn(process.execPath, [join(ROOT, 'bench/runtime-ring.mjs'), ringObj, String(CALLS)], { cwd: ROOT }),
    );
    me.cases = ((await me.next()) as { cases: [string, Ref][] }).cases;
    return me;
  }

  /** One timed round of consumer `k`: it fills the ring and drains it. */
  async round(k: number): Promise<Round> {
    return (await this.ask(`round ${k}`)) as Round;
  }

  /** RSS over RSS_EVENTS events as columnar batches: after the first round, and at the end. */
  async rss(log: (line: string) => void): Promise<BenchRow> {
    const r = (await this.ask(`rss ${RSS_EVENTS}`)) as {
      events: number;
      first: number;
      last: number;
      seconds: number;
    };
    const mib = (x: number) => x / 2 ** 20;
    log(`columnar batches: ${r.events} events in ${r.seconds.toFixed(1)} s (ring filling included)`);
    return {
      case: `RSS after ${(r.events / 1e6).toFixed(1)} M events as columnar batches (MiB)`,
      ms: mib(r.last),
      ref: 'RSS after the first 262k events',
      refMs: mib(r.first),
      note: `${(mib(r.last) - mib(r.first)).toFixed(1)} MiB grown; goal: flat (ratio ~1.0); built dist/ under plain node`,
    };
  }

  /** Has the process close its object and exit; logs the kernel's drop count. */
  async close(log: (line: string) => void): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    try {
      const r = (await this.ask('close')) as { dropped: string; sink: boolean };
      log(`ring buffer: kernel drops ${r.dropped}; sink ${r.sink}`);
    } finally {
      this.child.stdin.end();
    }
    await exited;
  }

  private async ask(request: string): Promise<unknown> {
    this.child.stdin.write(`${request}\n`);
    return this.next();
  }

  private async next(): Promise<unknown> {
    const { value, done } = await this.lines.next();
    if (done) {
      await new Promise((resolve) =>
        this.child.exitCode === null ? this.child.once('exit', resolve) : resolve(0),
      );
      throw new Error(`bench/runtime-ring.mjs exited (${this.child.exitCode}): ${this.stderr.trim()}`);
    }
    return JSON.parse(value);
  }
}

/** Rounds of the BCC consumer (about a second each: its callback is Python). */
const BCC_ROUNDS = 3;

/**
 * Python BCC (Debian's python3-bpfcc) on the same stream, compiled by BCC at run time. There
 * are no headers for the running kernel; Debian's linux-headers-*-amd64 and -common trees,
 * merged into one folder of links, serve as BCC_KERNEL_SOURCE. Undefined, with the reason
 * logged, when something is missing or BCC cannot compile here.
 */
function benchBcc(log: (line: string) => void): Round[] | undefined {
  const python = '/usr/bin/python3';
  if (!existsSync('/usr/lib/python3/dist-packages/bcc')) {
    log('Python BCC row skipped: python3-bpfcc is not installed (apt-get install python3-bpfcc)');
    return undefined;
  }
  const src = existsSync('/usr/src') ? readdirSync('/usr/src') : [];
  const common = src.filter((d) => /^linux-headers-.*-common$/.test(d)).sort();
  const pair = common
    .map((c) => [c, c.replace(/-common$/, '-amd64')] as const)
    .filter(([, a]) => src.includes(a))
    .pop();
  if (!pair) {
    log('Python BCC row skipped: no Debian linux-headers-*-amd64 with its -common tree under /usr/src');
    return undefined;
  }
  const merged = join(SCRATCH, 'bcc-kernel');
  if (!existsSync(join(merged, 'include'))) {
    mkdirSync(merged, { recursive: true });
    execFileSync('cp', ['-rs', `/usr/src/${pair[0]}/.`, `${merged}/`]);
    execFileSync('cp', ['-rsf', `/usr/src/${pair[1]}/.`, `${merged}/`]);
  }
  try {
    const out = inTracingNamespace(
      [python, join(ROOT, 'bench/runtime-bcc.py'), String(BCC_ROUNDS), String(CALLS)],
      { ...process.env, BCC_KERNEL_SOURCE: merged },
    );
    return (JSON.parse(out.trim().split('\n').pop() as string) as { rounds: Round[] }).rounds;
  } catch (e) {
    const why = String((e as { stderr?: string }).stderr ?? e)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' / ');
    log(`Python BCC row skipped: it failed here: ${why}`);
    return undefined;
  }
}
