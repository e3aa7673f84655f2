// End to end on the running kernel: test/fixtures/runtime/exectrace.bpf.c (built by build.sh
// with clang-19) traces the execs of this process's children. We spawn processes and check the
// events against what we spawned; check globals set before load take effect; read its maps;
// attach every kind the kernel supports; and check nothing of ours is left after close().
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelError, type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { possibleCpus } from '../packages/runtime/src/sys/cpus.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/runtime');
const exectrace = new Uint8Array(readFileSync(join(FIXTURES, 'exectrace.bpf.o')));
const work = mkdtempSync(join(tmpdir(), 'btfkit-rt-e2e-'));
const uprobeTarget = join(work, 'uprobe_target');

interface ExecEvent {
  pid: number;
  ppid: number;
  seq: bigint | number;
  comm: string;
  filename: string;
}

const fdCount = (): number => readdirSync('/proc/self/fd').length;
const bpftool = <T>(...args: string[]): T =>
  JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' })) as T;

/** Runs `file` with `args` as a child of this process; resolves to its pid once it exited. */
function run(file: string, args: string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid as number));
  });
}

/** Takes events from `iter` until `done` says so or `ms` pass. */
async function collect<T>(iter: AsyncIterable<T>, done: (seen: T[]) => boolean, ms: number): Promise<T[]> {
  const seen: T[] = [];
  const it = iter[Symbol.asyncIterator]();
  const deadline = Date.now() + ms;
  while (!done(seen)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), left);
      }),
    ]);
    clearTimeout(timer);
    if (r === 'timeout' || r.done) break;
    seen.push(r.value);
  }
  return seen;
}

beforeAll(() => {
  execFileSync('gcc', ['-O1', '-o', uprobeTarget, join(FIXTURES, 'uprobe_target.c')]);
});

describe('exectrace end to end', () => {
  let obj: LoadedObject;
  let fdsBefore = 0;
  let progIds: number[] = [];
  let mapIds: number[] = [];

  beforeAll(async () => {
    fdsBefore = fdCount();
    obj = await loadObject(exectrace, {
      file: 'exectrace.bpf.o',
      globals: { rodata: { target_ppid: process.pid, use_perf: true } },
    });
    progIds = Object.values(obj.programs).map((p) => p.id);
    mapIds = Object.values(obj.maps).map((m) => m.id);
  });

  afterAll(async () => {
    await obj?.close();
  });

  it('loads all five programs with the kernel types their sections imply', () => {
    const types = Object.fromEntries(
      Object.values(obj.programs).map((p) => [
        p.name,
        bpftool<{ type: string }>('prog', 'show', 'id', String(p.id)).type,
      ]),
    );
    expect(types).toEqual({
      handle_exec: 'tracepoint',
      count_exec_btf: 'tracing',
      count_exec_raw: 'raw_tracepoint',
      count_uprobe: 'kprobe',
      count_kprobe: 'kprobe',
    });
  });

  it('froze .rodata with the values set before load', () => {
    const rodataId = obj.map('.rodata').id;
    const dump = bpftool<
      { formatted: { value: { '.rodata': { target_ppid?: number; use_perf?: boolean }[] } } }[]
    >('map', 'dump', 'id', String(rodataId));
    const vars = Object.assign({}, ...(dump[0]?.formatted.value['.rodata'] ?? []));
    expect(vars).toMatchObject({ target_ppid: process.pid, use_perf: true });
    expect(bpftool<{ frozen?: number }>('map', 'show', 'id', String(rodataId)).frozen).toBe(1);
    expect(obj.global('rodata', 'target_ppid')).toBe(process.pid);
  });

  it('delivers exec events of our children through the ring buffer and the perf buffer', async () => {
    const kprobes = existsSync('/sys/bus/event_source/devices/kprobe');
    await obj.attach({
      programs: {
        count_uprobe: { target: `${uprobeTarget}:btfkit_uprobe_target` },
        ...(kprobes ? {} : { count_kprobe: false as const }),
      },
    });
    const links = bpftool<{ prog_id: number }[]>('link', 'list');
    for (const name of ['handle_exec', 'count_exec_btf', 'count_exec_raw', 'count_uprobe']) {
      const id = obj.programs[name]?.id;
      expect(
        links.some((l) => l.prog_id === id),
        `${name} has a link`,
      ).toBe(true);
    }

    const rb = obj.ringbuf<ExecEvent>('events', { type: 'event' });
    const pb = obj.perfbuf<ExecEvent>('events_perf', { type: 'event' });
    const spawned = new Map<number, string>();
    for (const [file, comm] of [
      ['/bin/true', 'true'],
      ['/bin/sleep', 'sleep'],
      [uprobeTarget, 'uprobe_target'],
      ['/bin/true', 'true'],
    ] as const) {
      spawned.set(await run(file, file === '/bin/sleep' ? ['0'] : []), comm);
    }
    const ours = (s: ExecEvent[]) => s.filter((e) => spawned.has(e.pid));
    const events = await collect(rb, (s) => ours(s).length >= spawned.size, 10_000);
    // Only children of this process pass the filter (bpftool, run by this test, is one too).
    expect(events.filter((e) => e.ppid !== process.pid)).toEqual([]);
    expect(
      ours(events)
        .map((e) => ({ pid: e.pid, comm: e.comm }))
        .sort((a, b) => a.pid - b.pid),
    ).toEqual([...spawned].map(([pid, comm]) => ({ pid, comm })).sort((a, b) => a.pid - b.pid));
    expect(events.find((e) => e.comm === 'uprobe_target')?.filename).toBe(uprobeTarget);

    const perf = await collect(
      pb,
      (s) => s.filter((e) => 'data' in e && spawned.has(e.data.pid)).length >= spawned.size,
      10_000,
    );
    const perfPids = perf
      .map((e) => ('data' in e ? e.data.pid : -1))
      .filter((pid) => spawned.has(pid))
      .sort((a, b) => a - b);
    expect(perfPids).toEqual([...spawned.keys()].sort((a, b) => a - b));

    // Typed map access: the hash map counted every exec reported for our pid.
    const counts = obj.map<number, bigint | number>('exec_count');
    const reported = BigInt(events.length);
    expect(BigInt(counts.lookup(process.pid) as bigint)).toBeGreaterThanOrEqual(reported);
    expect([...counts.keys()]).toEqual([process.pid]);
    // Per-CPU: one value per possible CPU, summing to what was counted.
    const perCpu = obj.map<number, bigint>('per_cpu_execs').lookup(0) as unknown as bigint[];
    expect(perCpu.length).toBe(possibleCpus().length);
    expect(perCpu.reduce((a, b) => a + BigInt(b), 0n)).toBe(BigInt(counts.lookup(process.pid) as bigint));
    counts.update(4242, 7n);
    expect(BigInt(counts.lookup(4242) as bigint)).toBe(7n);
    expect(counts.delete(4242)).toBe(true);
    expect(counts.lookup(4242)).toBeUndefined();

    // tp_btf and raw_tp saw (at least) our execs; the uprobe fired once per uprobe_target run.
    expect(BigInt(obj.global('bss', 'btf_seen') as bigint)).toBeGreaterThanOrEqual(BigInt(spawned.size));
    expect(BigInt(obj.global('bss', 'raw_seen') as bigint)).toBeGreaterThanOrEqual(BigInt(spawned.size));
    expect(BigInt(obj.global('bss', 'uprobe_hits') as bigint)).toBe(1n);
    expect(events.map((e) => e.pid)).toContain(obj.global('data', 'last_pid'));
  });

  it('kprobes attach where the kernel has them, and say why not where it does not', async () => {
    const kprobes = existsSync('/sys/bus/event_source/devices/kprobe');
    if (kprobes) {
      const [link] = await obj.attach({
        programs: Object.fromEntries(
          Object.keys(obj.programs).map((n) => [n, n === 'count_kprobe' ? {} : false]),
        ),
      });
      await run('/bin/sleep', ['0.01']);
      expect(link?.kind).toBe('kprobe');
      expect(BigInt(obj.global('bss', 'kprobe_hits') as bigint)).toBeGreaterThan(0n);
    } else {
      const err = await obj
        .attach({
          programs: Object.fromEntries(
            Object.keys(obj.programs).map((n) => [n, n === 'count_kprobe' ? {} : false]),
          ),
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KernelError);
      expect((err as KernelError).kind).toBe('UNSUPPORTED');
      expect((err as Error).message).toMatch(/CONFIG_KPROBES/);
    }
  });

  it('leaves no programs, links, maps or fds behind after close()', async () => {
    await obj.close();
    // The kernel frees programs after an RCU grace period and maps from a workqueue after
    // that: give it a moment before looking.
    let progs: number[] = [];
    let links: number[] = [];
    let maps: number[] = [];
    for (let i = 0; i < 50; i++) {
      progs = bpftool<{ id: number }[]>('prog', 'list').map((p) => p.id);
      links = bpftool<{ prog_id: number }[]>('link', 'list').map((l) => l.prog_id);
      maps = bpftool<{ id: number }[]>('map', 'list').map((m) => m.id);
      if (![...progIds, ...mapIds].some((id) => progs.includes(id) || maps.includes(id))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(progIds.filter((id) => progs.includes(id))).toEqual([]);
    expect(progIds.filter((id) => links.includes(id))).toEqual([]);
    expect(mapIds.filter((id) => maps.includes(id))).toEqual([]);
    expect(fdCount()).toBe(fdsBefore);
  });
});

describe('globals set before load', () => {
  it('a pid filter naming another parent reports its children and none of ours', async () => {
    // A shell that waits for a line on stdin, then runs two children of its own.
    const sh = spawn('/bin/sh', ['-c', 'read x; /bin/true; /bin/true'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const shExit = new Promise((r) => sh.on('exit', r));
    // Flat by variable name, as the generated skeleton passes them.
    const obj = await loadObject(exectrace, {
      globals: { target_ppid: sh.pid },
      programs: ['handle_exec'],
    });
    try {
      await obj.attach();
      // The map's event tag (btf_decl_tag("event:struct event")) gives the record type.
      const rb = obj.maps.events as unknown as AsyncIterable<ExecEvent>;
      const mine = [await run('/bin/true'), await run('/bin/true')];
      sh.stdin?.end('go\n');
      await shExit;
      const events = await collect(rb, (s) => s.length >= 2, 5_000);
      expect(events.map((e) => ({ ppid: e.ppid, comm: e.comm }))).toEqual([
        { ppid: sh.pid, comm: 'true' },
        { ppid: sh.pid, comm: 'true' },
      ]);
      expect(events.filter((e) => mine.includes(e.pid))).toEqual([]);
      expect([...obj.map('exec_count').keys()]).toEqual([sh.pid]);
    } finally {
      await obj.close();
    }
  });
});

describe('verifier rejections', () => {
  it('name the poisoned CO-RE relocation in C terms, and leave nothing loaded', async () => {
    const before = fdCount();
    const err = await loadObject(new Uint8Array(readFileSync(join(FIXTURES, 'poisoned.bpf.o'))), {
      file: 'poisoned.bpf.o',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).kind).toBe('VERIFIER');
    expect((err as Error).message).toMatch(/task_struct\.btfkit_no_such_field/);
    expect((err as KernelError).log).toMatch(/invalid func unknown#195896080/);
    expect(fdCount()).toBe(before);
  });
});
