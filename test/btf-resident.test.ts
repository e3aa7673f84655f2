/**
 * Kernel files read straight into a WebAssembly memory of their own (io/input.ts
 * readResidentInput, btf/btf-wasm-kit.ts arenas), where the type scan and the name index run
 * in place: the bytes are the file's, the scan and both indexes equal the JavaScript ones and
 * really lie in that memory (no copy), a resident kernel stays intact while other BTFs are
 * decoded and indexed after it, and the async reader and the fallbacks read the same bytes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BTF_WASM } from '../packages/core/src/btf/btf-wasm.ts';
import { decodeBtf } from '../packages/core/src/btf/index.ts';
import { scanTypesJs } from '../packages/core/src/btf/records.ts';
import { ByteReader } from '../packages/core/src/bytes/reader.ts';
import { buildIndexWasm } from '../packages/core/src/core/name-index.ts';
import { buildIndexJs, type NameGroup } from '../packages/core/src/core/names.ts';
import { BtfkitError } from '../packages/core/src/errors/index.ts';
import { readInput, readResidentInput, readResidentInputAsync } from '../packages/core/src/io/input.ts';
import { fetchKernel } from '../packages/core/src/minimize/kernel-read.ts';
import { noTimings } from '../packages/core/src/minimize/timings.ts';
import {
  kernelArchives,
  objectFiles,
  readBtfOfObject,
  releaseOf,
  useKernelsAndScratch,
} from './fixtures/btf/corpus.ts';

const corpus = useKernelsAndScratch('btfkit-resident-');
const scratch = mkdtempSync(join(tmpdir(), 'btfkit-resident-files-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const same = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Decodes a resident kernel and holds its scan and both indexes to the JavaScript ones. */
function expectInPlace(path: string, bytes: Uint8Array): void {
  const btf = decodeBtf(bytes, { file: path });
  const records = btf.rawRecords;
  if (!records || !btf.header) throw new Error('no records');
  // The scan ran where the file lies: its words and offsets are in the file's memory.
  expect(records.words.buffer).toBe(bytes.buffer);
  expect(records.offsets.buffer).toBe(bytes.buffer);
  const h = btf.header;
  const js = scanTypesJs(
    new ByteReader(readFileSync(path).subarray(h.hdrLen + h.typeOff, h.hdrLen + h.typeOff + h.typeLen), true),
    undefined,
  );
  expect(js.records.count).toBe(records.count);
  expect(same(records.offsets, js.records.offsets), `${path} offsets`).toBe(true);
  for (const group of ['types', 'declarations'] as NameGroup[]) {
    const fast = buildIndexWasm(btf, group === 'declarations');
    if (!fast) throw new Error('index declined');
    expect(fast.head.buffer, `${path} ${group} in place`).toBe(bytes.buffer);
    const ref = buildIndexJs(btf, group);
    expect(fast.mask).toBe(ref.mask);
    for (const k of ['head', 'next', 'hash', 'len'] as const) {
      expect(same(fast[k], ref[k]), `${path} ${group} ${k}`).toBe(true);
    }
  }
}

describe('resident kernel files', () => {
  it('every corpus kernel: the file bytes, scanned and indexed in place, equal to JavaScript', () => {
    for (const [, path] of corpus.raw) {
      const bytes = readResidentInput(path, 'kernel BTF');
      expect(same(bytes, readFileSync(path))).toBe(true);
      expectInPlace(path, bytes);
    }
  });

  it('a resident kernel is intact after other kernels and objects are decoded and indexed', async () => {
    const [first, ...rest] = [...corpus.raw.values()] as string[];
    const bytes = readResidentInput(first as string, 'kernel BTF');
    const btf = decodeBtf(bytes, { file: first });
    const before = btf.byName('task_struct');
    for (const p of rest) decodeBtf(await readResidentInputAsync(p, 'kernel BTF')).byName('task_struct');
    for (const f of objectFiles().slice(0, 5)) decodeBtf(readBtfOfObject(f)).byName('task_struct');
    expect(same(bytes, readFileSync(first as string))).toBe(true);
    expect(btf.byName('task_struct')).toEqual(before);
    expect(btf.name(before[0] as number)).toBe('task_struct');
  });

  it('the async reader reads the same bytes; a missing file fails the call, naming it', async () => {
    for (const [, path] of corpus.raw) {
      expect(same(await readResidentInputAsync(path, 'kernel BTF'), readFileSync(path))).toBe(true);
    }
    const missing = join(scratch, 'nope.btf');
    expect(() => readResidentInputAsync(missing, 'kernel BTF')).toThrow(BtfkitError);
    expect(() => readResidentInput(missing, 'kernel BTF')).toThrow(/nope\.btf.*kernel BTF not found/s);
  });

  it('what is not a regular file of known size is read the ordinary way, with the same errors', () => {
    // A /proc file reports size 0: read as readFileSync reads it.
    const proc = readResidentInput('/proc/self/cmdline', 'kernel BTF');
    expect(proc.length).toBeGreaterThan(0);
    expect(() => readResidentInput(scratch, 'kernel BTF')).toThrow(/cannot read kernel BTF: EISDIR/);
    // Not a regular file: read at once, so the call fails as a missing file's does.
    expect(() => readResidentInputAsync(scratch, 'kernel BTF')).toThrow(/EISDIR/);
    expect(() => readInput(scratch, 'kernel BTF')).toThrow(/cannot read kernel BTF: EISDIR/);
    const empty = join(scratch, 'empty.btf');
    writeFileSync(empty, '');
    expect(readResidentInput(empty, 'kernel BTF').length).toBe(0);
  });

  it('every corpus archive, inflated into an arena: the entry is the BTF tar extracts, scanned and indexed in place', async () => {
    const timings = noTimings();
    for (const archive of kernelArchives()) {
      const fetched = await fetchKernel(archive, timings, true);
      const extracted = corpus.raw.get(releaseOf(archive)) as string;
      expect(fetched.bytes.byteOffset % 4, archive).toBe(0);
      expect(same(fetched.bytes, readFileSync(extracted)), archive).toBe(true);
      expectInPlace(extracted, fetched.bytes);
    }
  });

  it('the module has no data segment (an arena keeps its file at address 0)', () => {
    const b = Buffer.from(BTF_WASM, 'base64');
    const ids: number[] = [];
    for (let p = 8; p < b.length; ) {
      const id = b[p++] as number;
      let len = 0;
      for (let shift = 0; ; shift += 7) {
        const x = b[p++] as number;
        len |= (x & 0x7f) << shift;
        if (x < 0x80) break;
      }
      ids.push(id);
      p += len;
    }
    expect(ids).toContain(10); // code
    expect(ids).not.toContain(11); // data
  });

  it('the running kernel, /sys/kernel/btf/vmlinux: the same bytes, scanned in place', () => {
    const path = '/sys/kernel/btf/vmlinux';
    const bytes = readResidentInput(path, 'kernel BTF');
    expect(same(bytes, readFileSync(path))).toBe(true);
    expectInPlace(path, bytes);
  });

  it('the running kernel read in the thread pool: sysfs serves a page a read, the rest is read at once', async () => {
    const path = '/sys/kernel/btf/vmlinux';
    const bytes = await readResidentInputAsync(path, 'kernel BTF');
    expect(bytes.length).toBeGreaterThan(4096);
    expect(same(bytes, readFileSync(path))).toBe(true);
    expectInPlace(path, bytes);
  });
});
