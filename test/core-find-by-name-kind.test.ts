/**
 * findByNameKind (core/names.ts), libbpf's btf__find_by_name_kind answered from the
 * essential-name index, against bpftool's listing of the same BTF: the lowest id with that
 * exact name and kind, for every name the runtime asks the running kernel about (attach
 * targets of tp_btf and lsm programs, the enums that word EINVAL) and for a BTF whose names
 * carry flavors and separators (the names the index files under a shorter essential name).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Btf, type BtfType, decodeBtf, encodeBtf, KIND_NAMES, Kind } from '../packages/core/src/btf/index.ts';
import { findByNameKind } from '../packages/core/src/core/names.ts';
import { bpftool } from './fixtures/btf/corpus.ts';

const tmp = mkdtempSync(join(tmpdir(), 'btfkit-find-name-kind-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const KIND_BY_NAME = new Map(Object.entries(KIND_NAMES).map(([k, n]) => [n, Number(k)]));

/** bpftool's `[id] KIND 'name'` lines: the first id per (kind, name), as libbpf's scan meets them. */
function firstIds(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of bpftool(['btf', 'dump', 'file', file]).toString().split('\n')) {
    const m = /^\[(\d+)\] (\S+) '([^']*)'/.exec(line);
    if (!m || m[3] === '(anon)') continue;
    const key = `${KIND_BY_NAME.get(m[2] as string)} ${m[3]}`;
    if (!out.has(key)) out.set(key, Number(m[1]));
  }
  return out;
}

describe('findByNameKind = bpftool listing (btf__find_by_name_kind)', () => {
  it('the running kernel: every tracepoint typedef, LSM hook, a spread of FUNCs, the bpf enums', () => {
    const file = '/sys/kernel/btf/vmlinux';
    const btf = decodeBtf(new Uint8Array(readFileSync(file)), { file });
    const want = firstIds(file);
    const asked: [string, number][] = [];
    let funcs = 0;
    for (const key of want.keys()) {
      const sp = key.indexOf(' ');
      const kind = Number(key.slice(0, sp));
      const name = key.slice(sp + 1);
      if (kind === Kind.Typedef && name.startsWith('btf_trace_')) asked.push([name, kind]);
      else if (kind === Kind.Func && (name.startsWith('bpf_lsm_') || funcs++ % 97 === 0))
        asked.push([name, kind]);
    }
    asked.push(['bpf_map_type', Kind.Enum], ['bpf_prog_type', Kind.Enum], ['task_struct', Kind.Struct]);
    expect(asked.length).toBeGreaterThan(500);
    for (const [name, kind] of asked)
      expect(findByNameKind(btf, name, kind), `${KIND_NAMES[kind]} ${name}`).toBe(
        want.get(`${kind} ${name}`),
      );
    // Names the kernel lacks, and a kind the name exists under only as another kind.
    expect(findByNameKind(btf, 'btf_trace_no_such_event_here', Kind.Typedef)).toBeUndefined();
    expect(findByNameKind(btf, 'task_struct', Kind.Func)).toBeUndefined();
  });

  it('flavored names and separators: only the exact name, of the kind asked, lowest id first', () => {
    const names = ['ev', 'ev___a', 'ev___a___b', 'a____b', 'x___', 'fn', 'fn___v2'];
    const text = `\0${names.join('\0')}\0`;
    const off = (n: string) => text.indexOf(`\0${n}\0`) + 1;
    const types: BtfType[] = [
      { kind: Kind.Int, nameOff: 0, kflag: false, size: 4, encoding: 0, bitOffset: 0, bits: 32 },
      ...names.map((n): BtfType => ({ kind: Kind.Typedef, nameOff: off(n), kflag: false, type: 1 })),
      ...names.map(
        (n): BtfType => ({ kind: Kind.Struct, nameOff: off(n), kflag: false, size: 0, members: [] }),
      ),
      { kind: Kind.FuncProto, nameOff: 0, kflag: false, type: 1, params: [] },
      ...names.map(
        (n): BtfType => ({
          kind: Kind.Func,
          nameOff: off(n),
          kflag: false,
          type: 2 * names.length + 2,
          linkage: 1,
        }),
      ),
    ];
    const file = join(tmp, 'flavors.btf');
    writeFileSync(
      file,
      encodeBtf(new Btf({ types, strings: Buffer.from(text, 'latin1'), littleEndian: true })),
    );
    const btf = decodeBtf(readFileSync(file), { file });
    const want = firstIds(file);
    for (const name of [...names, 'ev___z', 'nothing'])
      for (const kind of [Kind.Typedef, Kind.Struct, Kind.Func])
        expect(findByNameKind(btf, name, kind), `${KIND_NAMES[kind]} ${name}`).toBe(
          want.get(`${kind} ${name}`),
        );
  });
});
