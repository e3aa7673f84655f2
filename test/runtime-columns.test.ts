import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSkeletonModel,
  parseBpfObject,
  type SkeletonModel,
  TypeDescriber,
} from '../packages/core/src/index.ts';
import { type ColumnBatch, type LoadedObject, loadObject } from '../packages/runtime/src/index.ts';
import { koffi } from '../packages/runtime/src/sys/libc.ts';
import { compileBpf } from './fixtures/clang.ts';
import { buildLayoutFixture, type Written } from './fixtures/codegen/layouts.ts';
import {
  columnValue,
  decodeColumns,
  expectColumnsMatchViews,
  type RecordType,
  randomBytes,
  viewAt,
} from './fixtures/runtime/columns-check.ts';

// Columnar batches must hold exactly what the per-record views read: on struct rec
// (test/fixtures/runtime/columns.h: nested structs, arrays, enums, bitfields, char arrays, a
// union, packed 64-bit members) as clang encodes its C initializer in both byte orders and as
// the kernel writes it into a ring buffer and a perf buffer; on gcc-written layouts
// (test/fixtures/codegen/layouts.h); and on every corpus record type of a ring buffer or perf
// buffer.

const FIXTURES = join(import.meta.dirname, 'fixtures/runtime');
const work = mkdtempSync(join(tmpdir(), 'btfkit-columns-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

function modelOf(path: string): SkeletonModel {
  const o = parseBpfObject(new Uint8Array(readFileSync(path)), path);
  return buildSkeletonModel({ file: path, btf: o.btf, sections: o.elf.sections, programs: o.programs }, 'm');
}

/** Dotted paths of a nested value, as columns are named. */
function flatten(v: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = v;
  return out;
}

describe('columns of struct rec in both byte orders (clang-encoded initializer)', () => {
  const orders: Record<'bpfel' | 'bpfeb', { t: RecordType; record: Uint8Array }> = {} as never;

  beforeAll(() => {
    for (const target of ['bpfel', 'bpfeb'] as const) {
      const out = join(work, `columns-${target}.o`);
      compileBpf(join(FIXTURES, 'columns.bpf.c'), out, { target });
      execFileSync('llvm-objcopy-19', [`--dump-section=.data=${out}.data`, out]);
      const model = modelOf(out);
      const g = model.globals.init;
      if (!g) throw new Error('columns.bpf.o: no global init');
      const data = new Uint8Array(readFileSync(`${out}.data`));
      orders[target] = {
        t: { types: model.types, desc: g.type, littleEndian: model.littleEndian },
        record: data.slice(g.offset, g.offset + g.size),
      };
    }
  });

  for (const target of ['bpfel', 'bpfeb'] as const) {
    it(`${target}: the initializer and random records read the same as columns and as views`, () => {
      const { t, record } = orders[target];
      const records = [
        record,
        ...Array.from({ length: 40 }, (_, i) => randomBytes(record.length, 7 + i)),
        record,
      ];
      const { batch, mem, offsets } = decodeColumns(t, records);
      const views = offsets.map((o) => viewAt(t, mem, o));
      expect(expectColumnsMatchViews(t, batch, views, target)).toBeGreaterThan(42 * 40);
    });
  }

  it('the C initializer, as clang encoded it, in both byte orders', () => {
    const values = (target: 'bpfel' | 'bpfeb') => {
      const { t, record } = orders[target];
      const { batch } = decodeColumns(t, [record]);
      return Object.fromEntries(batch.layout.map((c) => [c.name, columnValue(batch, c.name, 0)]));
    };
    const le = values('bpfel');
    const be = values('bpfeb');
    expect(le).toMatchObject({
      seq: 0x0102030405060708n,
      pid: 4242,
      s8: -7,
      ok: true,
      s16: -30000,
      lvl: 'HIGH',
      wide: 'S_HUGE',
      comm: 'init-rec',
      odd: 'abcd',
      'pts.0.x': -1,
      'pts.0.y': 100000,
      'pts.1.y': -3,
      'inner.tag': 9,
      'inner.when': 0xfedcba9876543210n,
      'un.u': 0xdeadbeef,
      anon_a: 77,
      a: 5,
      b: 4000,
      neg: -33,
      lv: 'MID',
      bit: true,
      wide_bits: 0xabcdef12345n,
      sbig: -0x123456789abcdn,
      'grid.1.0': 0xfff0,
      'grid.1.2': 6,
      f: 1.5,
      d: -2.25,
      ptr: 0x7fff0000beefn,
      'pk.c': 3,
      'pk.v': 0x1122334455667788n,
      'pk.w': 0xcafebabe,
      'pk.s': -5n,
      s64: -1234567890123n,
    });
    // The union's bytes are the only values that depend on the byte order.
    expect([0, 1, 2, 3].map((k) => le[`un.b.${k}`])).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect([0, 1, 2, 3].map((k) => be[`un.b.${k}`])).toEqual([0xde, 0xad, 0xbe, 0xef]);
    for (const k of Object.keys(le)) if (!k.startsWith('un.b.')) expect(be[k], k).toEqual(le[k]);
    // Both orders really differ in bytes.
    expect(Buffer.from(orders.bpfel.record).equals(Buffer.from(orders.bpfeb.record))).toBe(false);
  });

  it('records cut short read as zero past their end', () => {
    const { t, record } = orders.bpfel;
    const cut = 40;
    const { batch } = decodeColumns(t, [record, record], [record.length, cut]);
    const zero = new Uint8Array(record.length);
    zero.set(record.subarray(0, cut));
    const { batch: padded } = decodeColumns(t, [zero]);
    for (const c of batch.layout)
      expect(columnValue(batch, c.name, 1), c.name).toEqual(columnValue(padded, c.name, 0));
    expect(columnValue(batch, 'seq', 1)).toBe(0x0102030405060708n);
    expect(columnValue(batch, 's64', 1)).toBe(0n);
  });
});

describe('bitfield columns: the C initializer of bitfields.bpf.c, as clang encoded it', () => {
  // Packed bitfields at odd offsets: 64-bit members narrower than 32 bits and wider, ones
  // spanning 5 and 9 bytes, exactly 32 bits off a byte boundary, negative values.
  for (const target of ['bpfel', 'bpfeb'] as const) {
    it(`${target}: the values of the C source, and random records as the views read them`, () => {
      const out = join(work, `bitfields-${target}.o`);
      compileBpf(join(FIXTURES, 'bitfields.bpf.c'), out, { target });
      execFileSync('llvm-objcopy-19', [`--dump-section=.data=${out}.data`, out]);
      const model = modelOf(out);
      const g = model.globals.init;
      if (!g) throw new Error('bitfields.bpf.o: no global init');
      const t: RecordType = { types: model.types, desc: g.type, littleEndian: model.littleEndian };
      const record = new Uint8Array(readFileSync(`${out}.data`)).slice(g.offset, g.offset + g.size);
      const { batch } = decodeColumns(t, [record]);
      const values = Object.fromEntries(batch.layout.map((c) => [c.name, columnValue(batch, c.name, 0)]));
      expect(values).toEqual({
        pad: 5,
        s20: -300000n,
        u31: 0x7654321fn,
        s30: -400000000,
        s64: -0x123456789abcdef0n,
        flag: true,
        u32: 0xfedcba98,
        s33: -4000000000n,
        u7: 99n,
        neg1: -1n,
      });
      const records = [record, ...Array.from({ length: 64 }, (_, i) => randomBytes(record.length, 101 + i))];
      const { batch: many, mem, offsets } = decodeColumns(t, records);
      const views = offsets.map((o) => viewAt(t, mem, o));
      expect(expectColumnsMatchViews(t, many, views, target)).toBe(65 * 10);
    });
  }
});

describe('columns of gcc-written layouts (layouts.h)', () => {
  let fixture: ReturnType<typeof buildLayoutFixture>;
  beforeAll(() => {
    fixture = buildLayoutFixture('btfkit-columns-layouts-');
  });
  afterAll(() => rmSync(fixture.dir, { recursive: true, force: true }));

  for (const name of ['padded', 'packed', 'aligned', 'bits', 'overlay', 'nested', 'strings', 'flex']) {
    it(`${name}: what gcc stored, as columns and as views`, () => {
      const { btf, written } = fixture;
      const w = written.find((x) => x.type === name) as Written;
      const id = btf.byName(name).find((i) => [4, 5].includes(btf.type(i).kind)) as number;
      const d = new TypeDescriber(btf);
      const desc = d.describe(id);
      const t: RecordType = { types: Object.fromEntries(d.named), desc, littleEndian: btf.littleEndian };
      const raw = new Uint8Array(Buffer.from(w.bytes, 'hex'));
      const records = [raw, ...Array.from({ length: 20 }, (_, i) => randomBytes(raw.length, 100 + i))];
      const { batch, mem, offsets } = decodeColumns(t, records);
      expectColumnsMatchViews(
        t,
        batch,
        offsets.map((o) => viewAt(t, mem, o)),
        name,
      );
      // And the columns of gcc's record hold gcc's values.
      const want = flatten(w.values);
      let checked = 0;
      for (const c of batch.layout) {
        if (!(c.name in want)) continue;
        const v = columnValue(batch, c.name, 0);
        expect(typeof v === 'bigint' ? String(v) : v, c.name).toEqual(want[c.name]);
        checked++;
      }
      expect(checked, `${name}: gcc values compared`).toBeGreaterThan(0);
    });
  }
});

describe('columns of the corpus record types', () => {
  // A map's record type is its `__type(value, …)`/event tag; libbpf-tools' perf buffers carry
  // none, and their tools' headers name the record `struct event`, `struct data` or
  // `struct cap_event`, found here when the object's BTF has it.
  const TOOL_RECORDS = ['event', 'data', 'cap_event'];
  const dir = join(import.meta.dirname, 'corpus/objects');
  const found: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const model = modelOf(join(dir, f));
    const streams = Object.values(model.maps).filter(
      (m) => m.type === 'ringbuf' || m.type === 'perf_event_array',
    );
    if (streams.length === 0) continue;
    const descs = streams.flatMap((m) => (m.event ? [m.event] : []));
    for (const n of TOOL_RECORDS) if (model.types[n]?.kind === 'struct') descs.push({ kind: 'ref', name: n });
    for (const desc of descs) {
      const label = `${f} ${desc.kind === 'ref' ? desc.name : desc.kind}`;
      found.push(label);
      it(`${label}: random records read the same as columns and as views`, () => {
        const t: RecordType = { types: model.types, desc, littleEndian: model.littleEndian };
        const size = decodeColumns(t, []).batch.layout.length > 0 ? sizeOfDesc(t) : 0;
        const records = Array.from({ length: 25 }, (_, i) => randomBytes(size, 1000 + i));
        const { batch, mem, offsets } = decodeColumns(t, records);
        expect(batch.layout.length).toBeGreaterThan(0);
        expectColumnsMatchViews(
          t,
          batch,
          offsets.map((o) => viewAt(t, mem, o)),
          label,
        );
      });
    }
  }
  it('finds the corpus record types', () => {
    // execsnoop, gethostlatency, sigsnoop (event); capable (cap_event); mdflush (its map's
    // u32); the five *slower tools (data).
    expect(found.length).toBeGreaterThanOrEqual(10);
  });
});

function sizeOfDesc(t: RecordType): number {
  return decodeColumns(t, []).batch.layout.reduce((m, c) => Math.max(m, c.offset + c.size), 0);
}

describe('columns of kernel-written records (columns.bpf.o: ring buffer and perf buffer)', () => {
  const getppid = koffi.load('libc.so.6').func('int getppid()') as () => number;
  const comm = readFileSync('/proc/self/comm', 'utf8').trim();
  let obj: LoadedObject;
  let t: RecordType;
  let size = 0;

  beforeAll(async () => {
    const path = join(FIXTURES, 'columns.bpf.o');
    const model = modelOf(path);
    const g = model.globals.init;
    if (!g) throw new Error('no init');
    t = { types: model.types, desc: g.type, littleEndian: model.littleEndian };
    size = g.size;
    obj = await loadObject(new Uint8Array(readFileSync(path)), {
      file: path,
      globals: { target_pid: process.pid },
    });
    await obj.attach();
  });
  afterAll(async () => {
    await obj?.close();
  });

  /** A payload zero-filled to the record's size, and the view over it. */
  const viewOf = (payload: Uint8Array) => {
    const b = new Uint8Array((size + 7) & ~7);
    b.set(payload.subarray(0, size));
    return viewAt(t, new DataView(b.buffer), 0);
  };

  it('ring columns equal the perf buffer per record, perf columns equal the ring per record', async () => {
    const rb = obj.ringbuf('ring');
    const pb = obj.perfbuf<Uint8Array>('perf', { decode: (b) => b.slice() });
    const seqOf = (b: ColumnBatch, i: number) => (b.columns.seq as BigUint64Array)[i] as bigint;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 8; i++) getppid(); // 8 × 16 records
      const ringViews = new Map<bigint, Record<string, unknown>>();

      const perfViews = new Map<bigint, Record<string, unknown>>();
      let cols: ColumnBatch;
      if (round === 0) {
        cols = rb.columns(1024);
        pb.consume((ev) => {
          if ('data' in ev) {
            const v = viewOf(ev.data);
            perfViews.set(v.seq as bigint, v);
          }
        });
      } else {
        const batch = rb.read(1024);
        for (let i = 0; i < batch.length; i++) {
          const v = viewOf(batch.bytes(i));
          ringViews.set(v.seq as bigint, v);
        }
        cols = pb.columns(1024);
      }
      const views = round === 0 ? perfViews : ringViews;
      expect(cols.length, `round ${round}`).toBe(128);
      expect(views.size).toBe(128);
      const ordered = Array.from(
        { length: cols.length },
        (_, i) => views.get(seqOf(cols, i)) as Record<string, unknown>,
      );
      expect(ordered.every((v) => v !== undefined)).toBe(true);
      // The kernel pads perf samples to 8 bytes with whatever the perf ring held there: records
      // cut short (n % 8 == 7, so anon_a = n + 1 is a multiple of 8) are compared up to their
      // end, offsetof(struct rec, pts).
      const short = cols.layout.find((c) => c.name === 'pts.0.x')?.offset as number;
      const within = (i: number) => ((columnValue(cols, 'anon_a', i) as number) % 8 === 0 ? short : size);
      expectColumnsMatchViews(t, cols, ordered, `round ${round}`, within);
      // What the program wrote: our pid and task name; every 8th record cut short after odd.
      for (let i = 0; i < cols.length; i++) {
        expect(columnValue(cols, 'pid', i)).toBe(process.pid);
        expect(columnValue(cols, 'comm', i)).toBe(comm);
        const n = BigInt(columnValue(cols, 'inner.tag', i) as number);
        if ((columnValue(cols, 'anon_a', i) as number) % 8 === 0) {
          // n % 8 == 7: the record stops before pts, whose columns read zero.
          expect(columnValue(cols, 'pts.1.y', i)).toBe(0);
          expect(columnValue(cols, 's64', i)).toBe(0n);
        } else expect((columnValue(cols, 'pk.v', i) as bigint) & 0xffn).toBe(n);
      }
      if (round === 1) expect([...cols.cpu.subarray(0, cols.length)].every((c) => c >= 0)).toBe(true);
    }
  });

  it('for-await columns from the map: the batch arrays are reused batch after batch', async () => {
    const seen: unknown[] = [];
    let total = 0;
    for (let i = 0; i < 4; i++) getppid();
    const it = obj.map('ring').columns(16)[Symbol.asyncIterator]();
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      seen.push(r.value.columns.seq);
      total += r.value.length;
      if (total >= 64) break;
    }
    await it.return?.();
    expect(total).toBe(64);
    expect(seen.length).toBe(4);
    expect(new Set(seen).size).toBe(1);
  });

  it("columns() across the ring's and the perf buffer's wrap-around: every record written", () => {
    // columns.bpf.o's ring is 1 MiB; ~3 MiB of records in rounds of 640 take the consumer
    // position around it three times, batches of 100 ending anywhere in a lap. The perf
    // buffer (256 KiB a CPU) gets the same records, a round fitting in it, 13 laps or more.
    const rb = obj.ringbuf('ring');
    const pb = obj.perfbuf('perf', { pageCount: 64 });
    // Records an earlier test took zero-copy but never released are still in the ring.
    while (rb.columns(1024).length > 0);
    // seq = n × golden mod 2^64 (golden odd): n = seq × golden⁻¹, the inverse by Newton's
    // iteration, so even records cut short (before anon_a) give their n.
    const golden = 0x9e3779b97f4a7c15n;
    let inverse = golden;
    for (let k = 0; k < 6; k++) inverse = BigInt.asUintN(64, inverse * (2n - golden * inverse));
    let prev = -1;
    let total = 0;
    let bytes = 0;
    const nOf = (b: ColumnBatch, i: number) =>
      Number(BigInt.asUintN(64, (columnValue(b, 'seq', i) as bigint) * inverse));
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 40; i++) getppid();
      let got = 0;
      const ringNs: number[] = [];
      for (let b = rb.columns(100); b.length > 0; b = rb.columns(100)) {
        for (let i = 0; i < b.length; i++) {
          const n = nOf(b, i);
          ringNs.push(n);
          if (prev >= 0) expect(n).toBe(prev + 1);
          prev = n;
          expect(columnValue(b, 'pid', i)).toBe(process.pid);
          expect(columnValue(b, 'comm', i)).toBe(comm);
          expect(columnValue(b, 'anon_a', i)).toBe(n % 8 === 7 ? 0 : n + 1);
          bytes += size;
        }
        got += b.length;
      }
      expect(got, `round ${round}`).toBe(640);
      total += got;
      // The perf buffer: the same records (CPU by CPU, so in any order), no loss.
      const perfNs: number[] = [];
      for (let b = pb.columns(100); b.length > 0 || b.lost > 0; b = pb.columns(100)) {
        expect(b.lost).toBe(0);
        for (let i = 0; i < b.length; i++) {
          const n = nOf(b, i);
          perfNs.push(n);
          expect(columnValue(b, 'pid', i)).toBe(process.pid);
          expect(columnValue(b, 'comm', i)).toBe(comm);
          expect(columnValue(b, 'anon_a', i)).toBe(n % 8 === 7 ? 0 : n + 1);
        }
      }
      expect(
        perfNs.sort((x, y) => x - y),
        `perf round ${round}`,
      ).toEqual(ringNs);
    }
    pb.close();
    expect(total).toBe(30 * 640);
    expect(bytes).toBeGreaterThan(2 * (1 << 20));
  });

  it('columns() on a map without a record type is a typed error', async () => {
    const path = join(FIXTURES, 'ringbench.bpf.o');
    const o = await loadObject(new Uint8Array(readFileSync(path)), { file: path });
    try {
      const rb = o.ringbuf('samples');
      expect(() => rb.columns()).toThrow(
        expect.objectContaining({ name: 'BtfkitError', code: 'BAD_OPTION' }),
      );
      expect(() => rb.columns()).toThrow(/ring buffer 'samples': no record type/);
    } finally {
      await o.close();
    }
  });
});
