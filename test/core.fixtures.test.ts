import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Btf } from '../packages/core/src/btf/index.ts';
import {
  oracleLines,
  type RelocateResult,
  type Relocation,
  relocateObject,
} from '../packages/core/src/core/index.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { CORPUS, kernelArchives, releaseOf } from './fixtures/btf/corpus.ts';
import { normalize, parseExact } from './fixtures/core/oracle.ts';

// Our own CO-RE fixtures (test/fixtures/core, rebuilt by build.sh): each program object
// against two target objects and two corpus kernels, compared with core-oracle's goldens.
const DIR = join(import.meta.dirname, 'fixtures/core');
const goldens = readdirSync(join(DIR, 'golden'))
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .map((f) => {
    const [prog, target] = f.replace(/\.jsonl$/, '').split('@') as [string, string];
    return { file: f, prog, target };
  });

const targets = new Map<string, Btf>();
function target(name: string): Btf {
  let btf = targets.get(name);
  if (btf) return btf;
  const archive = kernelArchives().find((a) => releaseOf(a) === name);
  btf = readBtfSourceSync(archive ?? join(DIR, 'obj', `${name}.o`)).btf;
  targets.set(name, btf);
  return btf;
}

function relocate(prog: string, targetName: string, suffix: 'bpf' | 'bpfeb'): RelocateResult {
  const path = join(DIR, 'obj', `${prog}.${suffix}.o`);
  return relocateObject(parseBpfObject(readFileSync(path), path), target(targetName), {
    release: targetName,
  });
}

describe('CO-RE fixtures equal libbpf 1.1 (core-oracle goldens)', () => {
  for (const g of goldens) {
    it(`${g.prog} against ${g.target}`, () => {
      const res = relocate(g.prog, g.target, 'bpf');
      const ours = normalize(parseExact(res.relocations.flatMap(oracleLines).join('\n')));
      const expected = normalize(parseExact(readFileSync(join(DIR, 'golden', g.file), 'utf8')));
      expect(ours).toEqual(expected);
      expect(res.failed).toBe(expected.some((l) => l.error === true && !isMemszWarning(expected, l)));
    });
  }

  it('cover every relocation kind, poison, errors and resized loads, each program against 4 targets', () => {
    const all = goldens.flatMap((g) =>
      normalize(parseExact(readFileSync(join(DIR, 'golden', g.file), 'utf8'))),
    );
    const kinds = new Set(all.map((l) => l.kind));
    for (const k of [
      'byte_off',
      'byte_sz',
      'field_exists',
      'signed',
      'lshift_u64',
      'rshift_u64',
      'local_type_id',
      'target_type_id',
      'type_exists',
      'type_size',
      'enumval_exists',
      'enumval_value',
      'type_matches',
    ]) {
      expect(kinds, k).toContain(k);
    }
    expect(all.some((l) => l.poison === true)).toBe(true);
    expect(all.some((l) => l.error === true)).toBe(true);
    expect(all.some((l) => l.field === 'mem_sz')).toBe(true);
    expect(all.some((l) => l.class === 'LDIMM64')).toBe(true);
    const perProg = new Map<string, number>();
    for (const g of goldens) perProg.set(g.prog, (perProg.get(g.prog) ?? 0) + 1);
    for (const [prog, n] of perProg) expect(n, prog).toBeGreaterThanOrEqual(4);
  });
});

describe('refusals carry libbpf’s errno', () => {
  // core-oracle prints libbpf's return code at the end of a refusal ("failed to relocate: -7").
  const refusals = goldens.flatMap((g) => {
    const lines = readFileSync(join(DIR, 'golden', g.file), 'utf8')
      .trimEnd()
      .split('\n');
    const m = /: (-\d+)"}$/.exec(lines[lines.length - 1] ?? '');
    return m ? [{ ...g, errno: Number(m[1]) }] : [];
  });
  it('includes the bitfield no load can cover (-E2BIG)', () => {
    expect(refusals).toContainEqual(
      expect.objectContaining({ prog: 'widebf', target: 'target_a', errno: -7 }),
    );
  });
  for (const g of refusals) {
    it(`${g.prog} against ${g.target}: ${g.errno}`, () => {
      const res = relocate(g.prog, g.target, 'bpf');
      expect(res.failed).toBe(true);
      const last = res.relocations[res.relocations.length - 1] as Relocation;
      expect('errno' in last.outcome && last.outcome.errno).toBe(g.errno);
    });
  }
});

describe('allRecords (bpftool gen min_core_btf’s walk) refuses exactly where bpftool does', () => {
  // bpftool runs libbpf's calculation for every record and stops at the first error, naming
  // the instruction ("relo N at insn #I can't be satisfied for bitfield"). Its own libbpf
  // also refuses negative accessor indices (negidx), which libbpf 1.1.2 accepts.
  const progs = [...new Set(goldens.map((g) => g.prog))];
  for (const t of ['target_a', 'target_b']) {
    for (const prog of progs) {
      it(`${prog} against ${t}`, () => {
        const objPath = join(DIR, 'obj', `${prog}.bpf.o`);
        const tmp = mkdtempSync(join(tmpdir(), 'btfkit-core-'));
        try {
          const b = spawnSync(
            'bpftool',
            ['gen', 'min_core_btf', join(DIR, 'obj', `${t}.o`), join(tmp, 'min.btf'), objPath],
            {
              encoding: 'utf8',
            },
          );
          const res = relocateObject(parseBpfObject(readFileSync(objPath), objPath), target(t), {
            allRecords: true,
            rejectNegativeIndices: true,
          });
          expect(res.failed, b.stderr).toBe(b.status !== 0);
          const last = res.relocations[res.relocations.length - 1];
          const at = /at insn #(\d+)/.exec(b.stderr);
          if (res.failed && at) expect(last?.insn).toBe(Number(at[1]));
          if (prog === 'widebf' && t === 'target_a') {
            expect(b.stderr).toContain("can't be satisfied for bitfield");
            expect(last?.outcome).toMatchObject({ errno: -7 });
            expect(last?.cPath).toBe('wbf.wide');
          }
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }
      });
    }
  }
});

/** A load/store libbpf could not resize: it warns (an error line) and poisons, then goes on. */
function isMemszWarning(lines: Record<string, unknown>[], l: Record<string, unknown>): boolean {
  const i = lines.indexOf(l);
  const next = lines[i + 1];
  return next !== undefined && next.poison === true && next.prog === l.prog && next.relo === l.relo;
}

describe('big-endian objects (clang -target bpfeb): byte-order-free decisions equal the little-endian build’s', () => {
  // Every decision but lshift_u64 is the same whatever the byte order, so the bpfeb build of
  // each fixture, against the same (little-endian) targets, must decide what the bpfel build
  // decides. lshift_u64 follows the object's byte order (a big-endian field is the top bits
  // of its load): test/core-bitfield-endian.test.ts holds it by running the relocated reads
  // on big- and little-endian images. Decisions are compared per relocated expression, not
  // per slot (clang lays the same source out a little differently for bpfeb), but counted:
  // each as many times as it is made.
  const progs = [...new Set(goldens.map((g) => g.prog))];
  const names = [...new Set(goldens.map((g) => g.target))];
  for (const prog of progs) {
    it(prog, () => {
      for (const t of names) {
        const le = relocate(prog, t, 'bpf');
        const be = relocate(prog, t, 'bpfeb');
        expect(be.failed, t).toBe(le.failed);
        if (le.failed) {
          const last = (r: RelocateResult) => decision(r.relocations[r.relocations.length - 1] as Relocation);
          expect(last(be)).toEqual(last(le));
          continue;
        }
        // Compared as multisets (sorted lists): a decision made twice or dropped shows up.
        const orderFree = (r: RelocateResult) =>
          r.relocations
            .filter((x) => x.kind !== 'lshift_u64')
            .map(decision)
            .sort();
        const beDecisions = orderFree(be);
        const leDecisions = orderFree(le);
        expect(minus(leDecisions, beDecisions), t).toEqual([]);
        // The one allowed difference: for big-endian, bpf_core_read.h's
        // __CORE_BITFIELD_PROBE_READ reads the field's BYTE_SIZE twice (the read length, and
        // the `8 - size` shift of the destination), so every BPF_CORE_READ_BITFIELD_PROBED
        // (fields.bpf.c reads bf1, bf2, bf3 and sbf that way) brings exactly one more byte_sz
        // relocation, deciding what the little-endian one decides.
        const probed =
          prog === 'fields' ? ['flds.bf1 0:10', 'flds.bf2 0:11', 'flds.bf3 0:12', 'flds.sbf 0:13'] : [];
        const extra = minus(beDecisions, leDecisions);
        expect(
          extra.map((d) => /^\S+ byte_sz (\S+ \S+):/.exec(d)?.[1]),
          t,
        ).toEqual(probed);
        for (const d of extra) expect(leDecisions, t).toContain(d);
        // The new values really are in the big-endian instructions.
        for (const r of be.relocations) {
          const o = r.outcome;
          const insns = be.programs.find((p) => p.name === r.prog)?.insns as Uint8Array;
          const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
          if ('poison' in o) {
            for (const i of o.insns) expect(v.getInt32(i * 8 + 4, false)).toBe(0xbad2310);
          } else if ('class' in o && o.field === 'off') {
            expect(BigInt(v.getInt16(r.insn * 8 + 2, false))).toBe(o.to);
          } else if ('class' in o && o.field === 'imm') {
            expect(v.getInt32(r.insn * 8 + 4, false)).toBe(Number(BigInt.asIntN(32, o.to)));
          } else if ('class' in o) {
            const lo = BigInt(v.getUint32(r.insn * 8 + 4, false));
            const hi = BigInt(v.getUint32(r.insn * 8 + 12, false));
            expect((hi << 32n) | lo).toBe(o.to);
          }
        }
      }
    });
  }
});

/** What libbpf decided for one relocated expression, without the compiler-side input value. */
function decision(r: Relocation): string {
  const o = r.outcome;
  const what =
    'error' in o
      ? 'error'
      : 'poison' in o
        ? 'poison'
        : `${o.class} ${o.field} ${o.to} ${o.memSize?.to ?? ''}`;
  return `${r.prog} ${r.kind} ${r.cPath} ${r.accessString}: ${what}`;
}

it('the fixture kernels are corpus kernels', () => {
  expect(readdirSync(join(CORPUS, 'expected/relocs'))).toEqual(
    expect.arrayContaining(['6.1.0-47-amd64', '5.10.0-32-amd64']),
  );
});

/** The multiset difference a − b: each element of b cancels one equal element of a. */
function minus(a: string[], b: string[]): string[] {
  const left = [...b];
  return a.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}
