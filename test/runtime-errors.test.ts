// Missing kernel features, as the running kernel reports them (needs root): a map type and a
// program type the kernel was not built with come back as UNSUPPORTED KernelErrors naming the
// type and the newest one the kernel has (its own enum, read here with bpftool), while a known
// type with attributes the kernel refuses is not called a missing feature. Missing privileges
// are covered by test/runtime-process.test.ts (an unprivileged child is told CAP_BPF etc.).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelError, loadObject } from '../packages/runtime/src/index.ts';
import { closeFd, mapCreate, progLoad } from '../packages/runtime/src/sys/bpf.ts';
import { compileBpf } from './fixtures/clang.ts';

/** The highest-valued enumerator of a kernel enum, from bpftool's dump of the running kernel's BTF. */
function newest(enumName: string): { name: string; value: number } {
  const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  }).split('\n');
  const at = raw.findIndex((l) => l.includes(`ENUM '${enumName}' `));
  expect(at).toBeGreaterThanOrEqual(0);
  let best = { name: '', value: -1 };
  for (const line of raw.slice(at + 1)) {
    const m = /^\s+'(\w+)' val=(\d+)$/.exec(line);
    if (!m) break;
    const [name, value] = [m[1] as string, Number(m[2])];
    if (!name.startsWith('__') && value > best.value) best = { name, value };
  }
  return best;
}

let mapTypes: { name: string; value: number };
let progTypes: { name: string; value: number };
let futureMapObject: Uint8Array;

beforeAll(() => {
  mapTypes = newest('bpf_map_type');
  progTypes = newest('bpf_prog_type');
  const out = join(mkdtempSync(join(tmpdir(), 'btfkit-rt-errors-')), 'future-map.bpf.o');
  compileBpf(join(import.meta.dirname, 'fixtures/runtime-errors/future-map.bpf.c'), out);
  futureMapObject = new Uint8Array(readFileSync(out));
});

describe('missing kernel features', () => {
  it('loadObject: a map type the kernel lacks is UNSUPPORTED, naming the type and the newest it has', async () => {
    expect(mapTypes.value).toBeLessThan(9999);
    const err = await loadObject(futureMapObject).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    const k = err as KernelError;
    expect(k.kind).toBe('UNSUPPORTED');
    expect(k.errnoName).toBe('EINVAL');
    expect(k.op).toBe("BPF_MAP_CREATE 'future'");
    expect(k.message).toBe(
      `BPF_MAP_CREATE 'future' failed: EINVAL: the running kernel does not support map type 9999 ` +
        `(its enum bpf_map_type ends at ${mapTypes.name} = ${mapTypes.value}); it needs a newer kernel`,
    );
  });

  it('BPF_PROG_LOAD of a program type the kernel lacks is UNSUPPORTED, naming it', () => {
    // r0 = 0; exit
    const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    let err: unknown;
    try {
      closeFd(progLoad({ progType: 9999, insns, license: 'GPL', name: 'future_prog' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    const k = err as KernelError;
    expect(k.kind).toBe('UNSUPPORTED');
    expect(k.message).toBe(
      `BPF_PROG_LOAD 'future_prog' failed: EINVAL: the running kernel does not support program type 9999 ` +
        `(its enum bpf_prog_type ends at ${progTypes.name} = ${progTypes.value}); it needs a newer kernel`,
    );
  });

  it('a known map type with attributes the kernel refuses is not a missing feature', () => {
    let err: unknown;
    try {
      // A hash map cannot have a zero-sized key.
      closeFd(mapCreate({ mapType: 1, keySize: 0, valueSize: 8, maxEntries: 1, name: 'zero_key' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    const k = err as KernelError;
    expect(k.kind).toBe('OTHER');
    expect(k.message).toBe(
      "BPF_MAP_CREATE 'zero_key' failed: EINVAL: the kernel refused the attributes given for BPF_MAP_TYPE_HASH",
    );
  });
});
