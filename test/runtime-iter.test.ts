// BPF iterators on the running kernel: test/fixtures/runtime-attach/iter.bpf.c prints one
// line per process (iter/task) and per BPF map (iter/bpf_map). What a pass reads must agree
// with /proc, with libbpf's pass over the same object (`bpftool iter pin`, read from a bpffs
// mounted here) and with `bpftool map show`, taken around it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BpfMap,
  IterLink,
  type Link,
  type LoadedObject,
  loadObject,
} from '../packages/runtime/src/index.ts';
import { compileBpf } from './fixtures/clang.ts';

const work = mkdtempSync(join(tmpdir(), 'btfkit-iter-'));
let obj: LoadedObject<Record<string, BpfMap>, 'dump_task' | 'dump_map'>;
let sleeper: ChildProcess;
const bpffs = join(work, 'bpffs');
let object = '';

/** "id name" lines → id → name. */
function lines(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const l of text.split('\n')) {
    if (!l) continue;
    const sp = l.indexOf(' ');
    out.set(Number(l.slice(0, sp)), l.slice(sp + 1));
  }
  return out;
}

const procPids = (): Set<number> =>
  new Set(
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number),
  );
const bpftoolMaps = (): Set<number> =>
  new Set(
    (
      JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { encoding: 'utf8' })) as { id: number }[]
    ).map((m) => m.id),
  );

/** One pass of the object's first iterator (iter/task) made and read by bpftool, through libbpf. */
function bpftoolTaskPass(): Map<number, string> {
  const pin = join(bpffs, 'task');
  execFileSync('bpftool', ['iter', 'pin', object, pin]);
  try {
    return lines(readFileSync(pin, 'utf8'));
  } finally {
    unlinkSync(pin);
  }
}

beforeAll(async () => {
  sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  mkdirSync(bpffs);
  execFileSync('mount', ['-t', 'bpf', 'none', bpffs]);
  const o = compileBpf(
    join(import.meta.dirname, 'fixtures/runtime-attach/iter.bpf.c'),
    join(work, 'iter.bpf.o'),
  );
  object = o;
  obj = (await loadObject(new Uint8Array(readFileSync(o)), { file: 'iter.bpf.o' })) as typeof obj;
});

afterAll(async () => {
  sleeper?.kill('SIGKILL');
  await obj?.close();
  try {
    execFileSync('umount', [bpffs]);
  } catch {
    // Never mounted (beforeAll failed first).
  }
  rmSync(work, { recursive: true, force: true });
});

describe('BPF iterators', () => {
  let task: IterLink;
  let map: IterLink;

  it('attach() makes an iterator link per iter/ program', async () => {
    const made = await obj.attach();
    expect(made.map((l) => [l.program, l.kind, l.target])).toEqual([
      ['dump_task', 'iter', 'task'],
      ['dump_map', 'iter', 'bpf_map'],
    ]);
    for (const l of made) expect(l).toBeInstanceOf(IterLink);
    [task, map] = made as [IterLink, IterLink];
  });

  it("iter/task lists the processes /proc lists before and after, leaving out what libbpf's pass does", () => {
    const before = procPids();
    const ref = bpftoolTaskPass();
    const seen = lines(task.text());
    const ref2 = bpftoolTaskPass();
    const after = procPids();
    const stable = [...before].filter((pid) => after.has(pid));
    // This kernel's task iterator skips some tasks (here pid 1): libbpf's pass skips the same.
    const missing = stable.filter((pid) => !seen.has(pid));
    expect(missing).toEqual(stable.filter((pid) => !ref.has(pid) && !ref2.has(pid)));
    expect(stable.length - missing.length).toBeGreaterThan(10);
    for (const pid of stable) if (ref.has(pid) && ref2.has(pid)) expect(seen.get(pid)).toBe(ref.get(pid));
    expect(seen.get(process.pid)).toBe(readFileSync('/proc/self/comm', 'utf8').trim());
    expect(seen.get(sleeper.pid as number)).toBe('sleep');
  });

  it('each read is a new pass', () => {
    const a = lines(task.text());
    const b = lines(task.text());
    expect(a.get(sleeper.pid as number)).toBe('sleep');
    expect(b.get(sleeper.pid as number)).toBe('sleep');
  });

  it('iter/task walks only the process asked for', async () => {
    const [one] = (await obj.attach({
      programs: { dump_task: { iter: { pid: sleeper.pid as number } }, dump_map: false },
    })) as [Link];
    expect((one as IterLink).text()).toBe(`${sleeper.pid} sleep\n`);
    one.destroy();
  });

  it('iter/bpf_map lists the maps bpftool lists before and after, ours by name', () => {
    const before = bpftoolMaps();
    const seen = lines(map.text());
    const after = bpftoolMaps();
    for (const id of before) if (after.has(id)) expect(seen.has(id), `map ${id}`).toBe(true);
    for (const m of Object.values(obj.maps)) expect(seen.get(m.id)).toBe(m.spec.kernelName);
  });

  it('reading a destroyed link says so', () => {
    task.destroy();
    expect(() => task.text()).toThrow(/BPF_ITER_CREATE task failed: EBADF/);
  });
});
