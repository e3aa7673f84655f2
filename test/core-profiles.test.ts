import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, decodeBtf, encodeBtf } from '../packages/core/src/btf/index.ts';
import {
  type LibbpfVersion,
  oracleLines,
  type Relocation,
  relocateObject,
} from '../packages/core/src/core/index.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { minimizeBtf } from '../packages/core/src/minimize/minimize.ts';
import { coreOracle, normalize, parseExact } from './fixtures/core/oracle.ts';

// libbpf 1.1.2 and 1.7.0 (built from their release sources) on the cases where they decide
// differently (test/corpus/profiles/README.md): each profile held to its own tool's output.
const DIR = join(import.meta.dirname, 'corpus/profiles/libbpf-1.7');
const CASES = ['src2', 'src3', 'sgn_f'].flatMap((prog) =>
  ['tgt2', 'same2'].map((target) => ({ prog, target })),
);

function load(name: string) {
  const path = join(DIR, 'objects', `${name}.bpf.o`);
  return parseBpfObject(new Uint8Array(readFileSync(path)), path);
}

function relocate(prog: string, target: string, libbpf: LibbpfVersion) {
  return relocateObject(load(prog), load(target).btf as NonNullable<ReturnType<typeof load>['btf']>, {
    libbpf,
  });
}

describe('each libbpf profile decides as that libbpf does', () => {
  for (const libbpf of ['1.1', '1.7'] as const) {
    for (const { prog, target } of CASES) {
      it(`libbpf ${libbpf}: ${prog} on ${target}`, () => {
        const res = relocate(prog, target, libbpf);
        const ours = normalize(parseExact(res.relocations.flatMap(oracleLines).join('\n')));
        const file = join(DIR, `expected-${libbpf}`, `${prog}-on-${target}.jsonl`);
        expect(ours).toEqual(normalize(parseExact(readFileSync(file, 'utf8'))));
      });
    }
  }

  it('the profiles really differ where the README says: an 8-byte load of a moved char[8]', () => {
    const name = (libbpf: LibbpfVersion) =>
      relocate('src3', 'tgt2', libbpf).relocations.find((r) => r.prog === 'ld_name') as Relocation;
    expect(name('1.1').outcome).toMatchObject({ poison: true, memszAdjust: true });
    expect(name('1.7').outcome).toMatchObject({ class: 'LDX/ST/STX', field: 'off', from: 56n, to: 112n });
    expect(name('1.7').outcome).not.toHaveProperty('memSize');
  });

  it('the default profile is libbpf 1.1', () => {
    const lines = (o: ReturnType<typeof relocate>) => o.relocations.flatMap(oracleLines);
    const dflt = relocateObject(
      load('src3'),
      load('tgt2').btf as NonNullable<ReturnType<typeof load>['btf']>,
    );
    expect(lines(dflt)).toEqual(lines(relocate('src3', 'tgt2', '1.1')));
  });
});

describe('FIELD_SIGNED of a non-integer member', () => {
  // libbpf 1.1 reads the word after the member type's common part as an INT encoding; for a
  // FLOAT that is the next type's name offset, whose bit 24 (BTF_INT_SIGNED << 24) is set once
  // the offset passes 16 MiB. A target built so (tgt2 with the type after `float` renamed to a
  // string past 0x1000000) makes 1.1 answer 1, as libbpf 1.1.2 itself does (core-oracle);
  // libbpf >= 1.3 answers 0 for any member that is not an INT or an enum.
  it('is libbpf 1.1.2’s quirk under 1.1 and 0 under 1.7', () => {
    const tgt = load('tgt2').btf as NonNullable<ReturnType<typeof load>['btf']>;
    const floatId = tgt.byName('float')[0] as number;
    const pad = 0x0100_0000 - tgt.strings.length;
    const name = new TextEncoder().encode('past_16_mib\0');
    const strings = new Uint8Array(tgt.strings.length + pad + name.length);
    strings.set(tgt.strings);
    strings.set(name, tgt.strings.length + pad);
    const types = tgt.types.map((t, i) =>
      tgt.startId + i === floatId + 1 ? { ...t, nameOff: tgt.strings.length + pad } : t,
    );
    const crafted = new Btf({ types, strings, littleEndian: tgt.littleEndian });
    const dir = mkdtempSync(join(tmpdir(), 'btfkit-sgn-'));
    try {
      const file = join(dir, 'tgt2-16mib.btf');
      writeFileSync(file, encodeBtf(crafted));
      const target = decodeBtf(readFileSync(file));
      const sgnF = join(DIR, 'objects/sgn_f.bpf.o');
      const oracle = normalize(
        execFileSync(coreOracle(), [sgnF, file], { stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
      );
      expect(oracle).toEqual([expect.objectContaining({ kind: 'signed', from: 0, to: 1 })]);
      const ours = (libbpf: LibbpfVersion) =>
        normalize(
          relocateObject(load('sgn_f'), target, { libbpf }).relocations.flatMap(oracleLines).join('\n'),
        );
      expect(ours('1.1')).toEqual(oracle);
      expect(ours('1.7')).toEqual([{ ...oracle[0], to: 0 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('min-core-btf --bpftool-compat follows the profile’s bpftool', () => {
  // bpftool 7.1.0's own libbpf refuses `p[-1].a` when parsing the spec; 7.7.0's (libbpf
  // 1.7.0) accepts it at parse time, and bpftool's walk only calculates, so it goes on.
  it('negative accessor index: refused as bpftool 7.1.0 refuses it under 1.1, kept under 1.7', () => {
    const src2 = load('src2');
    const target = load('tgt2');
    const b = spawnSync(
      'bpftool',
      ['gen', 'min_core_btf', target.file as string, '/dev/null', src2.file as string],
      { encoding: 'utf8' },
    );
    expect(b.status).not.toBe(0);
    expect(b.stderr).toContain('relo #5: parsing [2] struct s1 + 4294967295:0 failed: -22');
    const tbtf = target.btf as NonNullable<typeof target.btf>;
    expect(() => minimizeBtf(tbtf, [src2], { bpftoolCompat: true })).toThrow(/negative index/);
    const modern = minimizeBtf(tbtf, [src2], { bpftoolCompat: true, libbpf: '1.7' });
    // Without the refusal the walk is the default one, which never refused.
    expect(Buffer.from(modern).equals(Buffer.from(minimizeBtf(tbtf, [src2])))).toBe(true);
  });
});
