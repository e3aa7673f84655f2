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
 *    Per-record JavaScript consumers are compared with Go's per-record readers, columnar
 *    batches with libbpf;
 *  - memory: RSS over 10 M events taken as columnar batches.
 * BENCH_RUNTIME=load or =ring runs one half only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadObject, type RingBuffer } from '../packages/runtime/src/index.ts';
import { koffi } from '../packages/runtime/src/sys/libc.ts';
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

/** struct sample: u64 seq, u32 pid, u32 index, u64 ts, char comm[16]. */
interface Sample {
  seq: bigint;
  pid: number;
  index: number;
  ts: bigint;
  comm: string;
}

/**
 * Decoded samples land in these arrays, as the C side's land in `sink[]`: every field is read
 * and kept, so neither side's compiler can skip a field.
 */
const SINK = 256;
const sinkSeq: bigint[] = new Array(SINK).fill(0n);
const sinkTs: bigint[] = new Array(SINK).fill(0n);
const sinkComm: string[] = new Array(SINK).fill('');
let sinkNum = 0;
let sunk = 0;
function touch(s: Sample): void {
  const j = sunk++ & (SINK - 1);
  sinkSeq[j] = s.seq;
  sinkTs[j] = s.ts;
  sinkComm[j] = s.comm;
  sinkNum += s.pid + s.index;
}

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
 * all five fields of every sample into its own storage (see touch() and on_sample()).
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

  const getppid = koffi.load('libc.so.6').func('int getppid()') as () => number;
  const obj = await loadObject(new Uint8Array(readFileSync(ringObj)), {
    file: ringObj,
    globals: { rodata: { target_pid: process.pid } },
  });
  const rows: BenchRow[] = [];
  try {
    await obj.attach();
    const rb = obj.ringbuf<Sample & { toJSON(): Sample }>('samples', { type: 'sample' });
    // One timed round of a JavaScript consumer (after an untimed one per consumer, for the
    // JIT, as the C and Go sides do).
    const drainOnce = async (how: () => Promise<number> | number): Promise<Round> => {
      for (let i = 0; i < CALLS; i++) getppid();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const n = await how();
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      return [ms, n, (c.user + c.system) / 1e3];
    };
    // Columnar consumers: the batch's decode copies every field of every sample into its
    // column (the reading); the loop then sums the 32-bit columns, as the C side's checksum.
    const columnar = (b: { length: number; columns: Record<string, unknown> }) => {
      const pid = b.columns.pid as Uint32Array;
      const index = b.columns.index as Uint32Array;
      let x = 0;
      for (let i = 0; i < b.length; i++) x += (pid[i] as number) + (index[i] as number);
      sinkNum += x;
    };
    const checkColumns = () => {
      // What the columns hold is what the BPF program wrote: consecutive seq, our pid, the
      // burst index, our task name.
      for (let i = 0; i < CALLS; i++) getppid();
      const comm = readFileSync('/proc/self/comm', 'utf8').trim();
      let n = 0;
      let prev = -1n;
      for (let b = rb.columns(); b.length > 0; b = rb.columns()) {
        const seq = b.columns.seq as BigUint64Array;
        for (let i = 0; i < b.length; i++, n++) {
          const s = seq[i] as bigint;
          const ok =
            (prev < 0n || s === prev + 1n) &&
            (b.columns.pid as Uint32Array)[i] === process.pid &&
            (b.columns.index as Uint32Array)[i] === Number(s % 64n) &&
            (b.columns.comm as { string(i: number): string }).string(i) === comm;
          if (!ok) throw new Error(`ring buffer columns: sample ${n} is not what ringbench.bpf.o wrote`);
          prev = s;
        }
      }
      if (n !== want) throw new Error(`ring buffer columns: a round gave ${n} samples, not ${want}`);
    };
    checkColumns();
    type Ref = 'libbpf' | 'readinto' | 'read';
    const cases: [string, Ref, () => Promise<number> | number][] = [
      [
        'ringbuf columns(), every field into typed-array columns',
        'libbpf',
        () => {
          let n = 0;
          for (let b = rb.columns(); b.length > 0; b = rb.columns()) {
            columnar(b);
            n += b.length;
          }
          return n;
        },
      ],
      [
        'ringbuf for-await columnBatches(), every field into columns',
        'libbpf',
        async () => {
          let n = 0;
          for await (const b of rb.columnBatches()) {
            columnar(b);
            n += b.length;
            if (n >= want) break;
          }
          return n;
        },
      ],
      [
        'ringbuf read() batches, lazy views',
        'readinto',
        () => {
          let n = 0;
          for (let b = rb.read(); b.length > 0; b = rb.read()) {
            for (let i = 0; i < b.length; i++) touch(b.at(i));
            n += b.length;
          }
          return n;
        },
      ],
      [
        'ringbuf for-await batches(), lazy views',
        'readinto',
        async () => {
          let n = 0;
          for await (const b of rb.batches()) {
            for (const s of b) touch(s);
            n += b.length;
            if (n >= want) break;
          }
          return n;
        },
      ],
      [
        'ringbuf for-await per record, lazy views',
        'read',
        async () => {
          let n = 0;
          for await (const s of rb) {
            touch(s);
            if (++n === want) break;
          }
          return n;
        },
      ],
      [
        // What laziness buys: only the two 32-bit fields read (no bigint, no string made).
        'ringbuf read() batches, lazy views, pid+index only',
        'readinto',
        () => {
          let n = 0;
          for (let b = rb.read(); b.length > 0; b = rb.read()) {
            for (let i = 0; i < b.length; i++) {
              const s = b.at(i);
              sinkNum += s.pid + s.index;
            }
            n += b.length;
          }
          return n;
        },
      ],
      [
        'ringbuf read() batches, eager decode (toJSON)',
        'read',
        () => {
          let n = 0;
          for (let b = rb.read(); b.length > 0; b = rb.read()) {
            for (let i = 0; i < b.length; i++) touch(b.at(i).toJSON());
            n += b.length;
          }
          return n;
        },
      ],
    ];
    // Warm-up: an untimed round of every JavaScript consumer. Then turns, the order rotating.
    for (const [, , how] of cases) await drainOnce(how);
    const lib: Round[] = [];
    const goRounds: Record<'readinto' | 'read', Round[]> = { readinto: [], read: [] };
    const goFailed = new Set<string>();
    const jsRounds: Round[][] = cases.map(() => []);
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
      ...cases.map(([, , how], k) => async () => {
        (jsRounds[k] as Round[]).push(await drainOnce(how));
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
    const row = (name: string, rounds: Round[], ref: Ref): BenchRow => {
      const r = refs[ref].rounds ?? lib;
      const refName = refs[ref].rounds ? refs[ref].name : refs.libbpf.name;
      const ns = cpuNs(rounds);
      const refNs = cpuNs(r);
      return {
        case: `${name}, CPU ms per 1M events`,
        ms: ns,
        ref: refName,
        refMs: refNs,
        note: `${(refNs / ns).toFixed(2)}x its events/s; CPU ${rate(ns)} vs ${rate(refNs)}, wall ${rate(wallNs(rounds))} vs ${rate(wallNs(r))}`,
      };
    };
    const measured: [string, Round[], Ref][] = [];
    for (const mode of ['readinto', 'read'] as const) {
      const r = goOf(mode);
      if (r) measured.push([`Go cilium/ebpf ${mode === 'read' ? 'Read()' : 'ReadInto'}`, r, 'libbpf']);
    }
    if (bcc) measured.push(['Python BCC ring_buffer_consume (ctypes callback)', bcc, 'libbpf']);
    cases.forEach(([name, ref], k) => {
      const rounds = jsRounds[k] as Round[];
      const bad = rounds.find(([, n]) => n !== want);
      if (bad) log(`${name}: a round took ${bad[1]} events, not ${want}`);
      measured.push([name, rounds, ref]);
    });
    for (const [name, rounds, ref] of measured) rows.push(row(name, rounds, ref));
    rows.push(await rssOverColumns(rb, getppid, log));
    log(`ring buffer: kernel drops ${obj.global('bss', 'dropped')}; sink ${sinkNum > 0}`);
  } finally {
    await obj.close();
  }
  return rows;
}

/** Events for the memory row: columnar batches over 10 M events. */
const RSS_EVENTS = 10_000_000;

/**
 * RSS while 10 M events are taken as columnar batches: after the first round (arrays made,
 * code compiled) and at the end. Flat means the batches reuse their arrays.
 */
async function rssOverColumns(
  rb: RingBuffer<unknown>,
  getppid: () => number,
  log: (line: string) => void,
): Promise<BenchRow> {
  let n = 0;
  let first = 0;
  const t0 = performance.now();
  while (n < RSS_EVENTS) {
    for (let i = 0; i < CALLS; i++) getppid();
    for (let b = rb.columns(); b.length > 0; b = rb.columns()) n += b.length;
    if (first === 0) first = process.memoryUsage().rss;
  }
  const last = process.memoryUsage().rss;
  const mib = (x: number) => x / 2 ** 20;
  log(
    `columnar batches: ${n} events in ${((performance.now() - t0) / 1e3).toFixed(1)} s (ring filling included)`,
  );
  return {
    case: `RSS after ${(n / 1e6).toFixed(1)} M events as columnar batches (MiB)`,
    ms: mib(last),
    ref: 'RSS after the first 262k events',
    refMs: mib(first),
    note: `${(mib(last) - mib(first)).toFixed(1)} MiB grown; goal: flat (ratio ~1.0)`,
  };
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
