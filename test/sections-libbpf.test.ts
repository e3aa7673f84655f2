import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSection, SECTION_DEFS } from '../packages/core/src/sections/table.ts';
import { compileBpf } from './fixtures/clang.ts';

// The SEC() table held to libbpf 1.1 (Debian's libbpf.a) itself: tools/sec-oracle opens an
// object and loads each program alone with every bpf(2) call answered by a stand-in, and
// prints the program type and expected attach type libbpf chose at open, and the prog_flags
// and attach_btf_id it asked the kernel for at load. Names libbpf 1.1 does not know must be
// unknown to the table limited to 1.1, and the names later releases added must be unknown to
// libbpf 1.1 too (else the `since` field is wrong).

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus/objects');

interface OracleLine {
  section: string;
  program: string;
  type: number;
  attach: number;
  load?: { type: number; attach: number; flags: number; btf_id: number };
  load_error?: string;
}

/** Attach targets that exist in any recent kernel's BTF (BTF-attached sections need one). */
const TARGETS: Record<string, string> = {
  tp_btf: 'sched_switch',
  lsm: 'file_open',
  'lsm.s': 'file_open',
  lsm_cgroup: 'socket_bind',
  iter: 'task',
  'iter.s': 'task',
  tracepoint: 'syscalls/sys_enter_openat',
  tp: 'syscalls/sys_enter_openat',
  usdt: 'libc:setjmp',
  'usdt.s': 'libc:setjmp',
};
const FUNC_TARGET = 'security_file_open';

/** Section names to ask about: every definition, bare and with a target, and near misses. */
function candidateNames(): string[] {
  const names = new Set<string>();
  for (const d of SECTION_DEFS) {
    const bare = d.sec.replace(/[+/]$/, '');
    names.add(bare);
    if (d.sec.endsWith('+')) {
      names.add(`${bare}/${TARGETS[bare] ?? FUNC_TARGET}`);
      names.add(`${bare}x/${FUNC_TARGET}`); // a longer word is not the prefix
    } else {
      names.add(`${bare}/extra`); // exact names take no target in libbpf 1.x
    }
  }
  for (const n of ['unknown', 'kprobe/', 'socket_filter', 'tc/ingress', 'tcx/egress', 'xdp/foo', 'cgroup/'])
    names.add(n);
  return [...names];
}

let dir: string;
let oracle: string;

function ask(object: string): OracleLine[] {
  const out = execFileSync(oracle, [object], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OracleLine);
}

/** What the table (as libbpf 1.1 knows it) says libbpf does with a program of this section. */
function expectSame(line: OracleLine): void {
  const d = resolveSection(line.section, '1.1');
  const where = `section ${JSON.stringify(line.section)}`;
  expect({ type: line.type, attach: line.attach }, where).toEqual({
    type: d?.progType ?? 0,
    attach: d?.expectedAttachType ?? 0,
  });
  if (!d) return;
  // freplace needs the program it replaces and struct_ops its map: libbpf refuses to load
  // them alone, so only their open-time answers can be compared.
  if (d.sec === 'freplace+' || d.sec.startsWith('struct_ops')) return;
  // A BTF-attached program with no target, or one this kernel's BTF lacks (the corpus's
  // dummy_file_read placeholders), is refused at load: EINVAL and ESRCH, as libbpf says.
  if (d.needsKernelBtf && line.load_error !== undefined) {
    expect(line.load_error, where).toBe(d.target === '' ? 'Invalid argument' : 'No such process');
    return;
  }
  expect(line.load_error, where).toBeUndefined();
  expect(line.load?.type, where).toBe(d.progType);
  expect(line.load?.flags, where).toBe(d.progFlags);
  expect((line.load?.btf_id ?? 0) !== 0, `${where}: kernel BTF id at load`).toBe(d.needsKernelBtf);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'btfkit-sections-'));
  oracle = join(dir, 'sec-oracle');
  execFileSync(
    'gcc',
    [
      '-O1',
      '-Wall',
      '-o',
      oracle,
      join(ROOT, 'tools/sec-oracle/sec-oracle.c'),
      '-l:libbpf.a',
      '-lelf',
      '-lz',
      '-ldl',
    ],
    { stdio: 'pipe' },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the SEC() table against libbpf 1.1', () => {
  it('gives libbpf’s program type, attach type, flags and kernel-BTF need for every name', () => {
    const names = candidateNames();
    const src = [
      'char LICENSE[] __attribute__((section("license"), used)) = "GPL";',
      ...names.map(
        (n, i) => `__attribute__((section(${JSON.stringify(n)}), used)) int p${i}(void *ctx) { return 0; }`,
      ),
    ].join('\n');
    writeFileSync(join(dir, 'secs.c'), src);
    const lines = ask(compileBpf(join(dir, 'secs.c'), join(dir, 'secs.bpf.o')));
    expect(lines.map((l) => l.section).sort()).toEqual([...names].sort());
    for (const line of lines) expectSame(line);
    // Every definition was recognised by libbpf 1.1 exactly when the table says it knows it.
    for (const d of SECTION_DEFS) {
      const bare = d.sec.replace(/[+/]$/, '');
      const line = lines.find((l) => l.section === bare);
      expect(line?.type !== 0, `${d.sec} (since ${d.since})`).toBe(d.since === '1.1');
    }
  });

  it('agrees with libbpf on every program of the corpus', () => {
    const objects = readdirSync(CORPUS).filter((f) => f.endsWith('.bpf.o'));
    let programs = 0;
    for (const f of objects) {
      for (const line of ask(join(CORPUS, f))) {
        expectSame(line);
        programs++;
      }
    }
    expect(programs).toBeGreaterThan(100);
  });

  it('without a version limit knows the names later releases added', () => {
    expect(resolveSection('tcx/ingress')).toMatchObject({ attach: 'tcx', target: '' });
    expect(resolveSection('tcx/ingress', '1.1')).toBeUndefined();
    expect(resolveSection('uprobe.multi/bin:f*')).toMatchObject({ prefix: 'uprobe.multi', target: 'bin:f*' });
    expect(resolveSection('kretprobe/do_exit')).toMatchObject({ typeName: 'kprobe', prefix: 'kretprobe' });
  });
});
