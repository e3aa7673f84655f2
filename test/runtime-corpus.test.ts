// Every corpus object that libbpf (bpftool prog loadall) loads on this kernel, our loader loads
// too, handing the kernel the same instructions as libbpf (core-oracle's CORE_ORACLE_INSNS),
// map fds aside: CO-RE against the running kernel's BTF, then against our minimized BTF of it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBpfObject } from '../packages/core/src/elf/object.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { minimizeBtf } from '../packages/core/src/minimize/minimize.ts';
import { loadObject } from '../packages/runtime/src/index.ts';

const CORPUS = join(import.meta.dirname, 'corpus/objects');
const VMLINUX = '/sys/kernel/btf/vmlinux';
const FIXTURES = join(import.meta.dirname, 'fixtures/runtime');
// The corpus, then our own fixtures (they add subprograms, .data/.bss, decl tags, FLOAT/ENUM64).
const objects = [
  ...readdirSync(CORPUS)
    .filter((f) => f.endsWith('.bpf.o'))
    .sort()
    .map((f) => join(CORPUS, f)),
  ...['exectrace.bpf.o', 'btfkinds.bpf.o', 'ringbench.bpf.o'].map((f) => join(FIXTURES, f)),
];
const work = mkdtempSync(join(tmpdir(), 'btfkit-rt-corpus-'));
let oracle = '';

beforeAll(() => {
  oracle = join(work, 'core-oracle');
  execFileSync('sh', [join(import.meta.dirname, '../tools/core-oracle/build.sh'), oracle]);
});

/** Program types libbpf gave each program (bpftool's names), by program name. */
const libbpfTypes = new Map<string, Map<string, string>>();

/** Whether libbpf, through bpftool, loads every program of the object on this kernel. */
function libbpfLoads(path: string): boolean {
  const pin = `/sys/fs/bpf/btfkit_rt_${process.pid}`;
  const r = spawnSync('bpftool', ['prog', 'loadall', path, pin], { encoding: 'utf8' });
  try {
    if (r.status !== 0) return false;
    const types = new Map<string, string>();
    for (const f of readdirSync(pin)) {
      const info = JSON.parse(
        execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', join(pin, f)], { encoding: 'utf8' }),
      );
      types.set(info.name, info.type);
    }
    libbpfTypes.set(path, types);
    return true;
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
}

/** libbpf's final instructions per program, in load order: [name (≤15 chars), hex]. */
function libbpfInsns(path: string, btf: string): [string, string][] {
  const out = execFileSync(oracle, [path, btf], {
    env: { ...process.env, CORE_ORACLE_INSNS: '1' },
    encoding: 'utf8',
  });
  const names = new Set(
    parseBpfObject(new Uint8Array(readFileSync(path)), path)
      .programs.filter((p) => !p.isSubprog)
      .map((p) => p.name.slice(0, 15)),
  );
  return out
    .split('\n')
    .filter((l) => l.startsWith('{"loaded"'))
    .map((l) => JSON.parse(l) as { loaded: string; insns: string })
    .filter((r) => names.has(r.loaded)) // libbpf's feature probes load programs too
    .map((r) => [r.loaded, r.insns]);
}

/**
 * Instructions with the fd of every map reference (LD_IMM64 with src_reg PSEUDO_MAP_FD or
 * PSEUDO_MAP_VALUE) zeroed; the fds, in order, are returned separately.
 */
function maskMapFds(hex: string): { masked: string; fds: number[] } {
  const b = Buffer.from(hex, 'hex');
  const fds: number[] = [];
  for (let i = 0; i + 16 <= b.length; i += 8) {
    const src = (b[i + 1] as number) >> 4;
    if (b[i] === 0x18 && (src === 1 || src === 2)) {
      fds.push(b.readInt32LE(i + 4));
      b.writeInt32LE(0, i + 4);
      i += 8;
    } else if (b[i] === 0x18) i += 8;
  }
  return { masked: b.toString('hex'), fds };
}

async function compareWithLibbpf(path: string, btfPath: string, btf?: Uint8Array): Promise<void> {
  const theirs = libbpfInsns(path, btfPath);
  const obj = await loadObject(new Uint8Array(readFileSync(path)), {
    file: path,
    ...(btf ? { btf, preferGivenBtf: true } : {}),
  });
  try {
    const ours = Object.values(obj.programs).map((p) => [
      p.name.slice(0, 15),
      Buffer.from(p.insns).toString('hex'),
    ]);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.map(([n]) => n)).toEqual(theirs.map(([n]) => n));
    // The program types the kernel reports for ours are those it reported for libbpf's.
    for (const p of Object.values(obj.programs)) {
      const info = JSON.parse(
        execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(p.id)], { encoding: 'utf8' }),
      );
      expect(`${p.name}: ${info.type}`).toBe(
        `${p.name}: ${libbpfTypes.get(path)?.get(p.name) ?? libbpfTypes.get(path)?.get(p.name.slice(0, 15))}`,
      );
    }
    // Map fds differ (real vs stand-in) but must correspond one to one, preserving order.
    const fdPairs = new Map<number, number>();
    ours.forEach(([name, hex], i) => {
      const a = maskMapFds(hex as string);
      const b = maskMapFds((theirs[i] as [string, string])[1]);
      expect({ name, insns: a.masked }).toEqual({ name, insns: b.masked });
      expect(a.fds.length).toBe(b.fds.length);
      a.fds.forEach((fd, j) => {
        const prev = fdPairs.get(b.fds[j] as number);
        if (prev !== undefined) expect(prev).toBe(fd);
        fdPairs.set(b.fds[j] as number, fd);
      });
    });
    const pairs = [...fdPairs].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < pairs.length; i++) {
      expect((pairs[i] as [number, number])[1]).toBeGreaterThan((pairs[i - 1] as [number, number])[1]);
    }
  } finally {
    await obj.close();
  }
}

const loadable = objects.filter((f) => libbpfLoads(f));
const name = (path: string) => path.slice(path.lastIndexOf('/') + 1);

describe('corpus objects on the running kernel', () => {
  it('finds objects libbpf can load here', () => {
    // On the CI kernel (no kprobes; the fentry targets of *slower/*dist are set at run time
    // by their tools) libbpf loads about half of the 41.
    expect(loadable.length).toBeGreaterThan(10);
  });

  const cases = loadable.map((p) => [name(p), p] as const);

  it.each(cases)('%s: loads, with libbpf’s instructions (CO-RE against vmlinux)', async (_n, path) => {
    await compareWithLibbpf(path, VMLINUX);
  });

  it.each(cases)(
    '%s: loads, with libbpf’s instructions (CO-RE against our minimized BTF)',
    async (file, path) => {
      const kernel = readBtfSourceSync(VMLINUX).btf;
      const min = minimizeBtf(kernel, [parseBpfObject(new Uint8Array(readFileSync(path)), path)]);
      const minPath = join(work, `${file}.min.btf`);
      writeFileSync(minPath, min);
      await compareWithLibbpf(path, minPath, min);
    },
  );
});
