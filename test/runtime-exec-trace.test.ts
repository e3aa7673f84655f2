import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExecTrace } from '../examples/exec-trace/build.ts';

// End to end: examples/exec-trace built by esbuild and by Vite through unplugin-btfkit (which
// compiles its .bpf.c with clang and generates the typed skeleton), run by Node as root. The
// app loads the program with a pid filter set as a global before load, and prints each exec
// event it receives; this test spawns processes and checks the events against what the kernel
// ran: their pids, parent, task names and file names.

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'examples/exec-trace/dist');

interface Exec {
  pid: number;
  ppid: number;
  comm: string;
  filename: string;
}

/** Runs the built app; lines come back parsed as they are printed. */
class App {
  readonly child: ChildProcess;
  readonly events: Exec[] = [];
  ready: Promise<{ programs: { name: string; id: number }[] }>;
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(main: string, targetPpid: number) {
    // The bundle imports @btfkit/runtime at run time, from the workspace, as TypeScript source.
    this.child = spawn(
      process.execPath,
      ['--conditions=@btfkit/source', '--import', 'tsx', main, String(targetPpid)],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
    let onReady: (v: { programs: { name: string; id: number }[] }) => void = () => {};
    this.ready = new Promise((r) => {
      onReady = r;
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const msg = JSON.parse(line) as Exec & { ready?: true; programs: { name: string; id: number }[] };
      if (msg.ready) onReady(msg);
      else this.events.push(msg);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Waits until `done` holds for the events so far, or `ms` pass. */
  async until(done: (evs: Exec[]) => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done(this.events) && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

function run(file: string, args: string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve(c.pid as number));
  });
}

const mains: Record<string, string> = {};
beforeAll(async () => {
  for (const bundler of ['esbuild', 'vite'] as const)
    mains[bundler] = await buildExecTrace(bundler, join(OUT, bundler));
});

describe.each(['esbuild', 'vite'])('exec-trace built by %s', (bundler) => {
  it('reports the execs of our children with their pids and names, and only those', async () => {
    const app = new App(mains[bundler] as string, process.pid);
    const { programs } = await app.ready;
    const spawned = new Map<number, { comm: string; filename: string }>();
    for (const [file, args, comm] of [
      ['/bin/true', [], 'true'],
      ['/bin/sleep', ['0'], 'sleep'],
      ['/usr/bin/env', ['true'], 'env'],
      // sh is our child; the two trues it runs are its children, filtered out in the kernel.
      ['/bin/sh', ['-c', '/bin/true; /bin/true'], 'sh'],
    ] as const) {
      spawned.set(await run(file, [...args]), { comm, filename: file });
    }
    await app.until((evs) => [...spawned.keys()].every((p) => evs.some((e) => e.pid === p)), 10_000);
    await new Promise((r) => setTimeout(r, 300)); // anything that would still come
    expect(await app.stop()).toBe(0);

    // Events for every child, and nothing whose parent is not this process.
    expect(app.events.filter((e) => e.ppid !== process.pid)).toEqual([]);
    // Each child's first exec (env then execs true in the same process: checked below).
    const ours = [...spawned.keys()].map((pid) => app.events.find((e) => e.pid === pid) as Exec);
    expect(
      ours.map((e) => ({ pid: e.pid, comm: e.comm, filename: e.filename })).sort((a, b) => a.pid - b.pid),
    ).toEqual([...spawned].map(([pid, v]) => ({ pid, ...v })).sort((a, b) => a.pid - b.pid));
    // env exec()s true in the same process: a second event for that pid, named true.
    const envPid = [...spawned].find(([, v]) => v.comm === 'env')?.[0];
    const envExecs = app.events.filter((e) => e.pid === envPid);
    expect(envExecs.map((e) => e.comm)).toEqual(['env', 'true']);
    // The second is the `true` env found on PATH (/usr/bin/true or /bin/true).
    expect(envExecs[1]?.filename).toMatch(/\/true$/);

    // After the app closed its object, the kernel has no program of it left.
    for (const p of programs) {
      expect(() =>
        execFileSync('bpftool', ['prog', 'show', 'id', String(p.id)], { stdio: 'pipe' }),
      ).toThrow();
    }
  });
});

it('without the pid filter (target 0) the app also sees our grandchildren', async () => {
  const app = new App(mains.esbuild as string, 0);
  await app.ready;
  const sh = await run('/bin/sh', ['-c', '/bin/true; /bin/true']);
  await app.until((evs) => evs.filter((e) => e.ppid === sh).length >= 2, 10_000);
  expect(await app.stop()).toBe(0);
  expect(app.events.filter((e) => e.ppid === sh).map((e) => e.comm)).toEqual(['true', 'true']);
  expect(app.events.find((e) => e.pid === sh)?.ppid).toBe(process.pid);
});
