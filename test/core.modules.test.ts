import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Btf } from '../packages/core/src/btf/index.ts';
import { oracleLines, type Relocation, relocateObject } from '../packages/core/src/core/index.ts';
import { type BpfObject, parseBpfObject } from '../packages/core/src/elf/index.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { CORPUS, kernelArchives, MODULES_KERNEL, releaseOf } from './fixtures/btf/corpus.ts';
import { coreOracle, normalize, parseExact } from './fixtures/core/oracle.ts';
import { compileFixture } from './fixtures/minimize/build.ts';

// Relocation against a kernel module's split BTF, as libbpf does it: a local type's
// candidates come from vmlinux, and from the modules only when vmlinux has none. core-oracle
// cannot take modules, so every value is checked against bpftool's own dump of the BTFs
// (`bpftool btf dump file nf_conntrack.btf --base-btf vmlinux.btf`), walked by member name.

const ROOT = join(import.meta.dirname, '..');
const MODULE = join(CORPUS, 'modules', MODULES_KERNEL, 'nf_conntrack.btf');

/** One type of bpftool's plain-text dump. */
interface Dumped {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type?: number;
  nelems?: number;
  members: { name: string; type: number; bitOffset: number }[];
  values: { name: string; value: bigint }[];
}

/** Parses `bpftool btf dump file` output (all types, by id). */
function parseDump(text: string, into: Map<number, Dumped>): void {
  let cur: Dumped | undefined;
  for (const line of text.split('\n')) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
    if (head) {
      const rest = head[4] as string;
      const num = (k: string) => {
        const m = new RegExp(`\\b${k}=(\\d+)`).exec(rest);
        return m ? Number(m[1]) : undefined;
      };
      cur = {
        id: Number(head[1]),
        kind: head[2] as string,
        name: head[3] as string,
        size: num('size'),
        type: num('type_id'),
        nelems: num('nr_elems'),
        members: [],
        values: [],
      };
      into.set(cur.id, cur);
      continue;
    }
    const member = /^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (member && cur) {
      cur.members.push({ name: member[1] as string, type: Number(member[2]), bitOffset: Number(member[3]) });
      continue;
    }
    const value = /^\t'([^']*)' val=(-?\d+)/.exec(line);
    if (value && cur) cur.values.push({ name: value[1] as string, value: BigInt(value[2] as string) });
  }
}

class DumpView {
  constructor(
    readonly types: Map<number, Dumped>,
    readonly moduleStart: number,
  ) {}

  /** libbpf's order: vmlinux's types first; the module's only if vmlinux has none of that name. */
  find(kind: string, name: string): Dumped | undefined {
    const all = [...this.types.values()].filter((t) => t.kind === kind && t.name === name);
    return all.find((t) => t.id < this.moduleStart) ?? all[0];
  }

  resolve(id: number): Dumped {
    let t = this.types.get(id) as Dumped;
    while (['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind))
      t = this.types.get(t.type as number) as Dumped;
    return t;
  }

  sizeOf(id: number): number {
    const t = this.resolve(id);
    if (t.kind === 'PTR') return 8;
    if (t.kind === 'ARRAY') return (t.nelems as number) * this.sizeOf(t.type as number);
    return t.size as number;
  }

  /** Bit offset of member `name` in struct/union `id`, looking into anonymous members. */
  member(id: number, name: string): { bitOffset: number; type: number } | undefined {
    for (const m of this.resolve(id).members) {
      if (m.name === name) return m;
      if (m.name === '(anon)') {
        const inner = this.member(m.type, name);
        if (inner) return { bitOffset: m.bitOffset + inner.bitOffset, type: inner.type };
      }
    }
    return undefined;
  }

  /** Byte offset of a C path such as `nf_conn_acct.counter[1].bytes.counter`. */
  offsetOf(path: string): number {
    const [root, ...steps] = path.split(/(?=[.[])/);
    let t = this.find('STRUCT', root as string) ?? (this.find('UNION', root as string) as Dumped);
    let id = t.id;
    let bits = 0;
    for (const step of steps) {
      if (step.startsWith('.')) {
        const m = this.member(id, step.slice(1));
        if (!m) throw new Error(`${path}: no ${step} in [${id}]`);
        bits += m.bitOffset;
        id = m.type;
      } else {
        t = this.resolve(id);
        expect(t.kind).toBe('ARRAY');
        id = t.type as number;
        bits += Number(step.slice(1, -1)) * this.sizeOf(id) * 8;
      }
    }
    return bits / 8;
  }
}

let tmp = '';
let base: Btf;
let mod: Btf;
let view: DumpView;
let nfPath = '';
let nf: BpfObject;
let baseRaw = '';

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'btfkit-core-modules-'));
  const archive = kernelArchives().find((a) => releaseOf(a) === MODULES_KERNEL) as string;
  execFileSync('tar', ['-xJf', archive, '-C', tmp]);
  baseRaw = join(tmp, `${MODULES_KERNEL}.btf`);
  base = readBtfSourceSync(baseRaw).btf;
  mod = readBtfSourceSync(MODULE, { base }).btf;
  const types = new Map<number, Dumped>();
  parseDump(
    execFileSync('bpftool', ['btf', 'dump', 'file', MODULE, '--base-btf', baseRaw]).toString(),
    types,
  );
  const moduleStart = Math.min(...types.keys());
  parseDump(
    execFileSync('bpftool', ['btf', 'dump', 'file', baseRaw], { maxBuffer: 1 << 28 }).toString(),
    types,
  );
  view = new DumpView(types, moduleStart);
  nfPath = compileFixture('nf_conntrack', tmp);
  nf = parseBpfObject(readFileSync(nfPath), nfPath);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function to(r: Relocation): bigint {
  const o = r.outcome;
  if (!('to' in o)) throw new Error(`${r.cPath}: ${JSON.stringify(o, (_k, v) => String(v))}`);
  return o.to;
}

describe(`modules: vmlinux first, then the module's split BTF (${MODULES_KERNEL} + nf_conntrack)`, () => {
  it('the module is split BTF over the kernel, as bpftool reads it', () => {
    expect(mod.startId).toBe(base.typeCount);
    expect(view.moduleStart).toBe(mod.startId);
  });

  it("nf_conntrack.bpf.c: offsets and values are those of bpftool's dump", () => {
    const res = relocateObject(nf, base, { modules: [mod], release: MODULES_KERNEL });
    expect(res.failed).toBe(false);
    const offsets = res.relocations.filter((r) => r.kind === 'byte_off');
    expect(offsets.map((r) => r.cPath)).toEqual([
      'nf_conn.status',
      'nf_conn.mark',
      'nf_conn_acct.counter[1].bytes.counter',
      'nf_conn_help.helper',
      'nf_conntrack_helper.flags',
      'nf_conntrack_helper.name[2]',
    ]);
    for (const r of offsets) {
      expect(to(r), r.cPath).toBe(BigInt(view.offsetOf(r.cPath)));
      // Which BTF answered: nf_conn is vmlinux's, the others exist only in the module.
      const root = r.cPath.split(/[.[]/)[0] as string;
      const inBase = view.find('STRUCT', root)?.id ?? Infinity;
      expect(r.targetSpec?.rootId, r.cPath).toBe(inBase);
      expect(r.targetSpec?.btf, r.cPath).toBe(inBase < mod.startId ? base : mod);
    }
    const enumval = res.relocations.find((r) => r.kind === 'enumval_value') as Relocation;
    const flags = view.find('ENUM', 'nf_ct_helper_flags') as Dumped;
    expect(flags.id).toBeGreaterThanOrEqual(mod.startId);
    expect(to(enumval)).toBe(flags.values.find((v) => v.name === 'NF_CT_HELPER_F_CONFIGURED')?.value);
  });

  it('without the module, its types are missing: poisoned, exactly as libbpf does against vmlinux alone', () => {
    const res = relocateObject(nf, base, { release: MODULES_KERNEL });
    const oracle = execFileSync(coreOracle(), [nfPath, baseRaw]).toString();
    expect(normalize(parseExact(res.relocations.flatMap(oracleLines).join('\n')))).toEqual(
      normalize(parseExact(oracle)),
    );
    const poisoned = res.relocations.filter((r) => 'poison' in r.outcome).map((r) => r.cPath);
    expect(poisoned).toContain('nf_conn_acct.counter[1].bytes.counter');
    expect(poisoned).toContain('nf_conntrack_helper.flags');
    expect(poisoned).not.toContain('nf_conn.status');
  });

  it("modtypes: a type both have resolves to vmlinux's copy; a module-only type to the module's", () => {
    const path = join(ROOT, 'test/fixtures/core/obj/modtypes.bpf.o');
    const obj = parseBpfObject(readFileSync(path), path);
    const fsBase = view.find('STRUCT', 'file_system_type') as Dumped;
    const copies = [...view.types.values()]
      .filter((t) => t.kind === 'STRUCT' && t.name === 'file_system_type')
      .sort((a, b) => a.id - b.id);
    // The module really repeats it (same layout), so "first vmlinux" is what picks one.
    expect(copies.map((t) => t.id < mod.startId)).toEqual([true, false]);
    const res = relocateObject(obj, base, { modules: [mod], release: MODULES_KERNEL });
    expect(res.failed).toBe(false);
    const [typeId, fsFlags, size, exists, nlattrSize, nlaPolicy] = res.relocations;
    expect(to(typeId as Relocation)).toBe(BigInt(fsBase.id));
    expect(to(fsFlags as Relocation)).toBe(BigInt(view.offsetOf('file_system_type.fs_flags')));
    expect(to(size as Relocation)).toBe(BigInt(fsBase.size as number));
    const l4 = view.find('STRUCT', 'nf_conntrack_l4proto') as Dumped;
    expect(l4.id).toBeGreaterThanOrEqual(mod.startId);
    expect(to(exists as Relocation)).toBe(1n);
    expect(to(nlattrSize as Relocation)).toBe(BigInt(view.offsetOf('nf_conntrack_l4proto.nlattr_size')));
    expect(to(nlaPolicy as Relocation)).toBe(BigInt(view.offsetOf('nf_conntrack_l4proto.nla_policy')));
    // Searching base and module as one BTF instead finds both copies, whose ids disagree:
    // libbpf would call that ambiguous and refuse the object.
    const merged = relocateObject(obj, mod, { release: MODULES_KERNEL });
    expect(merged.failed).toBe(true);
    expect(merged.relocations[0]?.outcome).toMatchObject({ errno: -22 });
  });

  it('btfkit relocate --json --base BASE OBJECT MODULE prints those decisions', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'packages/core/src/cli/main.ts',
        'relocate',
        '--json',
        '--base',
        baseRaw,
        nfPath,
        MODULE,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const expected = relocateObject(nf, base, { modules: [mod] }).relocations.flatMap(oracleLines);
    expect(r.stdout.trimEnd().split('\n')).toEqual(expected);
    const byteOff = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; to?: number });
    expect(byteOff.filter((l) => l.kind === 'byte_off').map((l) => l.to)).toEqual(
      [
        'nf_conn.status',
        'nf_conn.mark',
        'nf_conn_acct.counter[1].bytes.counter',
        'nf_conn_help.helper',
        'nf_conntrack_helper.flags',
        'nf_conntrack_helper.name[2]',
      ].map((p) => view.offsetOf(p)),
    );
  });
});
