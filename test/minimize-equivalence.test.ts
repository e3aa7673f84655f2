import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBtf } from '../packages/core/src/btf/decode.ts';
import { oracleLines, relocateObject } from '../packages/core/src/core/index.ts';
import { type BpfObject, parseBpfObject } from '../packages/core/src/elf/object.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { minimizeBtf } from '../packages/core/src/minimize/minimize.ts';
import { CORPUS, kernelArchives, objectFiles, releaseOf } from './fixtures/btf/corpus.ts';
import { decisions, oracleDecisions } from './fixtures/minimize/decisions.ts';

/**
 * Equivalence, proven on the corpus: every object relocated against our minimized BTF (the
 * object alone, and all 41 together) decides exactly what libbpf 1.1 decided against the
 * full kernel (expected/relocs), both when libbpf itself relocates against our file
 * (core-oracle) and when our engine does. target_type_id is compared as found / not found,
 * since its value is an id in whichever BTF is the target.
 */

const tmp = mkdtempSync(join(tmpdir(), 'btfkit-min-equiv-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const objects = objectFiles().map((path) => parseBpfObject(new Uint8Array(readFileSync(path)), path));
const nameOf = (obj: BpfObject) => basename(obj.file ?? '', '.bpf.o');

/** Our engine's decisions for `obj` against `target`. */
function engine(obj: BpfObject, target: ReturnType<typeof decodeBtf>): ReturnType<typeof decisions> {
  return decisions(relocateObject(obj, target).relocations.flatMap(oracleLines));
}

describe('relocations against our minimized BTF equal those against the full kernel', () => {
  let checked = 0;
  let oracleRuns = 0;

  for (const archive of kernelArchives()) {
    const release = releaseOf(archive);
    it(release, () => {
      const kernel = readBtfSourceSync(archive).btf;
      const dir = join(tmp, release);
      mkdirSync(dir);
      const allBytes = minimizeBtf(kernel, objects);
      const allFile = join(dir, '_all.btf');
      writeFileSync(allFile, allBytes);
      const all = decodeBtf(allBytes, { file: allFile });
      expect(all.typeCount).toBeLessThan(kernel.typeCount / 10);

      for (const obj of objects) {
        const name = nameOf(obj);
        const libbpfFull = decisions(
          readFileSync(join(CORPUS, 'expected/relocs', release, `${name}.jsonl`), 'utf8'),
        );
        const oneBytes = minimizeBtf(kernel, [obj]);
        const oneFile = join(dir, `${name}.btf`);
        writeFileSync(oneFile, oneBytes);
        const one = decodeBtf(oneBytes, { file: oneFile });

        // libbpf against our files.
        expect(oracleDecisions(obj.file as string, oneFile), `libbpf: ${name} vs ${name}.btf`).toEqual(
          libbpfFull,
        );
        expect(oracleDecisions(obj.file as string, allFile), `libbpf: ${name} vs _all.btf`).toEqual(
          libbpfFull,
        );
        oracleRuns += 2;
        // Our engine against our files, and against the full kernel as the baseline.
        expect(engine(obj, kernel), `engine: ${name} vs full kernel`).toEqual(libbpfFull);
        expect(engine(obj, one), `engine: ${name} vs ${name}.btf`).toEqual(libbpfFull);
        expect(engine(obj, all), `engine: ${name} vs _all.btf`).toEqual(libbpfFull);
        checked += libbpfFull.length;
      }
    });
  }

  it('covered every corpus relocation with both relocators', () => {
    expect(checked).toBe(2898);
    expect(oracleRuns).toBe(7 * 41 * 2);
  });

  it('the comparison notices a BTF that lacks what an object needs', () => {
    // Control: biosnoop against the minimized BTF of an unrelated object decides differently.
    const archive = kernelArchives()[0] as string;
    const kernel = readBtfSourceSync(archive).btf;
    const bio = objects.find((o) => nameOf(o) === 'biosnoop') as BpfObject;
    const other = objects.find((o) => nameOf(o) === 'oomkill') as BpfObject;
    const file = join(tmp, 'control.btf');
    writeFileSync(file, minimizeBtf(kernel, [other]));
    const full = decisions(
      readFileSync(join(CORPUS, 'expected/relocs', releaseOf(archive), 'biosnoop.jsonl'), 'utf8'),
    );
    expect(oracleDecisions(bio.file as string, file)).not.toEqual(full);
    expect(engine(bio, decodeBtf(readFileSync(file)))).not.toEqual(full);
  });
});
