import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBtf } from '../btf/decode.ts';
import { extSectionName } from '../btfext/btfext.ts';
import { parseBpfObject } from '../elf/object.ts';
import { BtfkitError } from '../errors/index.ts';
import { btfSourceFromBytes } from './source.ts';
import { readSingleBtfEntry } from './tar.ts';

/**
 * Damaged input must only ever produce a BtfkitError that says where (file and offset):
 * seeded truncations and byte mutations of real objects and of a btfhub tar.xz.
 */

const ROOT = resolve(import.meta.dirname, '../../../..');
const CORPUS = join(ROOT, 'test/corpus');
const OBJECTS = ['biosnoop', 'klockstat', 'tcpconnect', 'execsnoop'].map((n) =>
  join(CORPUS, 'objects', `${n}.bpf.o`),
);

let outcomes = { ok: 0, errors: 0 };

/**
 * Runs a reader over damaged bytes: success is fine, a BtfkitError with a location is fine.
 * The location rule: the offset is ≥ 0 and either within the input (`size` bytes, when the
 * offsets point into it; offset `size` is its end, where missing data would start) or, for
 * data a header places past the end, a TRUNCATED error whose message states where the data
 * ends, no later than the end of the input. Every TRUNCATED message states that end.
 */
function expectOnlyTypedErrors(name: string, run: () => void, size?: number): void {
  try {
    run();
    outcomes.ok++;
  } catch (e) {
    if (!(e instanceof BtfkitError)) {
      throw new Error(`${name}: expected a BtfkitError, got ${(e as Error)?.stack ?? String(e)}`);
    }
    expect(e.file, e.message).toBe(name);
    expect(e.offset, e.message).toBeTypeOf('number');
    const offset = e.offset as number;
    expect(offset, e.message).toBeGreaterThanOrEqual(0);
    const end = /the data ends at offset (\d+)$/.exec(e.message);
    if (e.code === 'TRUNCATED') expect(end, e.message).not.toBeNull();
    if (size !== undefined && offset > size) {
      expect(e.code, e.message).toBe('TRUNCATED');
      expect(Number(end?.[1]), e.message).toBeLessThanOrEqual(size);
    }
    outcomes.errors++;
  }
}

/** Everything a consumer would touch on an object: sections, symbols, relocations, .BTF.ext. */
function readObjectFully(bytes: Uint8Array, name: string): void {
  const obj = parseBpfObject(bytes, name);
  for (const s of obj.elf.sections) obj.elf.relocations(s);
  if (obj.ext) {
    for (const s of [...obj.ext.funcInfo, ...obj.ext.lineInfo, ...obj.ext.coreRelos]) {
      try {
        extSectionName(obj.btf, s);
      } catch (e) {
        throw e instanceof BtfkitError ? e.withFile(name) : e;
      }
    }
  }
}

const mutation = (len: number) =>
  fc.array(fc.record({ at: fc.nat({ max: len - 1 }), value: fc.integer({ min: 0, max: 255 }) }), {
    minLength: 1,
    maxLength: 6,
  });

function mutate(bytes: Uint8Array, changes: { at: number; value: number }[]): Uint8Array {
  const copy = new Uint8Array(bytes);
  for (const { at, value } of changes) copy[at] = value;
  return copy;
}

describe('BPF objects: truncations and byte mutations', () => {
  it.each(OBJECTS)('%s', (path) => {
    outcomes = { ok: 0, errors: 0 };
    const bytes = new Uint8Array(readFileSync(path));
    const name = path.split('/').pop() as string;
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), (n) => {
        expectOnlyTypedErrors(name, () => readObjectFully(bytes.subarray(0, n), name), n);
      }),
      { seed: 0x5eed, numRuns: 600 },
    );
    // Mutations biased to the header and tables where they matter: half anywhere, half in
    // the first 64 bytes or the section header table at the end.
    const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
    fc.assert(
      fc.property(
        fc.oneof(
          mutation(bytes.length),
          mutation(64),
          mutation(bytes.length - shoff).map((m) => m.map((c) => ({ ...c, at: c.at + shoff }))),
        ),
        (changes) => {
          expectOnlyTypedErrors(name, () => readObjectFully(mutate(bytes, changes), name), bytes.length);
        },
      ),
      { seed: 0xb7f, numRuns: 2500 },
    );
    // Both outcomes happen: the generator reaches deep enough to parse and to fail.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.errors).toBeGreaterThan(0);
  });
});

describe('btfhub tar.xz: truncations and byte mutations', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'btfkit-fuzz-'));
    execFileSync('python3', [
      join(ROOT, 'test/fixtures/kernels/make-tars.py'),
      join(CORPUS, 'expected/min/6.1.0-47-cloud-amd64/_all.btf'),
      dir,
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a small archive', () => {
    outcomes = { ok: 0, errors: 0 };
    const name = join(dir, 'good/5.0.0-test.btf.tar.xz');
    const bytes = new Uint8Array(readFileSync(name));
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), (n) => {
        expectOnlyTypedErrors(name, () => btfSourceFromBytes(bytes.subarray(0, n), name));
      }),
      { seed: 7, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.oneof(mutation(bytes.length), mutation(64)), (changes) => {
        expectOnlyTypedErrors(name, () => btfSourceFromBytes(mutate(bytes, changes), name));
      }),
      { seed: 8, numRuns: 3000 },
    );
    expect(outcomes.errors).toBeGreaterThan(0);
  });

  it('the tar inside (decompressed by xz(1)): mutations of its headers', () => {
    outcomes = { ok: 0, errors: 0 };
    const name = join(dir, 'good-pax/5.0.0-test.btf.tar.xz');
    const tar = new Uint8Array(execFileSync('xz', ['-dc', name]));
    const read = (b: Uint8Array) => {
      const entry = readSingleBtfEntry(b, name, '5.0.0-test.btf');
      decodeBtf(entry.data, { file: name });
    };
    fc.assert(
      fc.property(fc.oneof(mutation(1536), mutation(tar.length)), (changes) => {
        expectOnlyTypedErrors(name, () => read(mutate(tar, changes)), tar.length);
      }),
      { seed: 10, numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat({ max: tar.length - 1 }), (n) => {
        expectOnlyTypedErrors(name, () => read(tar.subarray(0, n)), n);
      }),
      { seed: 11, numRuns: 300 },
    );
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.errors).toBeGreaterThan(0);
  });

  it('truncations of a corpus kernel archive', () => {
    const name = join(CORPUS, 'kernels/debian/11/x86_64/5.10.0-32-cloud-amd64.btf.tar.xz');
    const bytes = new Uint8Array(readFileSync(name));
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), (n) => {
        expectOnlyTypedErrors(name, () => btfSourceFromBytes(bytes.subarray(0, n), name));
      }),
      { seed: 9, numRuns: 200 },
    );
  });
});
