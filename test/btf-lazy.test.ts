import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBtf } from '../packages/core/src/btf/decode.ts';
import { KIND_NAMES, type TypeId } from '../packages/core/src/btf/index.ts';
import { bpftool, kernelArchives, MODULES_KERNEL, moduleFiles, releaseOf } from './fixtures/btf/corpus.ts';

/**
 * A decoded BTF builds type objects on demand and looks names up by hashing string bytes.
 * Checked against bpftool's listing of the same file (ids, kinds, names), touching types in
 * an order unrelated to the file's, before and after `types` is first read.
 */
const tmp = mkdtempSync(join(tmpdir(), 'btfkit-lazy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Listed {
  kinds: Map<TypeId, string>;
  names: Map<TypeId, string>;
  byName: Map<string, TypeId[]>;
}

/** Type lines of `bpftool btf dump file` (`[id] KIND 'name' ...`). */
function listing(args: string[]): Listed {
  const kinds = new Map<TypeId, string>();
  const names = new Map<TypeId, string>();
  const byName = new Map<string, TypeId[]>();
  for (const line of bpftool(['btf', 'dump', 'file', ...args])
    .toString()
    .split('\n')) {
    const m = /^\[(\d+)\] (\S+) '([^']*)'/.exec(line);
    if (!m) continue;
    const id = Number(m[1]);
    const name = m[3] === '(anon)' ? '' : (m[3] as string);
    kinds.set(id, m[2] as string);
    names.set(id, name);
    if (name !== '') byName.set(name, [...(byName.get(name) ?? []), id]);
  }
  return { kinds, names, byName };
}

describe('lazy decode against bpftool', () => {
  const archive = kernelArchives().find((a) => releaseOf(a) === MODULES_KERNEL) as string;
  execFileSync('tar', ['-xJf', archive, '-C', tmp]);
  const raw = join(tmp, `${MODULES_KERNEL}.btf`);
  const listed = listing([raw]);

  it('kindOf, name, byName and type(id) in a scattered order equal bpftool on a kernel', () => {
    const btf = decodeBtf(readFileSync(raw), { file: raw });
    expect(btf.typeCount - 1).toBe(listed.kinds.size);
    const n = btf.typeCount;
    // A stride coprime with n visits every id once, far from file order.
    for (let k = 0, id = 1; k < n - 1; k++, id = 1 + ((id - 1 + 7919) % (n - 1))) {
      expect(KIND_NAMES[btf.kindOf(id)]).toBe(listed.kinds.get(id));
      expect(btf.name(id)).toBe(listed.names.get(id));
      if (k % 97 === 0) expect(KIND_NAMES[btf.type(id).kind]).toBe(listed.kinds.get(id));
    }
    for (const [name, ids] of listed.byName) expect(btf.byName(name)).toEqual(ids);
    expect(btf.byName('no_such_type_name_here')).toEqual([]);
    expect(btf.byName('')).toEqual([]);
    // `types` after some were built on demand: the same objects, all of them, in id order.
    const first = btf.type(1000);
    const all = btf.types;
    expect(all).toHaveLength(n - 1);
    expect(all[999]).toBe(first);
    for (let i = 0; i < all.length; i += 101) {
      expect(KIND_NAMES[(all[i] as { kind: number }).kind]).toBe(listed.kinds.get(i + 1));
    }
  });

  it('split module BTF: byName answers base then own ids, as bpftool numbers them', () => {
    const mod = moduleFiles()[0] as string;
    const base = decodeBtf(readFileSync(raw), { file: raw });
    const split = decodeBtf(readFileSync(mod), { file: mod, base });
    const own = listing(['--base-btf', raw, mod]);
    for (const [name, ids] of own.byName) {
      expect(split.byName(name)).toEqual([...(listed.byName.get(name) ?? []), ...ids]);
    }
    for (const [id, kind] of own.kinds) {
      expect(KIND_NAMES[split.kindOf(id)]).toBe(kind);
      expect(split.name(id)).toBe(own.names.get(id));
    }
  });
});
