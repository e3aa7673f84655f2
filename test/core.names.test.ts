import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { essentialName, typesByEssentialName } from '../packages/core/src/core/index.ts';
import { isDeclarationKind } from '../packages/core/src/core/names.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { kernelArchives } from './fixtures/btf/corpus.ts';

// The essential-name index hashes raw string bytes; it must answer exactly what a scan of the
// same BTF comparing essential names (core/names.ts, its cases in names.test.ts) answers, for
// every named type.
describe('essential-name index', () => {
  const sources = [
    join(import.meta.dirname, 'fixtures/core/obj/target_a.o'),
    join(import.meta.dirname, 'fixtures/core/obj/target_b.o'),
    kernelArchives()[0] as string,
  ];
  for (const src of sources) {
    it(`equals a scan on ${src.split('/').pop()}`, () => {
      const btf = readBtfSourceSync(src).btf;
      const scan = new Map<string, { types: number[]; declarations: number[] }>();
      for (let id = 1; id < btf.typeCount; id++) {
        const name = btf.name(id);
        if (name === '') continue;
        const ess = essentialName(name);
        let e = scan.get(ess);
        if (!e) {
          e = { types: [], declarations: [] };
          scan.set(ess, e);
        }
        (isDeclarationKind(btf.type(id).kind) ? e.declarations : e.types).push(id);
      }
      expect(scan.size).toBeGreaterThan(10);
      for (const [ess, want] of scan) {
        expect(typesByEssentialName(btf, ess, 'types'), ess).toEqual(want.types);
        expect(typesByEssentialName(btf, ess, 'declarations'), ess).toEqual(want.declarations);
        expect(typesByEssentialName(btf, ess), ess).toEqual(
          [...want.types, ...want.declarations].sort((a, b) => a - b),
        );
      }
      expect(typesByEssentialName(btf, 'no_such_type___anywhere')).toEqual([]);
    });
  }
  it('finds flavors by their essential name', () => {
    const btf = readBtfSourceSync(sources[0] as string).btf;
    const names = typesByEssentialName(btf, 'fl').map((id) => btf.name(id));
    expect(names).toEqual(['fl', 'fl___v1']);
  });
});
