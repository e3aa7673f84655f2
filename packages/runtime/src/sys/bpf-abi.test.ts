// The hand-packed bpf_attr offsets against the uapi header, as gcc lays the union out.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATTR_SIZE, AttrOffsets, BpfCmd } from './bpf.ts';

const FIELDS: Record<keyof typeof AttrOffsets, string> = {
  mapCreate: '',
  mapElem: '',
  progLoad: '',
  btfLoad: '',
  linkCreate: 'link_create.',
  rawTracepoint: 'raw_tracepoint.',
  info: 'info.',
  test: 'test.',
  iterCreate: 'iter_create.',
};

function cField(group: keyof typeof AttrOffsets, field: string): string {
  if (group === 'linkCreate' && field === 'bpf_cookie') return 'link_create.perf_event.bpf_cookie';
  return FIELDS[group] + field;
}

describe('bpf_attr layout', () => {
  it('matches offsetof() in /usr/include/linux/bpf.h', () => {
    const lines: string[] = [];
    for (const [group, fields] of Object.entries(AttrOffsets)) {
      for (const field of Object.keys(fields)) {
        const c = cField(group as keyof typeof AttrOffsets, field);
        lines.push(`printf("${group}.${field} %zu\\n", offsetof(union bpf_attr, ${c}));`);
      }
    }
    for (const cmd of Object.keys(BpfCmd)) lines.push(`printf("cmd.${cmd} %d\\n", (int)BPF_${cmd});`);
    lines.push('printf("size %zu\\n", sizeof(union bpf_attr));');
    const dir = mkdtempSync(join(tmpdir(), 'btfkit-abi-'));
    writeFileSync(
      join(dir, 'abi.c'),
      `#include <stdio.h>\n#include <stddef.h>\n#include <linux/bpf.h>\nint main(void){\n${lines.join('\n')}\nreturn 0;}\n`,
    );
    execFileSync('gcc', ['-o', join(dir, 'abi'), join(dir, 'abi.c')]);
    const out = execFileSync(join(dir, 'abi'), { encoding: 'utf8' });
    const got = new Map(
      out
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    for (const [group, fields] of Object.entries(AttrOffsets)) {
      for (const [field, off] of Object.entries(fields)) {
        expect(`${group}.${field} ${off}`).toBe(`${group}.${field} ${got.get(`${group}.${field}`)}`);
      }
    }
    for (const [cmd, n] of Object.entries(BpfCmd))
      expect(`${cmd} ${n}`).toBe(`${cmd} ${got.get(`cmd.${cmd}`)}`);
    expect(ATTR_SIZE).toBe(Number(got.get('size')));
  });
});
