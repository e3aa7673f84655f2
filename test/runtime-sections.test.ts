// The runtime reads @btfkit/core's one SEC() table (held to libbpf by its own oracle test);
// here the program and attach type numbers it hands the kernel are checked against the
// running kernel's own enum values (its BTF, dumped by bpftool), and the network, cgroup,
// perf_event and iterator sections against the link kinds attach() implements.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSection as coreSection } from '../packages/core/src/sections/index.ts';
import { MapType } from '../packages/runtime/src/deps.ts';
import { loadObject } from '../packages/runtime/src/index.ts';
import { AttachType, ProgType, resolveSection } from '../packages/runtime/src/loader/sections.ts';
import { compileBpf } from './fixtures/clang.ts';

/** enum constants of the running kernel's BTF, by name. */
function kernelEnums(): Map<string, number> {
  const c = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const out = new Map<string, number>();
  for (const m of c.matchAll(/^\s+(BPF_[A-Z0-9_]+) = (\d+),$/gm)) out.set(m[1] as string, Number(m[2]));
  return out;
}

describe('the runtime SEC() table', () => {
  const enums = kernelEnums();

  it('uses the kernel enum bpf_prog_type values', () => {
    for (const [name, value] of Object.entries(ProgType))
      expect(`BPF_PROG_TYPE_${name} = ${value}`).toBe(
        `BPF_PROG_TYPE_${name} = ${enums.get(`BPF_PROG_TYPE_${name}`)}`,
      );
  });

  it('uses the kernel enum bpf_attach_type values', () => {
    for (const [name, value] of Object.entries(AttachType)) {
      if (name === 'NONE') continue;
      expect(`BPF_${name} = ${value}`).toBe(`BPF_${name} = ${enums.get(`BPF_${name}`)}`);
    }
  });

  it('uses the kernel enum bpf_map_type values, in order and without gaps', () => {
    const table = Object.entries(MapType).map(([name, value]) => `BPF_MAP_TYPE_${name} = ${value}`);
    // The kernel's list, less the aliases it keeps for renamed types and the count.
    const kernel = [...enums]
      .filter(([name]) => /^BPF_MAP_TYPE_/.test(name) && !name.endsWith('_DEPRECATED'))
      .map(([name, value]) => `${name} = ${value}`);
    // Whichever of the two is newer may go on past the other.
    const both = Math.min(table.length, kernel.length);
    expect(kernel.length).toBeGreaterThan(30);
    expect(table.slice(0, both)).toEqual(kernel.slice(0, both));
  });

  it("is core's one table", () => {
    expect(resolveSection).toBe(coreSection);
  });

  it('attaches the network and cgroup sections by link kind', () => {
    const kinds = Object.fromEntries(
      [
        'xdp',
        'xdp.frags',
        'tcx/ingress',
        'tc/egress',
        'tc',
        'cgroup/connect4',
        'cgroup_skb/egress',
        'sockops',
        'perf_event',
        'iter/task',
      ].map((s) => [s, resolveSection(s)?.attach]),
    );
    expect(kinds).toEqual({
      xdp: 'xdp',
      'xdp.frags': 'xdp',
      'tcx/ingress': 'tcx',
      'tc/egress': 'tcx',
      tc: 'tc',
      'cgroup/connect4': 'cgroup',
      'cgroup_skb/egress': 'cgroup',
      sockops: 'cgroup',
      perf_event: 'perf_event',
      'iter/task': 'iter',
    });
  });

  it('refuses freplace programs at load, naming the section, before asking the kernel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfkit-sec-'));
    try {
      const src = join(dir, 'ext.bpf.c');
      writeFileSync(
        src,
        '__attribute__((section("freplace/handler"), used)) int ext(void *ctx) { return 0; }\nchar LICENSE[] __attribute__((section("license"), used)) = "GPL";\n',
      );
      const o = compileBpf(src, join(dir, 'ext.bpf.o'));
      await expect(loadObject(new Uint8Array(readFileSync(o)), { file: 'ext.bpf.o' })).rejects.toThrow(
        `program 'ext': SEC("freplace/handler") programs are not supported by @btfkit/runtime yet`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
