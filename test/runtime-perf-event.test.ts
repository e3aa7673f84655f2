// perf_event programs on the running kernel, sampled as libbpf-tools' profile does: a
// software cpu-clock event at a frequency on every online CPU, each carrying
// test/fixtures/runtime-attach/perf.bpf.c's program, which counts samples per process. A
// busy child must be sampled in proportion to the CPU time the kernel accounts it
// (/proc/<pid>/stat), a sleeping one not at all.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BpfMap, type Link, type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { onlineCpus } from '../packages/runtime/src/sys/cpus.ts';
import { compileBpf } from './fixtures/clang.ts';

const work = mkdtempSync(join(tmpdir(), 'btfkit-perf-event-'));
const FREQUENCY = 499;
let obj: LoadedObject<Record<string, BpfMap>, 'on_sample'>;
const children: ChildProcess[] = [];

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
/** utime + stime of a process, in seconds, as the kernel accounts them. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function child(cmd: string, args: string[]): number {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c.pid as number;
}

const samplesOf = (pid: number): number => Number(obj.maps.samples?.lookup(pid) ?? 0);

beforeAll(async () => {
  const o = compileBpf(
    join(import.meta.dirname, 'fixtures/runtime-attach/perf.bpf.c'),
    join(work, 'perf.bpf.o'),
  );
  obj = (await loadObject(new Uint8Array(readFileSync(o)), { file: 'perf.bpf.o' })) as typeof obj;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await obj?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('perf_event programs on cpu-clock sampling', () => {
  it('are not attached without an event to sample', async () => {
    expect(await obj.attach()).toEqual([]);
  });

  it('need a frequency or a period', async () => {
    await expect(obj.attach({ programs: { on_sample: { perfEvent: {} } } })).rejects.toThrow(
      "program 'on_sample': a perf_event program needs perfEvent.frequency or .period",
    );
  });

  it('sample a busy process in proportion to its CPU time, a sleeping one never', async () => {
    const busy = child('sh', ['-c', 'while :; do :; done']);
    const sleeper = child('sleep', ['60']);
    await new Promise((r) => setTimeout(r, 100));
    const cpu0 = cpuSeconds(busy);
    const [link] = (await obj.attach({
      programs: { on_sample: { perfEvent: { frequency: FREQUENCY } } },
    })) as [Link];
    // One perf event per online CPU, each with its perf link, as bpftool lists them.
    const listed = (
      JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as {
        prog_id: number;
        type: string;
      }[]
    ).filter((l) => l.prog_id === obj.programs.on_sample.id);
    expect(listed.map((l) => l.type)).toEqual(onlineCpus().map(() => 'perf_event'));
    await new Promise((r) => setTimeout(r, 2000));
    link.destroy();
    const cpu = cpuSeconds(busy) - cpu0;
    const samples = samplesOf(busy);
    expect(cpu).toBeGreaterThan(0.1);
    // cpu-clock in frequency mode fires every 1/FREQUENCY s of the CPU's clock: the samples
    // landing on the busy process are its CPU time times the frequency, up to tick accounting.
    const ratio = samples / (cpu * FREQUENCY);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.4);
    expect(samplesOf(sleeper)).toBe(0);
    // Detached: no more samples.
    await new Promise((r) => setTimeout(r, 300));
    expect(samplesOf(busy)).toBe(samples);
  });
});
