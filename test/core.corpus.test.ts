import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oracleLines, relocateObject } from '../packages/core/src/core/index.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { CORPUS, kernelArchives, objectFiles } from './fixtures/btf/corpus.ts';
import { normalize, parseExact } from './fixtures/core/oracle.ts';

// Every relocation of the 41 corpus objects against the 7 corpus kernels, compared line by
// line with what libbpf 1.1 decided (expected/relocs, written by core-oracle).
const objects = objectFiles().map((path) => ({ path, obj: parseBpfObject(readFileSync(path), path) }));

describe('CO-RE relocations of the corpus equal libbpf 1.1', () => {
  let total = 0;
  let poisoned = 0;
  for (const archive of kernelArchives()) {
    it(archive.split('/').pop() as string, () => {
      const kernel = readBtfSourceSync(archive);
      const release = kernel.release as string;
      for (const { path, obj } of objects) {
        const name = (path.split('/').pop() as string).replace(/\.bpf\.o$/, '');
        const expectedText = readFileSync(join(CORPUS, 'expected/relocs', release, `${name}.jsonl`), 'utf8');
        const res = relocateObject(obj, kernel.btf, { release });
        const ours = normalize(parseExact(res.relocations.flatMap(oracleLines).join('\n')));
        const expected = normalize(parseExact(expectedText));
        expect(ours, `${name} against ${release}`).toEqual(expected);
        total += expected.length;
        poisoned += expected.filter((l) => l.poison === true).length;
        for (const r of res.relocations) {
          if ('poison' in r.outcome) expect(r.outcome.reason).toContain(release);
        }
      }
    });
  }
  it('covered the whole corpus (2,898 relocations, 205 poisoned)', () => {
    const files = readdirSync(join(CORPUS, 'expected/relocs'));
    expect(files.length).toBe(7);
    expect(total).toBe(2898);
    expect(poisoned).toBe(205);
  });
});
