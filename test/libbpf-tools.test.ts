// The libbpf-tools ports (examples/libbpf-tools, built by esbuild with unplugin-btfkit) run next
// to Debian's C tools of the same name (package libbpf-tools, /usr/sbin) in the same run, over
// the same activity: a gcc-built program (examples/libbpf-tools/activity.c) started first and
// held on its stdin, so both tools can be given its pid, then released. Both outputs are parsed
// into rows and compared: same events, same fields.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTools, type Tool } from '../examples/libbpf-tools/build.ts';
import { tracefsRoot } from '../packages/runtime/src/sys/tracefs.ts';

const ROOT = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'btfkit-tools-'));
const activity = join(work, 'activity');
let ours: Record<Tool, string>;

beforeAll(async () => {
  // The C tools find tracepoints through tracefs but do not mount it; our runtime mounts it
  // where the kernel expects it when it is missing (and leaves it, as a boot would have).
  tracefsRoot();
  execFileSync('gcc', ['-O1', '-o', activity, join(ROOT, 'examples/libbpf-tools/activity.c')]);
  ours = await buildTools(join(ROOT, 'examples/libbpf-tools/dist'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A running tool whose stdout is collected; `ready` once it printed `readyLine`. */
function start(
  cmd: string,
  args: string[],
  readyLine: RegExp,
): { child: ChildProcess; out: () => string; ready: Promise<void> } {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${cmd} ${args.join(' ')}: not ready after 30 s: ${out}${err}`)),
      30_000,
    );
    onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    child.on('exit', (code) => reject(new Error(`${cmd} exited (${code}) before it was ready: ${err}`)));
  });
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (readyLine.test(out)) onReady();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, out: () => out, ready };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', () => resolve());
    child.kill('SIGINT');
  });
}

/**
 * Starts `activity mode…` held on stdin, then the C tool and our port with `args(pid)`, waits
 * until both printed their header (attached), releases the activity, waits for it, gives the
 * tools a moment to drain, stops both, and returns both outputs.
 */
async function sideBySide(
  tool: Tool,
  args: (pid: number) => string[],
  mode: string[],
  header: RegExp,
): Promise<{ c: string; js: string; pid: number }> {
  // On CPU 0, with its children: each tool drains one perf buffer per CPU, so events of two
  // CPUs can come out in either order, in either tool (exitsnoop's exits did, once, under
  // load). taskset execs the activity in place: the pid the tools filter on stays its own.
  const act = spawn('taskset', ['-c', '0', activity, ...mode], { stdio: ['pipe', 'ignore', 'inherit'] });
  const pid = act.pid as number;
  const done = new Promise<void>((r) => act.on('exit', () => r()));
  // stdbuf: the C tools' stdout is a pipe here, which stdio would buffer until exit.
  const c = start('stdbuf', ['-oL', `/usr/sbin/${tool}`, ...args(pid)], header);
  const js = start(
    process.execPath,
    ['--conditions=@btfkit/source', '--import', 'tsx', ours[tool], ...args(pid)],
    header,
  );
  try {
    await Promise.all([c.ready, js.ready]);
    // The C tools print their header right after attaching; give both a beat to start polling.
    await new Promise((r) => setTimeout(r, 300));
    act.stdin?.end('go\n');
    await done;
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    act.kill();
    await Promise.all([stop(c.child), stop(js.child)]);
  }
  return { c: c.out(), js: js.out(), pid };
}

/** Rows of a columnar output: lines split on runs of spaces, those `keep` selects. */
const rows = (text: string, keep: (cols: string[]) => boolean): string[][] =>
  text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(keep);

it('opensnoop -p PID: the same opens, fds, errors and paths as the C tool', async () => {
  writeFileSync(join(work, 'present'), '');
  const { c, js, pid } = await sideBySide(
    'opensnoop',
    (p) => ['-p', String(p)],
    ['open', work, '3'],
    /PATH\n/,
  );
  const mine = (cols: string[]) => cols[0] === String(pid);
  const expected = rows(c, mine);
  expect(expected.map((r) => r.slice(2))).toEqual(
    [0, 1, 2].flatMap((i) => [
      ['3', '0', join(work, 'present')],
      ['-1', '2', join(work, `missing-${i}`)],
    ]),
  );
  expect(rows(js, mine)).toEqual(expected);
});

it('syscount -p PID: the same syscall counts as the C tool', async () => {
  const { c, js } = await sideBySide(
    'syscount',
    (p) => ['-p', String(p)],
    ['syscalls', '1000'],
    /Ctrl\+C to quit\.\n/,
  );
  const table = (t: string) => rows(t.slice(t.indexOf('SYSCALL')), (cols) => /^\d+$/.test(cols[1] ?? ''));
  const expected = table(c);
  expect(expected).toContainEqual(['getppid', '1000']);
  expect(expected).toContainEqual(['getuid', '500']);
  expect(table(js).sort()).toEqual(expected.sort());
});

it('syscount -p PID -L: the same syscalls and counts, latencies of the same order', async () => {
  const { c, js } = await sideBySide(
    'syscount',
    (p) => ['-p', String(p), '-L'],
    ['syscalls', '200'],
    /Ctrl\+C to quit\.\n/,
  );
  const table = (t: string) => rows(t.slice(t.indexOf('SYSCALL')), (cols) => /^\d+$/.test(cols[1] ?? ''));
  const names = (t: string[][]) => t.map((r) => `${r[0]} ${r[1]}`).sort();
  expect(names(table(js))).toEqual(names(table(c)));
  expect(names(table(c))).toContain('getppid 200');
  for (const r of table(js)) expect(Number(r[2])).toBeGreaterThan(0);
});

it('exitsnoop: the same exits (names, pids, parent, codes) as the C tool', async () => {
  const { c, js, pid } = await sideBySide('exitsnoop', () => [], ['exits'], /EXIT_CODE\n/);
  // Our activity's children (named btfkx-N): comm, pid, ppid, tid, and the exit code column.
  const mine = (cols: string[]) => cols[2] === String(pid);
  const fields = (r: string[]) => [r[0], r[1], r[2], r[3], r.slice(5).join(' ')];
  const expected = rows(c, mine).map(fields);
  expect(expected.map((r) => [r[0], r[4]])).toEqual([
    ['btfkx-0', '0'],
    ['btfkx-1', 'code 3'],
    ['btfkx-2', 'code 7'],
  ]);
  expect(rows(js, mine).map(fields)).toEqual(expected);
});

it('execsnoop: the same exec (comm, pid, ppid, ret, args) as the C tool', async () => {
  const marker = `btfkit-${process.pid}`;
  // The traced exec: a shell our test starts once both tools are up.
  const c = start('stdbuf', ['-oL', '/usr/sbin/execsnoop'], /ARGS\n/);
  const js = start(
    process.execPath,
    ['--conditions=@btfkit/source', '--import', 'tsx', ours.execsnoop],
    /ARGS\n/,
  );
  try {
    await Promise.all([c.ready, js.ready]);
    await new Promise((r) => setTimeout(r, 300));
    // On one CPU: each tool reads a per-CPU perf buffer per CPU, so two execs on two CPUs
    // may come out in either order, in either tool (seen once in a full run).
    execFileSync(
      'taskset',
      ['-c', '0', '/bin/sh', '-c', `/bin/echo ${marker} "two words" x; /bin/true ${marker}`],
      {
        stdio: 'ignore',
      },
    );
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await Promise.all([stop(c.child), stop(js.child)]);
  }
  const mine = (text: string) =>
    text.split('\n').filter((l) => l.includes(marker) && !l.startsWith('sh ') && !l.startsWith('taskset '));
  expect(mine(c.out()).map((l) => l.split(/\s+/)[0])).toEqual(['echo', 'true']);
  expect(mine(c.out())[0]).toMatch(new RegExp(`/bin/echo ${marker} two words x $`));
  expect(mine(js.out())).toEqual(mine(c.out()));
});

it("funclatency -u -p PID :FUNCTION: uprobes chosen at run time give the C tool's histogram", async () => {
  const { c, js } = await sideBySide(
    'funclatency',
    (p) => ['-u', '-p', String(p), ':btfkit_nap'],
    ['naps', '20'],
    /Hit Ctrl-C to exit\n/,
  );
  // Rows "low -> high : count |stars|": the same calls timed by both, so the same buckets.
  const hist = (t: string) => rows(t, (cols) => cols[1] === '->').map((r) => r.slice(0, 5).join(' '));
  const expected = hist(c);
  const count = (rowsOf: string[]) => rowsOf.reduce((n, r) => n + Number(r.split(' ')[4]), 0);
  expect(count(expected)).toBe(30); // 20 naps of 1 ms and 10 of 4 ms
  expect(expected.some((r) => r.startsWith('1024 -> 2047 :'))).toBe(true);
  expect(hist(js)).toEqual(expected);
  expect(js).toContain('Exiting trace of :btfkit_nap');
});

it('runqlat -p PID: the same wakeups counted as the C tool, histograms within counting noise', async () => {
  const { c, js } = await sideBySide(
    'runqlat',
    (p) => ['-p', String(p)],
    ['naps', '20'],
    /Hit Ctrl-C to end\.\n/,
  );
  // Bucket index (log2 of the high end) → count, from "low -> high : count |…|" rows.
  const hist = (t: string) =>
    rows(t, (cols) => cols[1] === '->').map((r) => ({ slot: Math.log2(Number(r[2]) + 1), n: Number(r[4]) }));
  const total = (h: { n: number }[]) => h.reduce((s, b) => s + b.n, 0);
  const mean = (h: { slot: number; n: number }[]) => h.reduce((s, b) => s + b.slot * b.n, 0) / total(h);
  const theirs = hist(c);
  const mine = hist(js);
  // Each of the 30 naps ends in a wakeup of the activity: both tools see those (and a few more).
  expect(total(theirs)).toBeGreaterThanOrEqual(30);
  // The same events timed by two programs on the same tracepoints: equal counts up to a wakeup
  // or two at the edges of the tracing window; latencies a bucket apart at most on average.
  expect(Math.abs(total(mine) - total(theirs))).toBeLessThanOrEqual(Math.max(2, total(theirs) * 0.1));
  expect(Math.abs(mean(mine) - mean(theirs))).toBeLessThanOrEqual(1);
});

it('capable: its stack map sized at run time loads; kprobes cannot attach here, for the C tool either', () => {
  const c = spawnSync('/usr/sbin/capable', [], { encoding: 'utf8', timeout: 60_000 });
  const js = spawnSync(process.execPath, ['--conditions=@btfkit/source', '--import', 'tsx', ours.capable], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  // Both get past creating the stack map (the C tool sizes it as the port does) and stop at
  // the kprobe on cap_capable: no kprobe PMU and no kprobe_events on this kernel.
  expect(c.status).toBe(1);
  expect(c.stderr).toContain("failed to create kprobe 'cap_capable+0x0' perf event");
  expect(js.status).toBe(1);
  expect(js.stderr).toBe(
    'failed to attach BPF programs: kprobes are not available on this kernel (no /sys/bus/event_source/devices/kprobe/type; built without CONFIG_KPROBES?)\n',
  );
});
