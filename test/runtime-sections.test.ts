// The runtime's SEC() table against the outside world and against codegen's table: the
// program and attach type numbers it hands the kernel are the running kernel's own enum values
// (its BTF, dumped by bpftool), and every section it knows is read as the same program type by
// @btfkit/core's codegen table, so the two tables cannot drift apart.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { programKind } from '../packages/core/src/codegen/sections.ts';
import {
  AttachType,
  knownSections,
  ProgType,
  resolveSection,
} from '../packages/runtime/src/loader/sections.ts';

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

  it('reads every section as codegen does', () => {
    const typeName = new Map<number, string>(Object.entries(ProgType).map(([k, v]) => [v, k.toLowerCase()]));
    for (const sec of knownSections()) {
      const names = sec.endsWith('+') ? [sec.slice(0, -1), `${sec.slice(0, -1)}/target`] : [sec];
      for (const name of names) {
        const def = resolveSection(name);
        expect(def, name).toBeDefined();
        expect(`${name}: ${typeName.get(def?.progType ?? -1)}`).toBe(`${name}: ${programKind(name).type}`);
      }
    }
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
      tc: 'tcx',
      'cgroup/connect4': 'cgroup',
      'cgroup_skb/egress': 'cgroup',
      sockops: 'cgroup',
      perf_event: 'perf_event',
      'iter/task': 'iter',
    });
  });
});
