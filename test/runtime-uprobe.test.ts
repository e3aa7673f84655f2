// uprobes and uretprobes on ELF symbols, end to end on this kernel (it has the uprobe PMU,
// /sys/bus/event_source/devices/uprobe): a small C program the test builds with gcc, as a PIE
// and as a non-PIE executable, calling a function of its own and one of a shared library it
// builds too. Probes report argument, return value, attach cookie and pid through a ring buffer;
// symbol → file offset is checked by the probes firing with the right values, `+offset` at the
// second instruction objdump shows, library names resolved as libbpf does.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { compileBpf, TARGET_ARCH, writeVmlinuxH } from './fixtures/clang.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/runtime-libbpf');
const work = mkdtempSync(join(tmpdir(), 'btfkit-uprobe-'));
const lib = join(work, 'libbtfkit_up.so');
const apps = { pie: join(work, 'app-pie'), 'non-PIE': join(work, 'app-nopie') };
let probe: Uint8Array;

interface Hit {
  cookie: bigint;
  value: bigint;
  pid: number;
  kind: number;
}

beforeAll(() => {
  writeVmlinuxH(work);
  const obj = join(work, 'uprobe_probe.bpf.o');
  compileBpf(join(FIXTURES, 'uprobe_probe.bpf.c'), obj, { flags: [TARGET_ARCH, `-I${work}`] });
  probe = new Uint8Array(readFileSync(obj));
  execFileSync('gcc', ['-O1', '-shared', '-fPIC', '-o', lib, join(FIXTURES, 'uprobe_lib.c')]);
  const app = join(FIXTURES, 'uprobe_app.c');
  const link = ['-L', work, '-lbtfkit_up', `-Wl,-rpath,${work}`];
  execFileSync('gcc', ['-O1', '-pie', '-fPIE', '-o', apps.pie, app, ...link]);
  execFileSync('gcc', ['-O1', '-no-pie', '-o', apps['non-PIE'], app, ...link]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Starts `app n`, held on stdin until `release`. */
function held(app: string, n: number): { child: ChildProcess; pid: number; release: () => Promise<void> } {
  const child = spawn(app, [String(n)], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    child,
    pid: child.pid as number,
    release: async () => {
      child.stdin?.end('go\n');
      await exited;
    },
  };
}

function drain(obj: LoadedObject): Hit[] {
  const out: Hit[] = [];
  const rb = obj.ringbuf('hits');
  rb.consume((b) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    out.push({
      cookie: v.getBigUint64(0, true),
      value: v.getBigInt64(8, true),
      pid: v.getUint32(16, true),
      kind: v.getUint32(20, true),
    });
  });
  rb.close();
  return out;
}

it('this kernel has the uprobe PMU', () => {
  expect(existsSync('/sys/bus/event_source/devices/uprobe/type')).toBe(true);
});

describe.each(Object.entries(apps))('%s executable', (_kind, app) => {
  it('entry and return probes on its own function and a library function, with cookies and a pid filter', async () => {
    const obj = await loadObject(probe, { file: 'uprobe_probe.bpf.o' });
    try {
      const traced = held(app, 5);
      const other = held(app, 7);
      await obj.attach({
        programs: {
          on_entry: { target: `${app}:btfkit_square`, pid: traced.pid, cookie: 11 },
          on_return: { target: `${app}:btfkit_square`, pid: traced.pid, cookie: 12 },
          // A plain SEC("uprobe") program as a return probe, in the shared library.
          on_any: { target: `${lib}:btfkit_lib_twice`, pid: traced.pid, cookie: 13, retprobe: true },
        },
      });
      await Promise.all([traced.release(), other.release()]);
      const hits = drain(obj);
      expect(hits).toEqual([
        { cookie: 11n, value: 5n, pid: traced.pid, kind: 0 },
        { cookie: 12n, value: 25n, pid: traced.pid, kind: 1 },
        { cookie: 13n, value: 10n, pid: traced.pid, kind: 1 },
      ]);
    } finally {
      await obj.close();
    }
  });

  it('binary:symbol+offset probes the instruction at that offset', async () => {
    // The second instruction of btfkit_square, as objdump disassembles it.
    const dis = execFileSync('objdump', ['-d', `--disassemble=btfkit_square`, app], { encoding: 'utf8' });
    const addrs = [...dis.matchAll(/^\s+([0-9a-f]+):/gm)].map((m) => Number.parseInt(m[1] as string, 16));
    const second = (addrs[1] as number) - (addrs[0] as number);
    expect(second).toBeGreaterThan(0);
    const obj = await loadObject(probe, { file: 'uprobe_probe.bpf.o', programs: ['on_entry'] });
    try {
      const traced = held(app, 6);
      await obj.attach({
        programs: { on_entry: { target: `${app}:btfkit_square+${second}`, pid: traced.pid } },
      });
      await traced.release();
      // Its first argument is still in its register there.
      expect(drain(obj)).toEqual([{ cookie: 0n, value: 6n, pid: traced.pid, kind: 0 }]);
    } finally {
      await obj.close();
    }
  });
});

it('a bare library name is found in LD_LIBRARY_PATH; a missing symbol names the file', async () => {
  const obj = await loadObject(probe, { file: 'uprobe_probe.bpf.o', programs: ['on_entry'] });
  const saved = process.env.LD_LIBRARY_PATH;
  try {
    process.env.LD_LIBRARY_PATH = work;
    const traced = held(apps.pie, 4);
    await obj.attach({
      programs: { on_entry: { target: 'libbtfkit_up.so:btfkit_lib_twice', pid: traced.pid } },
    });
    await traced.release();
    expect(drain(obj)).toEqual([{ cookie: 0n, value: 4n, pid: traced.pid, kind: 0 }]);
    obj.detach();
    await expect(
      obj.attach({ programs: { on_entry: { target: `${lib}:no_such_function` } } }),
    ).rejects.toMatchObject({
      name: 'BtfkitError',
      message: expect.stringContaining(`no function 'no_such_function' in the symbol tables`),
    });
  } finally {
    if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
    else process.env.LD_LIBRARY_PATH = saved;
    await obj.close();
  }
});
