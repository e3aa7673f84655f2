import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type LibbpfVersion,
  oracleLines,
  type Relocation,
  relocateObject,
} from '../packages/core/src/core/index.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { normalize, parseExact } from './fixtures/core/oracle.ts';

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
