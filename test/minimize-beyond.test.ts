import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Btf } from '../packages/core/src/btf/btf.ts';
import { decodeBtf } from '../packages/core/src/btf/decode.ts';
import { oracleLines, relocateObject } from '../packages/core/src/core/index.ts';
import { type BpfObject, parseBpfObject } from '../packages/core/src/elf/object.ts';
import { minimizeKernelFile } from '../packages/core/src/minimize/kernel-job.ts';
import { bpftool, CORPUS, extractKernels, MODULES_KERNEL, readBtfOfObject } from './fixtures/btf/corpus.ts';
import { cliArgs, compileFixture } from './fixtures/minimize/build.ts';
import { decisions, oracleDecisions } from './fixtures/minimize/decisions.ts';

/**
 * Where bpftool 7.1.0 gives up, we succeed, and the result is still equivalent:
 *  - beyond.bpf.c: type_exists on a typedef of a pointer to a forward-declared struct (bpftool:
 *    "unsupported kind: fwd"), plus the relocation kinds the corpus lacks;
 *  - nf_conntrack.bpf.c: relocations against a kernel module's split BTF, minimized to a split
 *    BTF over a minimized base (`--base` / `--base-out`).
 * "Equivalent" is checked against libbpf (core-oracle) on the full kernel wherever libbpf can
 * take the target, and against our engine (which equals libbpf on the corpus) elsewhere.
 */

const tmp = mkdtempSync(join(tmpdir(), 'btfkit-min-beyond-'));
const kernels = extractKernels();
afterAll(() => {
  kernels.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

let beyondPath = '';
let beyond: BpfObject;
let nfPath = '';
let nf: BpfObject;
beforeAll(() => {
  beyondPath = compileFixture('beyond', tmp);
  beyond = parseBpfObject(new Uint8Array(readFileSync(beyondPath)), beyondPath);
  nfPath = compileFixture('nf_conntrack', tmp);
  nf = parseBpfObject(new Uint8Array(readFileSync(nfPath)), nfPath);
});

function engine(obj: BpfObject, target: Btf, modules?: Btf[]) {
  return decisions(relocateObject(obj, target, modules ? { modules } : {}).relocations.flatMap(oracleLines));
}

function cli(args: string[]) {
  const [cmd, argv] = cliArgs(args);
  return spawnSync(cmd, argv, { encoding: 'utf8' });
}

describe('beyond.bpf.c: kinds and cases bpftool 7.1.0 cannot minimize', () => {
  it('exercises every relocation kind the corpus lacks', () => {
    const raw = kernels.raw.get(MODULES_KERNEL) as string;
    const kinds = new Set(oracleDecisions(beyondPath, raw).map((l) => l.kind));
    for (const k of [
      'type_exists',
      'type_size',
      'target_type_id',
      'type_matches',
      'enumval_exists',
      'enumval_value',
      'field_exists',
      'byte_off',
    ])
      expect(kinds, k).toContain(k);
  });

  for (const [release, raw] of kernels.raw) {
    it(`${release}: bpftool fails, ours relocates as the full kernel does`, () => {
      const ref = spawnSync('bpftool', ['gen', 'min_core_btf', raw, join(tmp, 'bpftool.btf'), beyondPath], {
        encoding: 'utf8',
      });
      expect(ref.status).not.toBe(0);
      expect(ref.stderr).toContain('unsupported kind: fwd');

      const out = minimizeKernelFile(raw, [beyond]);
      const file = join(tmp, `beyond-${release}.btf`);
      writeFileSync(file, out.bytes);
      // A BTF bpftool itself accepts.
      expect(bpftool(['btf', 'dump', 'file', file]).toString()).toContain(
        "FWD '__key_reference_with_attributes'",
      );

      const libbpfFull = oracleDecisions(beyondPath, raw);
      expect(oracleDecisions(beyondPath, file)).toEqual(libbpfFull);
      const full = decodeBtf(readFileSync(raw), { file: raw });
      expect(engine(beyond, full)).toEqual(libbpfFull);
      expect(engine(beyond, decodeBtf(out.bytes, { file }))).toEqual(libbpfFull);
    });
  }

  it('--bpftool-compat refuses where bpftool does; the default succeeds (CLI)', () => {
    const raw = kernels.raw.get(MODULES_KERNEL) as string;
    const out = join(tmp, 'beyond-cli.btf');
    const compat = cli(['min-core-btf', '--bpftool-compat', raw, out, beyondPath]);
    expect(compat.status).toBe(1);
    expect(compat.stderr).toContain('unsupported kind: fwd');
    expect(() => readFileSync(out)).toThrow();
    const ok = cli(['min-core-btf', '-q', raw, out, beyondPath]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(oracleDecisions(beyondPath, out)).toEqual(oracleDecisions(beyondPath, raw));
  });
});

describe('tagged.bpf.c: type tags in the target (clang-built kernels: __user, __rcu)', () => {
  // The target is the .BTF of tagged-kernel.bpf.o, an ELF that core-oracle, bpftool and our
  // readers all take as a kernel BTF source.
  let kernelPath = '';
  let objPath = '';
  let obj: BpfObject;
  beforeAll(() => {
    kernelPath = compileFixture('tagged-kernel', tmp);
    objPath = compileFixture('tagged', tmp);
    obj = parseBpfObject(new Uint8Array(readFileSync(objPath)), objPath);
  });

  it('the target has the tags and the object the relocations this test is about', () => {
    const dump = bpftool(['btf', 'dump', 'file', kernelPath]).toString();
    expect(dump).toMatch(/TYPE_TAG 'user'/);
    expect(dump).toMatch(/TYPE_TAG 'rcu'/);
    const kinds = oracleDecisions(objPath, kernelPath).map((l) => l.kind);
    expect(kinds).toEqual(['type_exists', 'type_size', 'type_matches', 'byte_off', 'byte_off']);
  });

  it('bpftool fails on the tag; ours succeeds and relocates as the full target does', () => {
    const ref = spawnSync(
      'bpftool',
      ['gen', 'min_core_btf', kernelPath, join(tmp, 'tagged-bpftool.btf'), objPath],
      {
        encoding: 'utf8',
      },
    );
    expect(ref.status).not.toBe(0);
    expect(ref.stderr).toMatch(/unsupported kind: type_tag/);

    const file = join(tmp, 'tagged-min.btf');
    const r = cli(['min-core-btf', kernelPath, file, objPath]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The tags are kept, and bpftool reads the result.
    const dump = bpftool(['btf', 'dump', 'file', file]).toString();
    expect(dump).toMatch(/TYPE_TAG 'user'/);
    expect(dump).not.toContain("STRUCT 'unrelated'");

    const libbpfFull = oracleDecisions(objPath, kernelPath);
    // Every relocation resolves in the full target (none poisoned, none missing).
    expect(libbpfFull.every((l) => 'to' in l)).toBe(true);
    expect(oracleDecisions(objPath, file)).toEqual(libbpfFull);
    const full = readBtfOfObject(kernelPath);
    expect(engine(obj, decodeBtf(full, { file: kernelPath }))).toEqual(libbpfFull);
    expect(engine(obj, decodeBtf(readFileSync(file), { file }))).toEqual(libbpfFull);
  });

  it('--bpftool-compat refuses where bpftool does', () => {
    const file = join(tmp, 'tagged-compat.btf');
    const r = cli(['min-core-btf', '--bpftool-compat', kernelPath, file, objPath]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unsupported kind: type_tag/);
    expect(() => readFileSync(file)).toThrow();
  });
});

describe('nf_conntrack.bpf.c: module (split) BTF as KERNEL with --base', () => {
  const module = join(CORPUS, 'modules', MODULES_KERNEL, 'nf_conntrack.btf');

  it('split output over a minimized base: bpftool reads it, relocations equal the full base + module', () => {
    const base = kernels.raw.get(MODULES_KERNEL) as string;
    const splitOut = join(tmp, 'nf.split.btf');
    const baseOut = join(tmp, 'nf.base.btf');
    const r = cli(['min-core-btf', '-q', '--base', base, '--base-out', baseOut, module, splitOut, nfPath]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);

    // bpftool reads the pair, and the module's types sit in the split part.
    const dumpBase = bpftool(['btf', 'dump', 'file', baseOut]).toString();
    const dumpSplit = bpftool(['btf', 'dump', 'file', splitOut, '--base-btf', baseOut]).toString();
    expect(dumpBase).toContain("STRUCT 'nf_conn'");
    expect(dumpBase).not.toContain("STRUCT 'nf_conn_acct'");
    for (const t of ["STRUCT 'nf_conn_acct'", "STRUCT 'nf_conn_help'", "ENUM 'nf_ct_helper_flags'"])
      expect(dumpSplit).toContain(t);
    // Much smaller than what it came from.
    expect(readFileSync(baseOut).length).toBeLessThan(readFileSync(base).length / 100);

    // Our engine, as libbpf does with modules: vmlinux first, then the module's split BTF.
    const fullBase = decodeBtf(readFileSync(base), { file: base });
    const fullMod = decodeBtf(readFileSync(module), { file: module, base: fullBase });
    const minBase = decodeBtf(readFileSync(baseOut), { file: baseOut });
    const minMod = decodeBtf(readFileSync(splitOut), { file: splitOut, base: minBase });
    const expected = engine(nf, fullBase, [fullMod]);
    expect(engine(nf, minBase, [minMod])).toEqual(expected);
    // The relocations do resolve against module types (not just poisoned everywhere).
    expect(expected.filter((l) => 'to' in l).length).toBeGreaterThanOrEqual(6);
    expect(expected.some((l) => l.kind === 'enumval_value' && l.to === '2')).toBe(true);
  });

  it('flat output (--base alone): libbpf relocates against it as our engine does against base + module', () => {
    const base = kernels.raw.get(MODULES_KERNEL) as string;
    const flatOut = join(tmp, 'nf.flat.btf');
    const r = cli(['min-core-btf', '-q', '--base', base, module, flatOut, nfPath]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const fullBase = decodeBtf(readFileSync(base), { file: base });
    const fullMod = decodeBtf(readFileSync(module), { file: module, base: fullBase });
    // core-oracle takes one BTF (libbpf's btf_custom_path has no base), so the flat file is
    // what libbpf itself can be asked about.
    expect(oracleDecisions(nfPath, flatOut)).toEqual(engine(nf, fullBase, [fullMod]));
    expect(engine(nf, decodeBtf(readFileSync(flatOut), { file: flatOut }))).toEqual(
      engine(nf, fullBase, [fullMod]),
    );
  });
});
