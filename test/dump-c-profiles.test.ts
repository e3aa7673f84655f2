/**
 * `dump --format c --libbpf 1.7` against bpftool 7.7.0's own headers for corpus kernels
 * (test/corpus/profiles/bpftool-7.7: sorted types, the __ksym/__weak/__bpf_fastcall preamble,
 * mode(byte)/mode(word) enums), the default still bpftool 7.1.0's, and the kfunc prototypes
 * (no corpus kernel has kfunc tags) against clang and the running kernel's BTF.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Btf, Kind } from '../packages/core/src/btf/index.ts';
import { typesAreCompat } from '../packages/core/src/core/index.ts';
import { dumpC } from '../packages/core/src/dump/c.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { bpftool, CORPUS, expectSame, kernelArchives, releaseOf } from './fixtures/btf/corpus.ts';
import { compileBpf } from './fixtures/clang.ts';

const EXPECTED = join(CORPUS, 'profiles/bpftool-7.7/format-c');
const expectedFiles = () =>
  ['5.10.0-32-amd64', '6.1.0-47-cloud-arm64', '6.12.111+deb12-cloud-amd64'].map((r) =>
    join(EXPECTED, `${r}.h.xz`),
  );
const archiveOf = (release: string) => kernelArchives().find((a) => releaseOf(a) === release) as string;
/** Decompressed by xz(1), not by our reader. */
const unxz = (path: string) => execFileSync('xz', ['-dc', path], { maxBuffer: 1 << 30 });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btfkit-dumpc77-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bpftool 7.7.0 format c, byte for byte', () => {
  for (const file of expectedFiles()) {
    const release = basename(file, '.h.xz');
    it(release, () => {
      const { btf } = readBtfSourceSync(archiveOf(release));
      expectSame(dumpC(btf, { libbpf: '1.7' }), unxz(file), release);
    });
  }

  it('the profile files cover what changed: sorting, mode(byte), mode(word), the preamble', () => {
    const all = expectedFiles()
      .map((f) => unxz(f).toString('latin1'))
      .join('\n');
    expect(all).toContain('__attribute__((mode(byte)))');
    expect(all).toContain('__attribute__((mode(word)))');
    expect(all).toContain('#define __bpf_fastcall __attribute__((bpf_fastcall))');
  });

  it('the CLI prints it with --libbpf 1.7, and bpftool 7.1.0’s header by default', () => {
    const release = '5.10.0-32-amd64';
    const run = (args: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', 'packages/core/src/cli/main.ts', 'dump', ...args, archiveOf(release)],
        { cwd: join(import.meta.dirname, '..'), maxBuffer: 1 << 30 },
      );
    const modern = run(['--libbpf', '1.7', '--format', 'c']);
    expect(modern.status, modern.stderr.toString()).toBe(0);
    expectSame(modern.stdout, unxz(join(EXPECTED, `${release}.h.xz`)), release);
    const raw = join(dir, `${release}.btf`);
    writeFileSync(raw, readBtfSourceSync(archiveOf(release)).bytes);
    const classic = run(['--format', 'c']);
    expect(classic.status).toBe(0);
    expectSame(classic.stdout, bpftool(['btf', 'dump', 'file', raw, 'format', 'c']), release);
    const bad = run(['--libbpf', '1.5', '--format', 'c']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.toString()).toContain("unknown --libbpf '1.5' (1.1 or 1.7)");
  });

  it('unsorted: bpftool 7.1.0’s order with 7.7’s preamble and (empty) kfunc block', () => {
    // On 6.1 kernels 7.7 adds no enum modes and finds no kfuncs, so `format c unsorted` is
    // 7.1.0's header with the preamble 7.7's sorted header starts with, and the kfunc block.
    const release = '6.1.0-47-cloud-amd64';
    const raw = join(dir, `${release}.btf`);
    writeFileSync(raw, readBtfSourceSync(archiveOf(release)).bytes);
    const classic = bpftool(['btf', 'dump', 'file', raw, 'format', 'c']).toString('latin1');
    const sorted77 = dumpC(readBtfSourceSync(raw).btf, { libbpf: '1.7' }).toString('latin1');
    const head = '#endif\n\n';
    const preambleEnd = sorted77.indexOf('#endif\n#endif\n\n') + '#endif\n#endif\n\n'.length;
    const preamble = sorted77.slice(sorted77.indexOf(head) + head.length, preambleEnd);
    expect(preamble.startsWith('#ifndef __ksym\n')).toBe(true);
    const footer = '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop';
    const at = classic.indexOf(head) + head.length;
    const end = classic.lastIndexOf(footer);
    const expected =
      classic.slice(0, at) +
      preamble +
      classic.slice(at, end) +
      '\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n#endif\n\n' +
      classic.slice(end);
    const ours = dumpC(readBtfSourceSync(raw).btf, { libbpf: '1.7', unsorted: true }).toString('latin1');
    expect(ours === expected).toBe(true);
  });
});

describe('kfunc prototypes (bpftool >= 7.5), on the running kernel', () => {
  // The running kernel's BTF tags its kfuncs (DECL_TAG bpf_kfunc, pahole >= 1.26). clang must
  // accept the header, and each prototype, referenced from a BPF program, must give the
  // extern FUNC that libbpf's kfunc check accepts against the kernel's (compatible types,
  // as many parameters; clang records no parameter names for externs), with __bpf_fastcall
  // exactly on the kfuncs tagged bpf_fastcall.
  it('compile, and match the kernel’s FUNC prototypes', () => {
    const vmlinux = '/sys/kernel/btf/vmlinux';
    expect(existsSync(vmlinux)).toBe(true);
    const kernel = readBtfSourceSync(vmlinux).btf;
    const tagged = kfuncTags(kernel);
    expect(tagged.kfuncs.size, 'this kernel tags its kfuncs').toBeGreaterThan(0);

    const header = dumpC(kernel, { libbpf: '1.7' }).toString('latin1');
    writeFileSync(join(dir, 'vmlinux.h'), header);
    const block = header.slice(header.indexOf('/* BPF kfuncs */'));
    const lines = block.split('\n').filter((l) => l.startsWith('extern '));
    const names = [...tagged.kfuncs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(lines.length).toBe(names.length);
    lines.forEach((l, i) => {
      const name = names[i] as string;
      expect(l, name).toMatch(new RegExp(`\\b${name}\\(.*\\) __weak __ksym;$`));
      expect(l.startsWith('extern __bpf_fastcall '), name).toBe(tagged.fastcalls.has(name));
    });

    // Each kfunc referenced (its address taken: a call cannot pass more than 5 arguments),
    // so clang emits its extern FUNC from our prototype.
    const refs = names.map((name) => `\tref = (void *)${name};`);
    const src = join(dir, 'kfuncs.bpf.c');
    writeFileSync(
      src,
      `#include "vmlinux.h"\n__attribute__((section("syscall"))) int ref_all(void *ctx)\n{\n\tvoid *volatile ref;\n${refs.join('\n')}\n\treturn 0;\n}\n`,
    );
    const out = compileBpf(src, join(dir, 'kfuncs.bpf.o'), { flags: ['-I', dir] });
    const obj = parseBpfObject(new Uint8Array(readFileSync(out)), out);
    const local = obj.btf as Btf;
    for (const name of names) {
      const localFunc = local.byName(name).find((id) => local.type(id).kind === Kind.Func);
      expect(localFunc, name).toBeDefined();
      const lp = (local.type(localFunc as number) as { type: number }).type;
      const kp = (kernel.type(tagged.kfuncs.get(name) as number) as { type: number }).type;
      expect(typesAreCompat(local, lp, kernel, kp), name).toBe(1);
      const arity = (b: Btf, id: number) => {
        const t = b.type(id);
        return t.kind === Kind.FuncProto ? t.params.length : -1;
      };
      expect(arity(local, lp), name).toBe(arity(kernel, kp));
    }
  });
});

/** FUNC ids of the kernel's kfuncs by name, and which are also fastcall. */
function kfuncTags(btf: Btf): { kfuncs: Map<string, number>; fastcalls: Set<string> } {
  const kfuncs = new Map<string, number>();
  const fastcalls = new Set<string>();
  for (let id = 1; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind !== Kind.DeclTag || t.componentIdx !== -1 || btf.type(t.type).kind !== Kind.Func) continue;
    const fn = btf.name(t.type);
    if (btf.str(t.nameOff) === 'bpf_kfunc') kfuncs.set(fn, t.type);
    if (btf.str(t.nameOff) === 'bpf_fastcall') fastcalls.add(fn);
  }
  return { kfuncs, fastcalls };
}
